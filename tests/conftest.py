"""Shared pytest fixtures: tiny random-weight components, built once per session."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdbridge.pipeline import Components, load_components


@pytest.fixture(scope="session")
def tiny() -> Components:
    """SD1.5-family random-weight components (fixed weight seed)."""
    return load_components("tiny", device="cpu", dtype=torch.float32)


@pytest.fixture(scope="session")
def tiny_sdxl() -> Components:
    """SDXL-family random-weight components (fixed weight seed)."""
    return load_components("tiny-sdxl", device="cpu", dtype=torch.float32)


def random_frames(count: int, size: int = 64, seed: int = 0, batch: int | None = None) -> list[np.ndarray]:
    """`count` random uint8 RGB frames (size x size x 3), or (batch, size, size, 3) when batch is given."""
    rng = np.random.default_rng(seed)
    shape = (size, size, 3) if batch is None else (batch, size, size, 3)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(count)]
