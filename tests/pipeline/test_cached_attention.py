"""Cached attention and feature injection (sdbridge.pipeline.cached_attention): off is bit-identical, on changes
the output, Stream Batch equals sequential, the bank is bounded, per session and reset by scene cuts, shared UNet
batches keep banked pipelines apart, and a UNet without attention processors is refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from sdbridge.errors import ConfigError
from sdbridge.events.rules import RulesError, parse_rules
from sdbridge.pipeline import CfgMode, StreamConfig, StreamPipeline, load_components
from sdbridge.pipeline.shared_batch import can_share, run_shared
from tests.conftest import random_frames

T_INDEX = {1: [32], 2: [16, 45], 4: [0, 16, 32, 45]}
SIZE = 64
#: the tiny UNet's self-attention layers (down_blocks.0: 1, mid_block: 1, up_blocks.1: 2)
LAYERS = {"all": 4, "down": 1, "mid": 1, "up": 2}


@pytest.fixture(scope="module")
def tiny64():
    """The tiny components in float64: feature injection's nearest-token choice (an argmax over near ties on
    random weights) is then the same for Stream Batch and sequential, whose float32 sums differ by ~1e-6."""
    return load_components("tiny", device="cpu", dtype=torch.float64)


def _pipe(components, steps: int = 2, batched: bool = True, fbs: int = 1, cfg_mode: CfgMode = CfgMode.SELF,
          **settings: object) -> StreamPipeline:
    settings.setdefault("scene_cut_threshold", 0.0)  # random frames would all be detected cuts
    cfg = StreamConfig(width=SIZE, height=SIZE, t_index_list=T_INDEX[steps], cfg_mode=cfg_mode, seed=7,
                       frame_buffer_size=fbs, use_denoising_batch=batched, **settings)  # type: ignore[arg-type]
    pipe = StreamPipeline(components, cfg)
    pipe.prepare(prompt="a watercolor castle", negative_prompt="blurry")
    return pipe


def _run(pipe: StreamPipeline, frames: list[np.ndarray]) -> list[torch.Tensor]:
    out = []
    for frame in frames:
        result = pipe(frame)
        assert result.latents is not None
        out.append(result.latents.clone())
    return out


def test_off_is_bit_identical_even_with_the_processors_installed_and_on_is_not() -> None:
    fresh = load_components("tiny", device="cpu", dtype=torch.float32)  # processors not installed yet
    frames = random_frames(5, seed=3)
    reference = _run(_pipe(fresh), frames)
    banked = _run(_pipe(fresh, attention_bank=2), frames)  # installs the processors on the shared UNet
    assert any(type(p).__name__ == "BankedSelfAttention" for p in fresh.unet.attn_processors.values())
    off = _run(_pipe(fresh, attention_bank=0, feature_injection=0.8), frames)
    assert all(torch.equal(a, b) for a, b in zip(reference, off, strict=True))
    # the comparison can fail: the bank changes a frame once an earlier frame is banked at its step
    assert torch.equal(banked[1], reference[1])  # frame 0 (output of call 1): nothing banked before it
    assert (banked[-1] - reference[-1]).abs().max() > 1e-5
    injected = _run(_pipe(fresh, attention_bank=2, feature_injection=0.8, feature_injection_threshold=0.0), frames)
    assert (injected[-1] - banked[-1]).abs().max() > 1e-5


@pytest.mark.parametrize(("steps", "fbs", "cfg_mode", "settings"), [
    (1, 1, CfgMode.SELF, {}),
    (2, 1, CfgMode.SELF, {"feature_injection": 0.6, "feature_injection_threshold": 0.0}),
    (2, 2, CfgMode.FULL, {"attention_bank_interval": 2}),
    (4, 1, CfgMode.INITIALIZE, {"attention_bank_blocks": "up", "feature_injection": 0.5,
                                "feature_injection_threshold": 0.0}),
])
def test_stream_batch_equals_sequential_with_the_bank(tiny64, steps: int, fbs: int, cfg_mode: CfgMode,
                                                       settings: dict) -> None:
    frames = random_frames(3 + steps, batch=fbs if fbs > 1 else None, seed=steps * 10 + fbs)
    on = dict(settings, attention_bank=2)
    sequential = _run(_pipe(tiny64, steps, False, fbs, cfg_mode, **on), frames)
    batched = _run(_pipe(tiny64, steps, True, fbs, cfg_mode, **on), frames)
    plain = _run(_pipe(tiny64, steps, False, fbs, cfg_mode), frames)
    lag = steps - 1
    for k in range(len(frames) - lag):
        torch.testing.assert_close(batched[k + lag], sequential[k], atol=1e-10, rtol=1e-10)
    assert (sequential[-1] - plain[-1]).abs().max() > 2e-5  # the bank acted on the compared frames


@pytest.mark.parametrize(("blocks", "bank", "interval"), [("mid", 3, 1), ("up", 1, 3)])
def test_the_bank_is_bounded_to_its_ring(tiny, blocks: str, bank: int, interval: int) -> None:
    pipe = _pipe(tiny, steps=2, attention_bank=bank, attention_bank_interval=interval, attention_bank_blocks=blocks)
    held = []
    for frame in random_frames(8, seed=4):
        pipe(frame)
        held.append(pipe.temporal.bank.held)
    assert max(held) == held[-1] == LAYERS[blocks] * 2 * bank  # full ring per layer and step, never more
    pipe.update(attention_bank=1)
    pipe(random_frames(1, seed=5)[0])
    assert pipe.temporal.bank.held <= LAYERS[blocks] * 2
    pipe.update(attention_bank=0)
    pipe(random_frames(1, seed=6)[0])
    assert pipe.temporal.bank.held == 0  # off: nothing kept


def test_a_scene_cut_empties_the_bank_and_the_next_frames_match_a_fresh_stream(tiny) -> None:
    frames = random_frames(6, seed=9)
    fresh = _run(_pipe(tiny, batched=False, attention_bank=2), frames[3:])
    for cut in ("pipeline", "temporal"):
        pipe = _pipe(tiny, batched=False, attention_bank=2)
        uncut = _run(pipe, frames[:3])
        assert pipe.temporal.bank.held > 0
        if cut == "pipeline":
            pipe.scene_cut()
        else:
            pipe.temporal.reset()  # the client's scene-cut flag
        assert pipe.temporal.bank.held == 0
        after = _run(pipe, frames[3:])
        assert all(torch.equal(a, b) for a, b in zip(after, fresh, strict=True))
    continuing = _run(_pipe(tiny, batched=False, attention_bank=2), frames)[3:]
    assert not torch.equal(continuing[0], fresh[0]) and uncut  # without the cut, frame 3 reads frames 1 and 2


def test_a_detected_cut_masks_the_banked_frames_before_it(tiny) -> None:
    uncorrelated = random_frames(5, seed=13)  # independent noise: every frame correlates ~0, below 0.9
    plain = _run(_pipe(tiny, scene_cut_threshold=0.9), uncorrelated)
    masked = _run(_pipe(tiny, scene_cut_threshold=0.9, attention_bank=2, feature_injection=0.8,
                        feature_injection_threshold=0.0), uncorrelated)
    for a, b in zip(plain, masked, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    unmasked = _run(_pipe(tiny, scene_cut_threshold=0.0, attention_bank=2), uncorrelated)
    assert (unmasked[-1] - plain[-1]).abs().max() > 1e-5  # the same frames without the cut test do use the bank


def test_pipelines_on_one_unet_keep_their_own_banks(tiny) -> None:
    a_frames, b_frames = random_frames(5, seed=21), random_frames(5, seed=22)
    alone_a = _run(_pipe(tiny, attention_bank=2, feature_injection=0.5, feature_injection_threshold=0.0), a_frames)
    alone_b = _run(_pipe(tiny, attention_bank=3), b_frames)
    a = _pipe(tiny, attention_bank=2, feature_injection=0.5, feature_injection_threshold=0.0)
    b, plain = _pipe(tiny, attention_bank=3), _pipe(tiny)
    got_a, got_b, got_plain = [], [], []
    for fa, fb in zip(a_frames, b_frames, strict=True):  # interleaved calls on the shared UNet
        got_a += _run(a, [fa])
        got_plain += _run(plain, [fb])
        got_b += _run(b, [fb])
    assert all(torch.equal(x, y) for x, y in zip(got_a, alone_a, strict=True))
    assert all(torch.equal(x, y) for x, y in zip(got_b, alone_b, strict=True))
    alone_plain = _run(_pipe(tiny), b_frames)
    assert all(torch.equal(x, y) for x, y in zip(got_plain, alone_plain, strict=True))
    assert not torch.equal(got_b[-1], alone_plain[-1])  # b's bank acted


def test_a_deep_copy_of_a_banked_unet_banks_on_its_own(tiny) -> None:
    import copy

    frames = random_frames(4, seed=23)
    original = _run(_pipe(tiny, attention_bank=2), frames)  # installs the processors on the shared UNet
    copied = dataclasses.replace(tiny, unet=copy.deepcopy(tiny.unet))  # a thread-local hub cannot be copied as is
    banked = _run(_pipe(copied, attention_bank=2), frames)
    assert all(torch.equal(x, y) for x, y in zip(banked, original, strict=True))
    assert not torch.equal(_run(_pipe(copied), frames)[-1], banked[-1])  # the bank acted on the copy


def test_an_ip_adapter_loads_on_a_banked_unet_and_the_bank_acts_again(tiny) -> None:
    import copy

    from sdbridge.pipeline.ip_adapter_tiny import tiny_ip_adapter

    frames = random_frames(4, seed=24)
    _run(_pipe(tiny, attention_bank=2), frames[:1])  # the shared UNet's self-attention is banked
    copied = dataclasses.replace(tiny, unet=copy.deepcopy(tiny.unet))
    adapter = tiny_ip_adapter(copied, seed=3)  # diffusers re-creates the self-attention processors
    banked = StreamPipeline(copied, _pipe(tiny, attention_bank=2).config, ip_adapter=adapter)
    plain = StreamPipeline(copied, _pipe(tiny).config, ip_adapter=adapter)
    for pipe in (banked, plain):
        pipe.prepare(prompt="a watercolor castle", negative_prompt="blurry")
    assert not torch.equal(_run(banked, frames)[-1], _run(plain, frames)[-1])  # banked again on the next call


def test_shared_unet_batches_keep_banked_pipelines_out(tiny) -> None:
    a, b, c = _pipe(tiny, attention_bank=2), _pipe(tiny), _pipe(tiny)
    assert can_share(b, c)  # the refusal below is the bank's, not another difference
    assert not can_share(a, b) and not can_share(b, a)
    with pytest.raises(ConfigError, match="can_share"):
        run_shared([(a, random_frames(1)[0]), (b, random_frames(1)[0])])
    b.update(attention_bank=1)
    assert not can_share(b, c)


def test_a_unet_without_attention_processors_is_refused_naming_why(tiny) -> None:
    def engine(sample, timestep, encoder_hidden_states=None, **_: object):  # an exported graph's runner
        return (torch.zeros_like(sample),)

    exported = dataclasses.replace(tiny, unet=engine)
    with pytest.raises(ConfigError, match=r"attention_bank=2 needs the eager backend.*ONNX Runtime / TensorRT.*"
                                          r"set attention_bank=0 or serve with --accel eager"):
        _pipe(exported, attention_bank=2)
    pipe = _pipe(exported)  # the same UNet without the bank runs
    with pytest.raises(ConfigError, match="attention_bank=1 needs the eager backend"):
        pipe.update(attention_bank=1)
    assert pipe.config.attention_bank == 0


def test_the_knobs_live_in_the_registry() -> None:
    with pytest.raises(ConfigError, match=r"attention_bank=9 must be an integer in \[0, 8\]"):
        StreamConfig(attention_bank=9)
    with pytest.raises(ConfigError, match="attention_bank_blocks"):
        StreamConfig(attention_bank_blocks="sideways")
    with pytest.raises(ConfigError, match=r"feature_injection=1.5 must be a number in \[0, 1\]"):
        StreamConfig(feature_injection=1.5)
    head = 'version = 1\n[prompt]\ntemplate = "a city"\n[params]\n'
    rules = parse_rules(head + "attention_bank = 3\nattention_bank_interval = 2\nattention_bank_blocks = \"up\"\n"
                               "feature_injection = 0.4\nfeature_injection_threshold = 0.8\n", "r.toml")
    assert dict(rules.params) == {"attention_bank": 3, "attention_bank_interval": 2, "attention_bank_blocks": "up",
                                  "feature_injection": 0.4, "feature_injection_threshold": 0.8}
    with pytest.raises(RulesError, match="attention_bank_interval=0"):
        parse_rules(head + "attention_bank_interval = 0\n", "r.toml")


@pytest.mark.parametrize("deliberate_sync", [False, True])
def test_banked_frames_do_not_read_device_values_on_the_host(tiny, monkeypatch, deliberate_sync: bool) -> None:
    """Bank, injection and the cut test on: no scalar read or float64 op per steady-state frame (the counter of
    test_no_host_sync.py); an injection that reads a scalar is caught, so the counter sees the bank's code."""
    from sdbridge.pipeline import cached_attention
    from tests.pipeline.test_no_host_sync import assert_steady_state_reads

    if deliberate_sync:
        inject = cached_attention._inject
        monkeypatch.setattr(cached_attention, "_inject", lambda out, *a: (float(out.sum()), inject(out, *a))[1])
    pipe = _pipe(tiny, attention_bank=2, feature_injection=0.5, feature_injection_threshold=0.5,
                 scene_cut_threshold=0.5)
    base = random_frames(1, seed=23)[0].astype(np.int16)
    frames = [np.clip(base + 2 * i, 0, 255).astype(np.uint8) for i in range(6)]  # correlated: no detected cut
    assert_steady_state_reads(pipe, frames, deliberate_sync)
