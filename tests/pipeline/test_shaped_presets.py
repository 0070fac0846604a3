"""Real-shaped presets (sd-turbo-shaped, sdxl-turbo-shaped): published parameter counts and shapes, the real CLIP
tokenizer, and (slow) a load on the CPU that runs frames through the pipeline.

Figures compared against (where they come from):
- SD 2.1 UNet (sd-turbo): 865,910,724 parameters, "865.9M" (the UNet2DConditionModel of stabilityai/sd-turbo's
  unet/config.json; the SDXL paper, Podell et al. 2023, Table 1, rounds it to 865M).
- SDXL UNet (sdxl-turbo): 2,567,463,684, "2.567B" (sdxl-turbo's unet/config.json; "2.6B" in the same table).
- CLIP ViT-L/14 text encoder: 123,060,480 (SD 1.x's and SDXL's text_encoder); OpenCLIP-H text: 340,387,840;
  OpenCLIP-bigG text with its 1280 projection: 694,659,840.
The shape tests build on the "meta" device (no memory) and take seconds: they run in the default pytest run.
The slow test allocates the 1.2B parameters of sd-turbo-shaped in bfloat16 (2.4 GB): deselected by default
(pyproject's addopts `-m "not slow"`), run once in CI by .ci/steps/gpu_check_cpu.sh (`pytest -m slow`).
"""

from __future__ import annotations

import math
import time
from functools import cache

import numpy as np
import pytest
import torch

from sdbridge.errors import ConfigError
from sdbridge.pipeline import CfgMode, Components, StreamConfig, StreamPipeline, load_components
from sdbridge.pipeline.components import PRESET_NAMES, ModelFamily
from sdbridge.pipeline.presets import TURBO_T_INDEX_LIST, model_defaults
from sdbridge.pipeline.shaped_presets import (
    CLIP_VOCAB_SIZE,
    SHAPED_PRESETS,
    build_meta,
    clip_tokenizer,
    parameter_counts,
    shaped_spec,
)

PUBLISHED = {  # the figures of the module docstring: rounded as published, and exact
    "sd-turbo-shaped": {"unet": (865.9e6, 865_910_724), "text_encoder": (340.4e6, 340_387_840)},
    "sdxl-turbo-shaped": {"unet": (2.567e9, 2_567_463_684), "text_encoder": (123.1e6, 123_060_480),
                          "text_encoder_2": (694.7e6, 694_659_840)},
}


@cache
def _meta(name: str) -> dict[str, torch.nn.Module]:
    """The preset's modules on the meta device, built once per test session (shapes only: nothing writes them)."""
    return build_meta(name)


def _param(module: torch.nn.Module, suffix: str) -> torch.Tensor:
    """The one parameter whose name ends with `suffix` (module nesting differs between transformers versions)."""
    (found,) = [p for name, p in module.named_parameters() if name.endswith(suffix)]
    return found


def _layers(text_encoder: torch.nn.Module) -> int:
    """Transformer layers of a CLIP text encoder, counted from its parameters' names."""
    return len({name.split("layers.")[1].split(".")[0] for name, _ in text_encoder.named_parameters()
                if "layers." in name})


@pytest.mark.parametrize("name", sorted(SHAPED_PRESETS))
def test_parameter_counts_are_the_published_ones(name: str) -> None:
    counts = parameter_counts(_meta(name))
    for key, (rounded, exact) in PUBLISHED[name].items():
        assert counts[key] == exact, f"{name} {key}: {counts[key]:,} parameters, published {exact:,}"
        assert abs(counts[key] - rounded) / rounded < 1e-3
        assert shaped_spec(name)["published_parameters"][key] == exact  # the JSON states the same figure
    assert counts["taesd"] == 2_445_063  # AutoencoderTiny defaults (TAESD / TAESDXL)


def test_sd_turbo_shapes() -> None:
    m = _meta("sd-turbo-shaped")
    unet, text = m["unet"], m["text_encoder"]
    attn = unet.down_blocks[0].attentions[0]
    assert attn.proj_in.weight.shape == (320, 320)  # use_linear_projection: a Linear, not a 1x1 conv
    assert attn.transformer_blocks[0].attn2.to_k.weight.shape == (320, 1024)  # cross_attention_dim 1024
    assert [unet.down_blocks[i].attentions[0].transformer_blocks[0].attn1.heads for i in range(3)] == [5, 10, 20]
    assert text.config.hidden_size == 1024 and _layers(text) == 23
    assert _param(text, "layers.0.mlp.fc1.weight").shape == (4096, 1024)
    assert text.config.num_attention_heads == 16 and text.config.hidden_act == "gelu"


def test_sdxl_turbo_shapes() -> None:
    m = _meta("sdxl-turbo-shaped")
    unet = m["unet"]
    assert unet.config.addition_embed_type == "text_time"
    assert [len(unet.down_blocks[i].attentions[0].transformer_blocks) for i in (1, 2)] == [2, 10]
    assert unet.down_blocks[2].attentions[0].transformer_blocks[0].attn2.to_k.weight.shape == (1280, 2048)
    assert unet.add_embedding.linear_1.weight.shape == (1280, 2816)  # 1280 pooled + 6 x 256 time ids
    assert m["text_encoder"].config.hidden_size == 768 and m["text_encoder"].config.hidden_act == "quick_gelu"
    assert _param(m["text_encoder_2"], "text_projection.weight").shape == (1280, 1280)
    assert _layers(m["text_encoder_2"]) == 32 and _layers(m["text_encoder"]) == 12


def test_real_clip_tokenizer() -> None:
    tok = clip_tokenizer()
    assert len(tok) == CLIP_VOCAB_SIZE and tok.model_max_length == 77
    ids = tok("a photo of a cat")["input_ids"]
    assert ids == [49406, 320, 1125, 539, 320, 2368, 49407]  # CLIP's ids: a=320, photo=1125, of=539, cat=2368
    padded = tok("a cat", padding="max_length", max_length=77)["input_ids"]
    assert len(padded) == 77 and padded[-1] == tok.convert_tokens_to_ids("!")  # OpenCLIP pads with "!" (id 0)
    assert clip_tokenizer("<|endoftext|>")("a", padding="max_length", max_length=77)["input_ids"][-1] == 49407


def test_registered_as_presets_with_the_turbo_default() -> None:
    assert set(SHAPED_PRESETS) <= set(PRESET_NAMES)
    for name in SHAPED_PRESETS:
        defaults = model_defaults(name)
        assert defaults is not None and defaults.t_index_list == TURBO_T_INDEX_LIST
    with pytest.raises(ConfigError, match="not a shaped preset"):
        shaped_spec("sd-turbo")


def test_shaped_bench_reports_the_compute_limit(tiny: Components) -> None:
    from sdbridge.bench.shaped_bench import shaped_bench

    report = shaped_bench(tiny, 64, frames=2, steps=(1, 2))
    rows = [line for line in report.splitlines() if line.startswith("| stream batch")]
    assert [r.split("|")[1].strip() for r in rows] == ["stream batch, 1 step, cfg none",
                                                       "stream batch, 2 steps, cfg self"]
    gmac, limit_ms, share = ([float(r.split("|")[i].strip().rstrip("%")) for r in rows] for i in (-4, -3, -2))
    assert 0 < gmac[0] < gmac[1] and 0 < limit_ms[0] < limit_ms[1]  # a second UNet sample per frame costs more
    assert all(0 <= s <= 100 for s in share)  # the limit as a share of the measured frame time
    measured = [[float(cell) for cell in r.split("|")[2:-4]] for r in rows]  # frames/s, ms per frame, stage ms
    assert all(math.isfinite(fps) and fps > 0 for fps, *_ in measured), measured  # a real measurement
    assert all(math.isfinite(ms) and ms >= 0 for row in measured for ms in row[1:]), measured  # ms: rounded
    assert "| UNet, batch 1 |" in report and "of peak" in report  # the compute table follows
    with pytest.raises(ValueError, match="steps=\\[3\\]"):
        shaped_bench(tiny, 64, frames=1, steps=(3,))


@pytest.mark.slow
def test_sd_turbo_shaped_loads_and_runs_frames_on_the_cpu() -> None:
    started = time.perf_counter()
    comps = load_components("sd-turbo-shaped", device="cpu", dtype=torch.bfloat16)
    load_s = time.perf_counter() - started
    assert comps.family is ModelFamily.SD21 and comps.unet.dtype == torch.bfloat16
    assert sum(p.numel() for p in comps.unet.parameters()) == 865_910_724
    assert load_s < 240, f"loading took {load_s:.0f} s"  # seconds unloaded; generous for a shared CI machine
    pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=list(TURBO_T_INDEX_LIST),
                                              cfg_mode=CfgMode.SELF, guidance_scale=1.2, seed=1))
    pipe.prepare(prompt="a watercolor castle")
    frames = [np.random.default_rng(i).integers(0, 256, (64, 64, 3), dtype=np.uint8) for i in range(2)]
    first, second = pipe(frames[0]), pipe(frames[1])
    assert not first.is_warmup and first.image.shape == (64, 64, 3)
    assert first.image.std() > 1 and not np.array_equal(first.image, second.image)


def test_bench_pipeline_sends_a_shaped_model_to_the_shaped_bench(monkeypatch: pytest.MonkeyPatch,
                                                                 tiny: Components) -> None:
    """`sdbridge bench pipeline --model sd-turbo-shaped --steps 1` reaches shaped_bench with its steps, never the
    full configuration matrix (the load itself is replaced by the tiny components here: the slow test loads it)."""
    import argparse

    import sdbridge.pipeline
    from sdbridge.bench import pipeline_bench, shaped_bench
    from sdbridge.commands import bench_pipeline

    loaded, seen = [], {}
    monkeypatch.setattr(sdbridge.pipeline, "load_components",
                        lambda name, device, dtype: loaded.append((name, device, dtype)) or tiny)
    monkeypatch.setattr(pipeline_bench, "run_pipeline_bench", lambda *a, **k: pytest.fail("the full matrix ran"))
    monkeypatch.setattr(shaped_bench, "shaped_bench",
                        lambda comps, size, frames, steps: seen.update(size=size, frames=frames, steps=steps) or "ok")
    parser = argparse.ArgumentParser()
    bench_pipeline.add_arguments(parser)
    printed: list[str] = []
    monkeypatch.setattr("builtins.print", printed.append)
    args = parser.parse_args(["--model", "sd-turbo-shaped", "--steps", "1", "--frames", "10", "--dtype", "bfloat16"])
    assert bench_pipeline.run(args) == 0
    assert printed == ["ok"] and loaded == [("sd-turbo-shaped", "cpu", torch.bfloat16)]
    assert seen == {"size": 256, "frames": 10, "steps": (1,)}
