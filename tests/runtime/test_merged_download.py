"""A call's results come down inside the lane call, and a shared batch's in ONE device->host copy.

The staged (CUDA) path runs on the CPU here (pinning and events off), as in test_worker_device_pixels.py. The
device->host copies are counted where they happen: every staged download is a `Tensor.copy_(...,
non_blocking=True)` into a host staging buffer, and nothing else on these paths copies with non_blocking.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
import torch

from sdbridge.runtime import device_pixels
from sdbridge.runtime.device_pixels import DevicePixels, PendingSlice
from sdbridge.runtime.pixels import Layout, PixelFormat, RowOrder
from sdbridge.runtime.sessions import ResultJob
from tests.runtime.test_shared_unet_batch import PROMPTS, run_three_sessions

CPU = torch.device("cpu")


class _CopyCounter:
    """Counts `Tensor.copy_(..., non_blocking=True)` calls on every thread (the lane's too)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.threads: set[str] = set()  # the names of the threads that copied
        self._lock = threading.Lock()
        original = torch.Tensor.copy_

        def counting(tensor: torch.Tensor, src: torch.Tensor, non_blocking: bool = False) -> torch.Tensor:
            if non_blocking:
                with self._lock:
                    self.count += 1
                    self.threads.add(threading.current_thread().name)
            return original(tensor, src, non_blocking=non_blocking)

        monkeypatch.setattr(torch.Tensor, "copy_", counting)


def test_download_many_is_one_copy_with_each_frames_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    frames = []
    for fmt, order, (w, h) in [(PixelFormat.RGBA8, RowOrder.TOP_DOWN, (16, 8)),
                               (PixelFormat.BGRA8, RowOrder.BOTTOM_UP, (8, 8)),
                               (PixelFormat.RGB8, RowOrder.TOP_DOWN, (12, 10))]:
        rgb = torch.from_numpy(rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8))
        alpha = None if fmt is PixelFormat.RGB8 else torch.from_numpy(rng.integers(0, 256, (h, w), dtype=np.uint8))
        frames.append((rgb, alpha, Layout.packed(w, h, fmt, order)))
    pixels = DevicePixels(CPU, staged=True)
    want = [pixels.download(*frame).result() for frame in frames]  # one copy each
    copies = _CopyCounter(monkeypatch)
    np.testing.assert_array_equal(pixels.download(*frames[0]).result(), want[0])
    assert copies.count == 1  # the counter sees a single download's copy
    pending = pixels.download_many(frames)
    assert copies.count == 2  # three frames, one more copy
    assert all(isinstance(p, PendingSlice) and p.ready() for p in pending)
    for got, expected in zip((p.result() for p in pending), want, strict=True):
        assert got.flags.c_contiguous
        np.testing.assert_array_equal(got, expected)


def _run(tiny: Any, share: bool, monkeypatch: pytest.MonkeyPatch, rounds: int = 3
         ) -> tuple[dict[bytes, list[ResultJob]], list[int], _CopyCounter]:
    """Three sessions on the staged path, a frame of each waiting every round, session i's alpha 40 x i: (results
    per session, UNet batches, the device->host copies counted)."""
    staged = DevicePixels(CPU, staged=True)  # the CUDA code path, on the CPU (no pinning, no events)
    monkeypatch.setattr(device_pixels, "converter_on", lambda device: staged)
    copies = _CopyCounter(monkeypatch)
    results, batches = run_three_sessions(tiny, share, rounds, alpha=lambda i: 40 * i)
    return results, batches, copies


@pytest.mark.timeout(300)
def test_a_shared_batch_comes_down_in_one_copy(tiny: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    alone, alone_batches, alone_copies = _run(tiny, False, monkeypatch)
    assert alone_batches == [1] * 9 and alone_copies.count == 9  # one call and one copy per frame
    shared, shared_batches, shared_copies = _run(tiny, True, monkeypatch)
    assert shared_batches == [3] * 3  # three sessions in one UNet call per round
    assert shared_copies.count == 3  # and their three results in one device->host copy per call
    assert alone_copies.threads == shared_copies.threads == {"sdbridge-device"}  # inside the lane call
    for i, key in enumerate(PROMPTS):
        assert [r.frame_id for r in shared[key]] == [0, 1, 2]
        for s, a in zip(shared[key], alone[key], strict=True):
            assert s.pixels.shape == (64, 64, 4) and s.pixels.flags.c_contiguous
            assert np.abs(s.pixels.astype(int) - a.pixels.astype(int)).max() <= 2
            assert (s.pixels[..., 3] == 40 * i).all()  # each frame got its own session's alpha
