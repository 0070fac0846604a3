"""Model choices reach load_components: --dtype auto|..., --vae, --lora in `sdbridge serve` and [model]; what `auto`
picks on faked devices and CPU flags; `sdbridge check`, the startup log and the demo say what they will do."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import pytest
import torch

from sdbridge.commands import check, serve
from sdbridge.commands.demo import REAL_MODEL_COMMAND, model_notice
from sdbridge.config import Dtype, ModelConfig, ServerConfig, auto_dtype, parse_config, with_overrides
from sdbridge.errors import ConfigError

AMX = frozenset({"fpu", "avx512f", "amx_bf16", "amx_tile", "avx512_bf16"})
AVX512_BF16 = frozenset({"fpu", "avx512f", "avx512_bf16"})
PLAIN = frozenset({"fpu", "sse2", "avx2"})


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    return parser.parse_args(list(argv))


# ------------------------------------------------------------------------------------------------ dtype auto
@pytest.mark.parametrize(("device", "flags", "expected", "why"), [
    ("cuda", PLAIN, Dtype.FLOAT16, "CUDA"),
    ("cuda:1", frozenset(), Dtype.FLOAT16, "CUDA"),
    ("cpu", AMX, Dtype.BFLOAT16, "AMX"),
    ("cpu", AVX512_BF16, Dtype.BFLOAT16, "AVX512-BF16"),
    ("cpu", PLAIN, Dtype.FLOAT32, "without AMX or AVX512-BF16"),
    ("cpu", frozenset(), Dtype.FLOAT32, "unreadable"),
    ("mps", AMX, Dtype.FLOAT32, "mps device"),
])
def test_auto_picks_by_device_and_cpu_flags(device: str, flags: frozenset[str], expected: Dtype, why: str) -> None:
    dtype, reason = auto_dtype(device, flags)
    assert dtype is expected and why in reason


def test_auto_stays_float32_for_onnxruntime_on_a_cpu() -> None:
    assert auto_dtype("cpu", AMX, accel="onnxruntime") == (
        Dtype.FLOAT32, "ONNX Runtime on the CPU: its CPU kernels have no bfloat16 convolution")
    assert auto_dtype("cuda", AMX, accel="onnxruntime")[0] is Dtype.FLOAT16
    assert auto_dtype("cpu", AMX, accel="compile")[0] is Dtype.BFLOAT16


def test_auto_is_the_default_and_reads_this_cpus_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ModelConfig().dtype is Dtype.AUTO and ServerConfig().model.dtype is Dtype.AUTO
    monkeypatch.setattr("sdbridge.cpu_features.cpu_flags", lambda cpuinfo=None: AMX)
    assert ModelConfig().resolved_dtype()[0] is Dtype.BFLOAT16
    monkeypatch.setattr("sdbridge.cpu_features.cpu_flags", lambda cpuinfo=None: PLAIN)
    assert ModelConfig().resolved_dtype()[0] is Dtype.FLOAT32
    assert ModelConfig(device="cuda").resolved_dtype()[0] is Dtype.FLOAT16
    assert ModelConfig(dtype=Dtype.FLOAT16).resolved_dtype() == (Dtype.FLOAT16, "as configured")


# ------------------------------------------------------------------------------------------- serve flags, config
def test_serve_flags_set_dtype_vae_and_repeated_loras() -> None:
    cfg = serve.config_from_args(_args("--dtype", "auto", "--vae", "full", "--lora", "acme/style=0.6",
                                       "--lora", "/loras/detail.safetensors"))
    assert cfg.model.dtype is Dtype.AUTO and cfg.model.vae == "full"
    assert cfg.model.loras() == {"acme/style": 0.6, "/loras/detail.safetensors": 1.0}
    assert serve.config_from_args(_args("--vae", "madebyollin/taesdxl")).model.vae == "madebyollin/taesdxl"


def test_lora_flags_replace_the_config_files(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('[model]\nlora = ["acme/a=0.5"]\nvae = "full"\ndtype = "bfloat16"\n')
    assert serve.config_from_args(_args("--config", str(path))).model.loras() == {"acme/a": 0.5}
    cfg = serve.config_from_args(_args("--config", str(path), "--lora", "acme/b=2"))
    assert cfg.model.loras() == {"acme/b": 2.0} and cfg.model.vae == "full" and cfg.model.dtype is Dtype.BFLOAT16


@pytest.mark.parametrize(("argv", "message"), [
    (("--lora", "acme/style=strong"), r"--lora='acme/style=strong' is not SOURCE\[=SCALE\].*e\.g\. --lora latent"),
    (("--lora", "=0.5"), r"--lora='=0.5' is not SOURCE"),
    (("--lora", "acme/style=nan"), r"--lora='acme/style=nan'.*finite number"),
    (("--vae", "tiny"), r"--vae='tiny' is not taesd, full, an existing folder or a Hub id.*use taesd"),
])
def test_bad_flag_values_name_the_option_the_value_and_the_fix(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        serve.config_from_args(_args(*argv))


def test_bad_dtype_flag_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _args("--dtype", "float8")
    err = capsys.readouterr().err
    assert "--dtype" in err and "float8" in err and "auto" in err


@pytest.mark.parametrize(("text", "message"), [
    ('[model]\nlora = ["acme/a=x"]\n', r"model\.lora\[0\]='acme/a=x' is not SOURCE\[=SCALE\].*lora = \["),
    ('[model]\nvae = "nope"\n', r"model\.vae='nope' is not taesd, full"),
    ('[model]\ndtype = "double"\n', r"dtype='double' is not one of \['auto', 'float32'"),
    ('[model]\nlora = "acme/a"\n', r"lora='acme/a' must be a list"),
])
def test_bad_config_values_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_vae_may_be_an_existing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "my vae"
    folder.mkdir()
    assert parse_config(f'[model]\nvae = "{folder}"\n').model.vae == str(folder)


def test_serve_resolves_auto_before_the_server_exists(monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("sdbridge.cpu_features.cpu_flags", lambda cpuinfo=None: AMX)
    with caplog.at_level(logging.INFO, logger="sdbridge.commands.serve"):
        cfg = serve.resolve_auto_dtype(serve.config_from_args(_args()))
    assert cfg.model.dtype is Dtype.BFLOAT16  # what a recording's meta names, so replay loads the same dtype
    assert "dtype auto picked bfloat16 for device cpu: CPU with AMX" in caplog.text
    explicit = serve.config_from_args(_args("--dtype", "float32"))
    assert serve.resolve_auto_dtype(explicit) is explicit


# --------------------------------------------------------------------------------------- startup: load_model
def test_load_model_passes_the_choices_and_logs_what_auto_picked(monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    from sdbridge.pipeline import load_components
    from sdbridge.served_model import load_model

    seen: dict[str, Any] = {}

    def fake_load(name: str, device: str, dtype: torch.dtype, **kwargs: Any) -> Any:
        seen.update(name=name, device=device, dtype=dtype, **kwargs)
        return load_components("identity")

    monkeypatch.setattr("sdbridge.pipeline.load_components", fake_load)
    monkeypatch.setattr("sdbridge.cpu_features.cpu_flags", lambda cpuinfo=None: AVX512_BF16)
    cfg = with_overrides(ServerConfig(), model={"name": "acme/sd", "vae": "full",
                                                "lora": ("acme/l=0.25", "acme/pixel=0.5:live")})
    with caplog.at_level(logging.INFO, logger="sdbridge.served_model"):
        load_model(cfg)
    assert seen == {"name": "acme/sd", "device": "cpu", "dtype": torch.bfloat16, "vae": "full",
                    "lora": {"acme/l": 0.25}, "live_lora": {"pixel": ("acme/pixel", 0.5)}}
    assert "loading model acme/sd on cpu in bfloat16 (dtype auto: CPU with AVX512-BF16" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sdbridge.served_model"):  # as `sdbridge serve` passes it: resolved
        load_model(with_overrides(cfg, model={"dtype": Dtype.FLOAT32}))
    assert "loading model acme/sd on cpu in float32\n" in caplog.text + "\n"  # no second, wrong reason
    assert "as configured" not in caplog.text


# ------------------------------------------------------------------------------------------------ check, demo
def test_check_says_what_auto_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sdbridge.cpu_features.cpu_flags", lambda cpuinfo=None: AMX)
    found = {f.name: f.value for f in check.collect("/nonexistent-cache")}
    assert found["dtype auto (cpu)"].startswith("bfloat16: CPU with AMX")
    cuda = {f.name: f.value for f in check._auto_dtype_findings(cuda_available=True)}
    assert cuda["dtype auto (cuda)"].startswith("float16: CUDA")


@pytest.mark.parametrize("model", ["tiny", "small", "tiny-sdxl"])
def test_demo_notice_says_random_weights_give_noise(model: str) -> None:
    lines = model_notice(model)
    assert "random weights" in lines[0] and "noise by design" in lines[0]
    assert lines[1].endswith(REAL_MODEL_COMMAND) and "GPU" in lines[1]
    assert model_notice("stabilityai/sd-turbo") == []  # a real model needs no excuse


def test_demo_prints_the_notice_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sdbridge.cli import main

    assert main(["demo", "--model", "identity", "--size", "32", "--frames", "2", "--fps", "100",
                 "--out", str(tmp_path), "--no-preview"]) == 0
    first = capsys.readouterr().out.splitlines()[:2]
    assert "frames come back unchanged" in first[0] and first[1].endswith(REAL_MODEL_COMMAND)


# ------------------------------------------------------------------------------ defaults that reach the paper
@pytest.mark.parametrize("name", ["stabilityai/sd-turbo", "stabilityai/sdxl-turbo", "/models/SDXL-Turbo/"])
def test_turbo_models_default_to_one_step(name: str) -> None:
    from sdbridge.pipeline.presets import model_defaults

    defaults = model_defaults(name)
    assert defaults is not None and defaults.t_index_list == (32,) and "one step" in defaults.why
    for other in ("tiny", "stable-diffusion-v1-5/stable-diffusion-v1-5", "turbo-owner/sd-v1-5"):
        assert model_defaults(other) is None


def test_serve_gives_a_turbo_model_one_step_unless_the_config_file_says(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    general = ServerConfig()
    assert len(general.pipeline.t_index_list) == 2  # what every other model starts with
    with caplog.at_level(logging.INFO, logger="sdbridge.commands.serve"):
        cfg = serve.resolve_model_defaults(serve.config_from_args(_args("--model", "stabilityai/sd-turbo")))
    assert cfg.pipeline.t_index_list == (32,)
    assert "t_index_list [32] (not [32, 45]): stabilityai/sd-turbo is a turbo model" in caplog.text
    assert serve.resolve_model_defaults(general) is general
    chosen = tmp_path / "server.toml"
    chosen.write_text('[model]\nname = "stabilityai/sdxl-turbo"\n[pipeline]\nt_index_list = [20, 40]\n')
    cfg = serve.resolve_model_defaults(serve.config_from_args(_args("--config", str(chosen))))
    assert cfg.pipeline.t_index_list == (20, 40)
    unset = tmp_path / "unset.toml"
    unset.write_text('[model]\nname = "stabilityai/sdxl-turbo"\n[pipeline]\nseed = 5\n')
    cfg = serve.resolve_model_defaults(serve.config_from_args(_args("--config", str(unset))))
    assert (cfg.pipeline.t_index_list, cfg.pipeline.seed) == ((32,), 5)
    # the general default written out in the file is the file's choice too (the keys it set are recorded)
    same = tmp_path / "same.toml"
    same.write_text('[model]\nname = "stabilityai/sdxl-turbo"\n[pipeline]\nt_index_list = [32, 45]\n')
    cfg = serve.resolve_model_defaults(serve.config_from_args(_args("--config", str(same))))
    assert cfg.pipeline.t_index_list == (32, 45) and "pipeline.t_index_list" in cfg.file_keys


def test_the_recorded_file_keys_are_not_a_config_key() -> None:
    from sdbridge.config import parse_config
    from sdbridge.errors import ConfigError

    assert parse_config('bind = "tcp://127.0.0.1:1"\n[limits]\nmax_sessions = 2\n').file_keys == {
        "bind", "limits.max_sessions"}
    with pytest.raises(ConfigError, match="unknown key 'file_keys'"):
        parse_config('file_keys = ["pipeline.seed"]\n')


def test_cudnn_benchmark_is_switched_on_for_a_cuda_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from sdbridge.pipeline.components import tune_cuda_backends

    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)  # restored after the test
    tune_cuda_backends(torch.device("cpu"))
    assert torch.backends.cudnn.benchmark is False
    tune_cuda_backends(torch.device("cuda", 0))  # only sets the flag: no GPU needed
    assert torch.backends.cudnn.benchmark is True


def test_the_full_sdxl_vae_honours_force_upcast_in_float16() -> None:
    from sdbridge.pipeline import load_components
    from sdbridge.pipeline.upcast import UpcastVae

    comps = load_components("tiny-sdxl", device="cpu", dtype=torch.float16, vae="full")
    assert isinstance(comps.vae, UpcastVae) and comps.vae.config.force_upcast
    assert next(comps.vae.parameters()).dtype == torch.float32
    assert next(comps.unet.parameters()).dtype == torch.float16  # type: ignore[union-attr]
    for name, dtype, vae in (("tiny-sdxl", torch.float32, "full"), ("tiny-sdxl", torch.float16, "taesd"),
                             ("tiny", torch.float16, "full")):  # SD 1.5 / 2.1: float16, as diffusers runs them
        assert not isinstance(load_components(name, device="cpu", dtype=dtype, vae=vae).vae, UpcastVae)
    kl = comps.vae.vae
    with torch.no_grad():
        kl.decoder.conv_in.weight.mul_(100)  # activations past float16's 65504 (SDXL's VAE gets there on real latents)
    latents = (torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0)) * 1000).half()
    with torch.inference_mode():
        images = comps.vae.decode(latents, return_dict=False)[0]
        plain = torch.nn.Module.to(kl, dtype=torch.float16).decode(latents, return_dict=False)[0]
        torch.nn.Module.to(kl, dtype=torch.float32)
        mean = comps.vae.encode(images).latent_dist.mean
    assert images.dtype == torch.float16 and images.shape == (1, 3, 64, 64)
    assert torch.isfinite(images).all()
    assert not torch.isfinite(plain).all()  # the same VAE run in float16 overflows
    assert mean.dtype == torch.float16 and mean.shape == (1, 4, 8, 8)


def test_a_float16_sdxl_pipeline_runs_through_the_upcast_vae() -> None:
    import numpy as np

    from sdbridge.pipeline import StreamConfig, StreamPipeline, load_components
    from tests.conftest import random_frames

    comps = load_components("tiny-sdxl", device="cpu", dtype=torch.float16, vae="full")
    pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=[32], seed=2))
    pipe.prepare(prompt="a castle")
    result = pipe(random_frames(1)[0])
    assert result.image.dtype == np.uint8 and result.image.shape[-3:] == (64, 64, 3)
    assert result.latents.dtype == torch.float16 and torch.isfinite(result.latents).all()


def test_the_passthrough_model_names_no_dtype_or_vae(caplog: pytest.LogCaptureFixture) -> None:
    from sdbridge.served_model import load_model

    cfg = with_overrides(ServerConfig(), model={"name": "identity", "dtype": Dtype.BFLOAT16})
    with caplog.at_level(logging.INFO, logger="sdbridge"):
        load_model(cfg)
    assert "model identity: frames pass through unchanged" in caplog.text
    assert "model loaded" not in caplog.text  # said once, by the line above (it was repeated as "model loaded: ...")
    assert "bfloat16" not in caplog.text and "vae=" not in caplog.text
