"""The backend interface: choices, adapters, and clear errors (never a silent fallback)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import torch

from sdbridge.acceleration import AccelOptions, BackendChoice, ShapeRange, accelerate, check_available
from sdbridge.acceleration.adapters import RunnerSlot, UnetAdapter, VaeAdapter
from sdbridge.acceleration.eager import eager_runners
from sdbridge.errors import BackendUnavailableError, ConfigError
from sdbridge.pipeline import Components, load_components


def test_choices_match_the_cli_values() -> None:
    assert [c.value for c in BackendChoice] == ["eager", "compile", "onnxruntime", "tensorrt"]
    assert BackendChoice.ONNXRUNTIME.builds_engines and not BackendChoice.COMPILE.builds_engines


def test_eager_returns_the_components_unchanged(tiny: Components) -> None:
    assert accelerate(tiny, AccelOptions()) is tiny


def test_adapters_reproduce_the_modules_exactly(tiny: Components) -> None:
    slot = RunnerSlot(eager_runners(tiny))
    unet, vae = UnetAdapter(slot, tiny.unet.config), VaeAdapter(slot, tiny.vae.config)  # type: ignore[union-attr]
    x, t, e = torch.randn(3, 4, 8, 8), torch.tensor([999, 500, 10]), torch.randn(3, 77, 32)
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        assert torch.equal(unet(x, t, encoder_hidden_states=e, return_dict=False)[0],
                           tiny.unet(x, t, encoder_hidden_states=e, return_dict=False)[0])  # type: ignore[misc]
        assert torch.equal(vae.encode(images).latents, tiny.vae.encode(images).latents)  # type: ignore[union-attr]
        assert torch.equal(vae.decode(x, return_dict=False)[0],
                           tiny.vae.decode(x, return_dict=False)[0])  # type: ignore[union-attr]
    assert getattr(vae.config, "scaling_factor", 1.0) == getattr(tiny.vae.config, "scaling_factor", 1.0)  # type: ignore


def test_tensorrt_here_says_why_and_how(tiny: Components) -> None:
    with pytest.raises(BackendUnavailableError, match=r"CUDA device.*--device cuda"):
        check_available(tiny, BackendChoice.TENSORRT)


def test_onnxruntime_missing_says_how_to_install(tiny: Components, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    with pytest.raises(BackendUnavailableError, match=r"pip install 'streamdiffusion-bridge\[onnx\]'"):
        check_available(tiny, BackendChoice.ONNXRUNTIME)


def test_onnxruntime_without_the_device_provider(tiny: Components, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu = dataclasses.replace(tiny, device=torch.device("cuda"))
    with pytest.raises(BackendUnavailableError, match=r"CUDAExecutionProvider.*onnxruntime-gpu"):
        check_available(fake_gpu, BackendChoice.ONNXRUNTIME)


def test_compile_without_a_compiler(tiny: Components, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BackendUnavailableError, match="C\\+\\+ compiler"):
        check_available(tiny, BackendChoice.COMPILE)


def test_identity_has_nothing_to_accelerate() -> None:
    with pytest.raises(ConfigError, match="no model to accelerate"):
        accelerate(load_components("identity"), AccelOptions(BackendChoice.ONNXRUNTIME))


def test_shape_ranges_are_validated() -> None:
    with pytest.raises(ConfigError, match="min <= opt <= max"):
        ShapeRange(batch=(4, 2, 8))
    with pytest.raises(ConfigError, match="multiple of 8"):
        ShapeRange(height=(256, 500, 768))
    r = ShapeRange(batch=(1, 2, 8), height=(384, 512, 1024), width=(384, 512, 1024))
    assert r.contains(8, 1024, 384) and not r.contains(9, 512, 512) and not r.contains(2, 256, 512)


def test_unavailable_backend_builds_nothing(tiny: Components, tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError):
        accelerate(tiny, AccelOptions(BackendChoice.TENSORRT, engines_dir=tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_compile_backend_matches_eager(tiny: Components) -> None:
    """torch.compile through the same seam; the "eager" compiler keeps this fast (inductor: see the GPU/slow test)."""
    from sdbridge.acceleration.base import Runners
    from sdbridge.acceleration.compiled import CompiledBackend
    from sdbridge.acceleration.factory import accelerate_with_handle

    backend = CompiledBackend(compiler="eager")
    runners: Runners = backend.runners(tiny, AccelOptions(BackendChoice.COMPILE))
    compiled, handle = accelerate_with_handle(tiny, AccelOptions(BackendChoice.COMPILE), build=lambda: runners)
    assert "compile (eager" in handle.description
    from sdbridge.pipeline import StreamConfig, StreamPipeline
    from tests.conftest import random_frames

    config = StreamConfig(width=64, height=64, t_index_list=(16, 32))
    a, b = StreamPipeline(tiny, config), StreamPipeline(compiled, config)
    a.prepare("x")
    b.prepare("x")
    for frame in random_frames(2, 64, seed=11):
        ra, rb = a(frame), b(frame)
    torch.testing.assert_close(rb.latents, ra.latents, atol=1e-4, rtol=1e-4)


def test_onnxruntime_tensorrt_provider_missing_here(tiny: Components, tmp_path: Path) -> None:
    options = AccelOptions(BackendChoice.ONNXRUNTIME, engines_dir=tmp_path,
                           ort_providers=("TensorrtExecutionProvider", "CUDAExecutionProvider"))
    with pytest.raises(BackendUnavailableError, match=r"TensorrtExecutionProvider.*onnxruntime-gpu"):
        accelerate(tiny, options)
    assert list(tmp_path.iterdir()) == []  # failed before exporting anything
