"""The worker converts a StreamPipeline's frames with runtime.device_pixels: the client gets the bytes of the
numpy path (to_pipeline -> pipeline -> from_pipeline), unstaged on the CPU and staged (the CUDA code, run on
the CPU here) at the client's size; resized through the staged path, within 1 of them."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sdbridge.pipeline import CfgMode, Components, StreamConfig, StreamPipeline
from sdbridge.runtime import device_pixels
from sdbridge.runtime.pixels import Layout, PixelFormat, RowOrder, from_pipeline, to_pipeline
from sdbridge.runtime.sessions import ClientInfo, FrameJob, ResultJob, SessionTable
from sdbridge.runtime.worker import Worker, WorkerFailure

SIZE = 64  # processing size


def _config() -> StreamConfig:
    return StreamConfig(width=SIZE, height=SIZE, t_index_list=(16, 32), cfg_mode=CfgMode.SELF, seed=5)


def _frames(layout: Layout, count: int) -> list[bytes]:
    rng = np.random.default_rng(9)
    return [rng.integers(0, 256, size=layout.expected_bytes, dtype=np.uint8).tobytes() for _ in range(count)]


def _through_worker(tiny: Components, layout: Layout, payloads: list[bytes]) -> tuple[list[ResultJob], list]:
    """Each frame through a worker serving one StreamPipeline session; (results in order, the pipelines built)."""
    table = SessionTable(max_sessions=1)
    results: list[ResultJob] = []
    failures: list[WorkerFailure] = []
    built: list[StreamPipeline] = []
    done = threading.Semaphore(0)

    def build(w: int, h: int) -> StreamPipeline:
        built.append(StreamPipeline(tiny, _config()))
        return built[-1]

    def finished(item: object) -> None:
        (results if isinstance(item, ResultJob) else failures).append(item)  # type: ignore[arg-type]
        done.release()

    worker = Worker(table, build, lambda _layout: (SIZE, SIZE), finished, finished)
    worker.start()
    try:
        session = table.open(b"s", ClientInfo("s"), credits=1)
        for i, payload in enumerate(payloads):
            table.submit_frame(session, FrameJob(i + 1, 0, layout, payload, time.perf_counter()))
            assert done.acquire(timeout=120)
    finally:
        assert worker.stop(timeout=10)
    assert not failures, failures
    return results, built


def _reference(tiny: Components, layout: Layout, payloads: list[bytes]) -> list[np.ndarray]:
    """The numpy path on an identical pipeline (the alpha of the frame each output depicts: latency 1)."""
    pipe = StreamPipeline(tiny, _config())
    pipe.prepare()
    packed = Layout.packed(layout.width, layout.height, layout.pixel_format, layout.row_order)
    alphas, out = [], []
    for payload in payloads:
        rgb, alpha = to_pipeline(payload, layout, (SIZE, SIZE))
        alphas.append(alpha)
        image = pipe(rgb).image
        out.append(from_pipeline(image, alphas[max(0, len(alphas) - 1 - pipe.latency_frames)], packed))
    return out


@pytest.mark.timeout(300)
@pytest.mark.parametrize("staged", [False, True], ids=["cpu", "staged"])
def test_results_are_the_numpy_paths_bytes(tiny: Components, monkeypatch: pytest.MonkeyPatch, staged: bool):
    if staged:  # the CUDA code path, on the CPU (no pinning, no events)
        monkeypatch.setattr(device_pixels, "converter_on", lambda device: device_pixels.DevicePixels(device, True))
    layout = Layout(SIZE, SIZE, SIZE * 4 + 12, PixelFormat.BGRA8, RowOrder.BOTTOM_UP)  # padded rows
    payloads = _frames(layout, 4)
    results, built = _through_worker(tiny, layout, payloads)
    assert built and all(p.image_on_device for p in built)  # the worker switched the device output on
    for got, want in zip(results, _reference(tiny, layout, payloads), strict=True):
        assert got.pixels.shape == want.shape
        np.testing.assert_array_equal(got.pixels, want)


@pytest.mark.timeout(300)
def test_resized_staged_results_are_within_one(tiny: Components, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(device_pixels, "converter_on", lambda device: device_pixels.DevicePixels(device, True))
    layout = Layout.packed(96, 40, PixelFormat.RGBA8)  # resized to 64x64 and back
    payloads = _frames(layout, 3)
    results, _ = _through_worker(tiny, layout, payloads)
    for got, want in zip(results, _reference(tiny, layout, payloads), strict=True):
        diff = np.abs(got.pixels.astype(int) - want)
        assert diff[..., :3].max() <= 1 and diff[..., 3].max() == 0  # alpha never resized here
