"""A result carries the alpha of the frame it depicts (runtime.frame_book), not of the frame just received.

With Stream Batch at 4 steps an output depicts the frame 3 frames earlier (`source_frame_id`); the alpha
plane never goes through the model, so the worker must write the depicted frame's alpha into it. A frame
the similarity filter skips repeats the last output: its alpha (and source) are that output's. Each frame
here has an alpha of its own (a moving bar over a per-frame level), so a result with any other frame's
alpha fails."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np
import pytest

from sdbridge.pipeline import CfgMode, Components, StreamConfig, StreamPipeline
from sdbridge.runtime.pixels import Layout, PixelFormat
from sdbridge.runtime.sessions import ClientInfo, FrameJob, ResultJob, SessionTable
from sdbridge.runtime.worker import Worker
from tests.runtime.fakes import FakeOut, WorkerSink

W, H = 8, 4
SKIP = 200  # a frame whose first pixel is this value is skipped by the fake's "similarity filter"


class _FourSteps:
    """Stream Batch at 4 steps, faked: an output is the image that entered 3 calls earlier; a skipped frame
    does not enter and repeats the last output."""

    latency_frames = 3

    def __init__(self) -> None:
        self._entered: deque[np.ndarray] = deque(maxlen=4)
        self._last: FakeOut | None = None

    def prepare(self, prompt: str = "", negative_prompt: str = "") -> None:
        pass

    def update(self, **kwargs: Any) -> None:
        pass

    def __call__(self, image: np.ndarray) -> FakeOut:
        if image[0, 0, 0] == SKIP and self._last is not None:
            return FakeOut(self._last.image, self._last.is_warmup, skipped=True)
        self._entered.append(np.array(image))
        self._last = FakeOut(self._entered[0], is_warmup=len(self._entered) < 4)
        return self._last


def _rgba(frame_id: int, size: tuple[int, int] = (W, H), skip: bool = False) -> np.ndarray:
    w, h = size
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = SKIP if skip else frame_id
    rgba[..., 3] = 3 * frame_id  # a level of its own...
    rgba[:, frame_id % w, 3] = 255  # ...and a bar that moves
    return rgba


def _run(build: Any, frames: list[tuple[int, bool]], size: tuple[int, int] = (W, H)) -> list[ResultJob]:
    """Send the frames one at a time through a pipelined worker; the results in order."""
    table = SessionTable(max_sessions=1)
    sink = WorkerSink()
    worker = Worker(table, build, lambda layout: size, sink.on_result, sink.on_failure)
    worker.start()
    try:
        session = table.open(b"s", ClientInfo("s"), credits=1)
        for frame_id, skip in frames:
            rgba = _rgba(frame_id, size, skip)
            table.submit_frame(session, FrameJob(frame_id, 0, Layout.packed(size[0], size[1], PixelFormat.RGBA8),
                                                 rgba.tobytes(), time.perf_counter()))
            assert sink.done.acquire(timeout=60)
    finally:
        assert worker.stop(timeout=10)
    assert not sink.failures, sink.failures
    return sink.results


def test_each_result_carries_the_alpha_of_its_source_frame() -> None:
    frames = [(i, i in (6, 7)) for i in range(1, 13)]  # frames 6 and 7 are skipped
    results = _run(lambda w, h: _FourSteps(), frames)
    sources = [r.source_frame_id for r in results]
    # frames that entered: 1-5, 8-12; an output depicts the one 3 entries back (the oldest while warming up)
    assert sources == [1, 1, 1, 1, 2, 2, 2, 3, 4, 5, 8, 9]
    assert [r.skipped for r in results] == [i in (6, 7) for i in range(1, 13)]
    for r in results:
        expected = _rgba(r.source_frame_id)
        assert np.array_equal(r.pixels[..., 3], expected[..., 3]), (r.frame_id, r.source_frame_id)
        if not r.is_warmup:  # the picture is the source frame's too: picture and alpha in step
            assert np.array_equal(r.pixels[..., :3], expected[..., :3]), r.frame_id


@pytest.mark.timeout(300)
def test_the_tiny_model_at_4_steps_gets_the_alpha_of_the_frame_it_depicts(tiny: Components) -> None:
    def build(w: int, h: int) -> StreamPipeline:
        config = StreamConfig(width=w, height=h, t_index_list=(0, 16, 32, 45), cfg_mode=CfgMode.NONE, seed=3)
        return StreamPipeline(tiny, config)

    results = _run(build, [(i, False) for i in range(1, 9)], size=(64, 64))
    assert [r.source_frame_id for r in results] == [1, 1, 1, 1, 2, 3, 4, 5]
    for r in results:
        assert np.array_equal(r.pixels[..., 3], _rgba(r.source_frame_id, (64, 64))[..., 3]), r.frame_id
