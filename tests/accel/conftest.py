"""Fixtures of the acceleration tests: ONNX exports made once per test session (tiny, tiny-sdxl, small)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sdbridge.pipeline import Components, load_components

pytest.importorskip("onnxruntime", reason="the [onnx] extra (onnx, onnxruntime) is not installed")
pytest.importorskip("onnx", reason="the [onnx] extra (onnx, onnxruntime) is not installed")


@pytest.fixture(scope="session")
def engines_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One engines/ folder for the whole session: every preset is exported once."""
    return tmp_path_factory.mktemp("engines")


def _ort(components: Components, engines_dir: Path) -> Components:
    from sdbridge.acceleration import AccelOptions, BackendChoice, accelerate

    return accelerate(components, AccelOptions(BackendChoice.ONNXRUNTIME, engines_dir=engines_dir, threads=2,
                                               progress=False))


@pytest.fixture(scope="session")
def tiny_ort(tiny: Components, engines_dir: Path) -> Components:
    """The session's tiny components on ONNX Runtime."""
    return _ort(tiny, engines_dir)


@pytest.fixture(scope="session")
def tiny_sdxl_ort(tiny_sdxl: Components, engines_dir: Path) -> Components:
    """The session's tiny-sdxl components on ONNX Runtime (SDXL conditioning exported)."""
    return _ort(tiny_sdxl, engines_dir)


@pytest.fixture(scope="session")
def small() -> Components:
    """The "small" preset (benchmark size)."""
    return load_components("small", device="cpu", dtype=torch.float32)


@pytest.fixture(scope="session")
def small_ort(small: Components, engines_dir: Path) -> Components:
    """The small preset on ONNX Runtime."""
    return _ort(small, engines_dir)
