"""Real folder layouts load: an AutoencoderTiny in vae/, the SD2.1 family, Hub repositories fetched one variant at a
time (a fake snapshot_download serves files from a local "repository": no network), and the fetch command named."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from sdbridge.errors import ModelNotFoundError
from sdbridge.pipeline import CfgMode, ModelFamily, StreamConfig, StreamPipeline, VaeChoice, hub, load_components
from sdbridge.pipeline.presets import LCM_SCHEDULER_CONFIG, build_preset, byte_level_tokenizer
from tests.conftest import random_frames

TAESD_ID = "madebyollin/taesd"


def _write_folder(parts: dict[str, object], folder: Path, scheduler: dict, variants: tuple[str | None, ...] = (None,)
                  ) -> Path:
    """A diffusers model folder of `parts` (weights saved once per variant: None = plain, "fp16", ...)."""
    index: dict[str, object] = {"_class_name": "StableDiffusionPipeline"}
    for key in ("unet", "vae", "text_encoder", "tokenizer"):
        for variant in variants if key != "tokenizer" else (None,):
            parts[key].save_pretrained(folder / key, variant=variant)  # type: ignore[attr-defined]
        index[key] = ["diffusers" if key in ("unet", "vae") else "transformers", type(parts[key]).__name__]
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler))
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def _sd15_parts(vae: str) -> dict[str, object]:
    parts = build_preset("tiny")
    parts["vae"] = parts["taesd"] if vae == "tiny" else parts["vae"]
    return parts


def _one_frame(comps, prompt: str = "castle"):
    pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=[16, 45], cfg_mode=CfgMode.SELF,
                                              guidance_scale=1.4))
    pipe.prepare(prompt=prompt, negative_prompt="blurry")
    return [pipe(f) for f in random_frames(2)][-1]


@pytest.fixture
def kl_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AutoencoderKL.from_pretrained call (the full VAE) is recorded."""
    calls: list[str] = []
    original = AutoencoderKL.from_pretrained.__func__  # type: ignore[attr-defined]

    def spy(cls, *args, **kwargs):
        calls.append(str(args[0]) if args else "?")
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(AutoencoderKL, "from_pretrained", classmethod(spy))
    return calls


# ---------------------------------------------------------------------------------------------- autoencoder class
@pytest.mark.parametrize("vae", [VaeChoice.TAESD, VaeChoice.FULL])
def test_folder_whose_vae_is_an_autoencoder_tiny_loads(tmp_path: Path, vae: VaeChoice, kl_loads: list[str]) -> None:
    folder = _write_folder(_sd15_parts("tiny"), tmp_path / "model", LCM_SCHEDULER_CONFIG)
    loaded = load_components(str(folder), vae=vae, local_files_only=True)
    assert isinstance(loaded.vae, AutoencoderTiny) and loaded.vae_choice is VaeChoice.TAESD
    assert kl_loads == []
    built = load_components("tiny", vae=VaeChoice.TAESD)  # the same weights as the preset's TAESD
    torch.testing.assert_close(_one_frame(loaded).latents, _one_frame(built).latents)


def test_vae_class_comes_from_model_index_when_vae_config_has_none(tmp_path: Path) -> None:
    folder = _write_folder(_sd15_parts("tiny"), tmp_path / "model", LCM_SCHEDULER_CONFIG)
    config_file = folder / "vae" / "config.json"
    config = json.loads(config_file.read_text())
    del config["_class_name"]
    config_file.write_text(json.dumps(config))
    loaded = load_components(str(folder), vae=VaeChoice.FULL, local_files_only=True)
    assert isinstance(loaded.vae, AutoencoderTiny)


def test_taesd_choice_never_loads_the_full_vae(tmp_path: Path, kl_loads: list[str]) -> None:
    parts = _sd15_parts("kl")
    folder = _write_folder(parts, tmp_path / "model", LCM_SCHEDULER_CONFIG)
    parts["taesd"].save_pretrained(tmp_path / "taesd")  # type: ignore[attr-defined]
    loaded = load_components(str(folder), vae=str(tmp_path / "taesd"), local_files_only=True)
    assert isinstance(loaded.vae, AutoencoderTiny) and loaded.vae_choice is VaeChoice.TAESD
    assert kl_loads == []
    full = load_components(str(folder), vae="full", local_files_only=True)  # the spy does see a full VAE load
    assert isinstance(full.vae, AutoencoderKL) and full.vae_choice is VaeChoice.FULL and len(kl_loads) == 1


def test_vae_source_may_be_a_full_autoencoder(tmp_path: Path) -> None:
    parts = _sd15_parts("tiny")
    folder = _write_folder(parts, tmp_path / "model", LCM_SCHEDULER_CONFIG)
    build_preset("tiny")["vae"].save_pretrained(tmp_path / "kl")  # type: ignore[attr-defined]
    loaded = load_components(str(folder), vae=str(tmp_path / "kl"), local_files_only=True)
    assert isinstance(loaded.vae, AutoencoderKL) and loaded.vae_choice is VaeChoice.FULL


def test_an_unknown_autoencoder_class_is_named(tmp_path: Path) -> None:
    folder = _write_folder(_sd15_parts("tiny"), tmp_path / "model", LCM_SCHEDULER_CONFIG)
    config_file = folder / "vae" / "config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "_class_name": "AutoencoderOobleck"}))
    with pytest.raises(ModelNotFoundError, match=r"holds a AutoencoderOobleck.*AutoencoderTiny.*--vae taesd"):
        load_components(str(folder), vae=VaeChoice.FULL, local_files_only=True)


# ----------------------------------------------------------------------------------------------- SD2.1 family
def _sd21_parts() -> dict[str, object]:
    """SD2.1 layout at toy width: cross-attention 1024, linear projection, OpenCLIP-style text encoder (gelu,
    16 heads, hidden 1024, projection 512), v-prediction scheduler; vae/ holds an AutoencoderTiny."""
    tokenizer = byte_level_tokenizer()
    vocab = len(tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        unet = UNet2DConditionModel(
            sample_size=32, in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
            cross_attention_dim=1024, attention_head_dim=(2, 4), use_linear_projection=True, upcast_attention=True,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
        text = CLIPTextModel(CLIPTextConfig(
            vocab_size=vocab, hidden_size=1024, intermediate_size=128, num_hidden_layers=2, num_attention_heads=16,
            hidden_act="gelu", projection_dim=512, max_position_embeddings=77, bos_token_id=vocab - 2,
            eos_token_id=vocab - 1, pad_token_id=vocab - 1))
    return {"unet": unet, "text_encoder": text, "tokenizer": tokenizer, "vae": build_preset("tiny")["taesd"]}


def test_sd21_family_folder_loads_and_runs_a_frame(tmp_path: Path) -> None:
    scheduler = {"_class_name": "EulerDiscreteScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085,
                 "beta_end": 0.012, "beta_schedule": "scaled_linear", "prediction_type": "v_prediction"}
    folder = _write_folder(_sd21_parts(), tmp_path / "sd21", scheduler)
    comps = load_components(str(folder), local_files_only=True)
    assert comps.family is ModelFamily.SD21
    assert comps.schedule.prediction_type.value == "v_prediction"
    assert comps.unet.config.use_linear_projection  # type: ignore[union-attr]
    pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=[16, 45]))
    pipe.prepare(prompt="a castle", negative_prompt="")
    results = [pipe(frame) for frame in random_frames(2)]
    assert results[-1].image.shape == (64, 64, 3) and not results[-1].is_warmup
    assert torch.isfinite(results[-1].latents).all()


# ------------------------------------------------------------------------------------- Hub: one variant, no network
class FakeHub:
    """Stands in for huggingface_hub.snapshot_download: serves files of local "repositories" into a snapshot
    folder with huggingface_hub's own pattern filter, and records every request."""

    def __init__(self, root: Path, repos: dict[str, Path]) -> None:
        self.root, self.repos = root, repos
        self.requests: list[tuple[str, list[str], list[str]]] = []

    def __call__(self, repo_id: str, *, allow_patterns=None, ignore_patterns=None, local_files_only=False,
                 **_: object) -> str:
        from huggingface_hub.utils import filter_repo_objects

        self.requests.append((repo_id, list(allow_patterns or []), list(ignore_patterns or [])))
        source = self.repos[repo_id]
        snapshot = self.root / repo_id.replace("/", "--")
        files = [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]
        for name in filter_repo_objects(files, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns):
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, snapshot / name)
        snapshot.mkdir(parents=True, exist_ok=True)
        return str(snapshot)

    def fetched(self, repo_id: str) -> set[str]:
        snapshot = self.root / repo_id.replace("/", "--")
        return {p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*.safetensors")}


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    parts = _sd15_parts("kl")
    repo = _write_folder(parts, tmp_path / "remote" / "sd", LCM_SCHEDULER_CONFIG, variants=(None, "fp16"))
    shutil.copyfile(repo / "unet" / "diffusion_pytorch_model.safetensors",
                    repo / "unet" / "diffusion_pytorch_model.non_ema.safetensors")
    (repo / "v1-5-pruned-emaonly.safetensors").write_bytes(b"a single-file checkpoint nobody needs")
    taesd = tmp_path / "remote" / "taesd"
    parts["taesd"].save_pretrained(taesd)  # type: ignore[attr-defined]
    (taesd / "taesd_decoder.safetensors").write_bytes(b"original-format weights")
    fake = FakeHub(tmp_path / "cache", {"acme/sd": repo, TAESD_ID: taesd})
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    yield fake


def test_float16_fetches_only_the_fp16_weights_of_what_loads(fake_hub: FakeHub) -> None:
    comps = load_components("acme/sd", dtype=torch.float16)
    assert fake_hub.fetched("acme/sd") == {"unet/diffusion_pytorch_model.fp16.safetensors",
                                           "text_encoder/model.fp16.safetensors"}  # no vae/: TAESD is used
    assert fake_hub.fetched(TAESD_ID) == {"diffusion_pytorch_model.safetensors"}
    assert comps.unet.dtype == torch.float16 and isinstance(comps.vae, AutoencoderTiny)  # type: ignore[union-attr]


def test_float32_fetches_only_the_plain_weights(fake_hub: FakeHub) -> None:
    comps = load_components("acme/sd", dtype=torch.float32, vae=VaeChoice.FULL)
    assert fake_hub.fetched("acme/sd") == {"unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors",
                                           "vae/diffusion_pytorch_model.safetensors"}
    assert TAESD_ID not in {r[0] for r in fake_hub.requests}
    assert isinstance(comps.vae, AutoencoderKL)


def test_a_component_without_fp16_weights_falls_back_to_the_plain_ones(fake_hub: FakeHub) -> None:
    (fake_hub.repos["acme/sd"] / "text_encoder" / "model.fp16.safetensors").unlink()
    comps = load_components("acme/sd", dtype=torch.float16)
    assert fake_hub.fetched("acme/sd") == {"unet/diffusion_pytorch_model.fp16.safetensors",
                                           "text_encoder/model.safetensors"}
    assert comps.text_encoder.dtype == torch.float16  # type: ignore[union-attr]


def test_patterns_name_one_variant() -> None:
    assert hub.model_patterns(["unet"], "fp16") == hub.FilePatterns(("*.json", "*.txt", "unet/*.fp16*.safetensors"))
    assert hub.model_patterns(["unet", "vae"], None) == hub.FilePatterns(
        ("*.json", "*.txt", "unet/*.safetensors", "vae/*.safetensors"), ("unet/*.*.safetensors", "vae/*.*.safetensors"))
    assert hub.variant_for("float16") == "fp16"
    assert hub.variant_for("bfloat16") is None and hub.variant_for("float32") is None


def test_missing_weights_in_the_cache_name_the_fetch_command(fake_hub: FakeHub) -> None:
    (fake_hub.repos["acme/sd"] / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    (fake_hub.repos["acme/sd"] / "unet" / "diffusion_pytorch_model.fp16.safetensors").unlink()
    with pytest.raises(ModelNotFoundError, match=r"lacks the weights of unet.*download acme/sd --include"):
        load_components("acme/sd", dtype=torch.float32)


@pytest.mark.parametrize(("has_hf_cli", "expected"), [
    (True, "hf download acme/sd --include '*.json' --include 'unet/*.safetensors' --exclude 'unet/*.*.safetensors'"),
    (False, "huggingface-cli download acme/sd --include '*.json' 'unet/*.safetensors' "
            "--exclude 'unet/*.*.safetensors'"),
])
def test_fetch_command_matches_the_installed_huggingface_hub(monkeypatch: pytest.MonkeyPatch, has_hf_cli: bool,
                                                             expected: str) -> None:
    real_find_spec = hub.importlib.util.find_spec
    monkeypatch.setattr(hub.importlib.util, "find_spec",
                        lambda name: (real_find_spec("json") if has_hf_cli else None)
                        if name == "huggingface_hub.cli.hf" else real_find_spec(name))
    patterns = hub.FilePatterns(("*.json",)) + hub.weight_patterns("unet", None)
    assert hub.fetch_command("acme/sd", patterns) == expected


def test_installed_huggingface_hub_gets_its_own_command() -> None:
    import importlib.util

    has_hf = importlib.util.find_spec("huggingface_hub.cli.hf") is not None
    assert hub.fetch_command("a/b", hub.FilePatterns(("*.json",))).startswith("hf " if has_hf else "huggingface-cli ")


# --------------------------------------------------------------------------------------------------- progress
def test_loading_logs_each_component_and_the_total_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _write_folder(_sd15_parts("kl"), tmp_path / "model", LCM_SCHEDULER_CONFIG)
    with caplog.at_level(logging.INFO, logger="sdbridge.pipeline.components"):
        load_components(str(folder), vae=VaeChoice.FULL, local_files_only=True)
    text = caplog.text
    for part in ("unet (UNet2DConditionModel)", "text_encoder (CLIPTextModel)", "vae (AutoencoderKL)"):
        assert f"loading {part}" in text and f"loaded {part} in " in text
    assert f"model {folder} loaded in " in text
