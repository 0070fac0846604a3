"""Session table (limits, expiry, round-robin) and the worker thread with a fake pipeline."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from sdbridge.runtime.pixels import Layout, PixelFormat
from sdbridge.runtime.sessions import (
    ClientInfo,
    FrameJob,
    PipelineUpdate,
    SessionLimitError,
    SessionTable,
)
from sdbridge.runtime.worker import Worker
from tests.runtime.fakes import FakeOut, WorkerSink


class _FakePipeline:
    """Adds a per-prompt constant so tests can see which prompt produced a frame."""

    latency_frames = 0

    def __init__(self) -> None:
        self.prompt = ""
        self.calls = 0
        self.updates: list[dict[str, Any]] = []

    def prepare(self, prompt: str = "", negative_prompt: str = "") -> None:
        self.prompt = prompt

    def update(self, **kwargs: Any) -> None:
        self.updates.append(kwargs)
        if "prompt" in kwargs:
            self.prompt = kwargs["prompt"]
        if kwargs.get("fail"):
            raise ValueError("fail=True is not a parameter")

    def __call__(self, image: np.ndarray) -> FakeOut:
        self.calls += 1
        if image[0, 0, 0] == 13:
            raise RuntimeError("unlucky pixel")
        return FakeOut(np.full_like(image, len(self.prompt)))


def _job(frame_id: int, value: int = 0, w: int = 4, h: int = 2) -> FrameJob:
    pixels = np.full((h, w, 4), value, dtype=np.uint8)
    layout = Layout.packed(w, h, PixelFormat.RGBA8)
    return FrameJob(frame_id, 0, layout, pixels.tobytes(), time.perf_counter())


def test_session_limit_and_replace_same_identity() -> None:
    table = SessionTable(max_sessions=2)
    a = table.open(b"a", ClientInfo("a"), credits=2)
    table.open(b"b", ClientInfo("b"), credits=2)
    with pytest.raises(SessionLimitError, match="max_sessions=2"):
        table.open(b"c", ClientInfo("c"), credits=2)
    a2 = table.open(b"a", ClientInfo("a"), credits=2)  # a new Hello from the same identity
    assert a2.session_id != a.session_id and a.closed
    assert len(table) == 2


def test_expire_frees_only_silent_sessions() -> None:
    table = SessionTable(max_sessions=4)
    old = table.open(b"old", ClientInfo("old"), credits=1)
    new = table.open(b"new", ClientInfo("new"), credits=1)
    old.last_seen -= 10
    assert table.expire(time.monotonic(), timeout=5, busy=lambda s: s is old) == []  # owed a result
    gone = table.expire(time.monotonic(), timeout=5)
    assert gone == [old] and old.closed and not new.closed
    assert table.get(b"old") is None and table.get(b"new") is new


def test_round_robin_never_starves() -> None:
    table = SessionTable(max_sessions=4)
    sessions = [table.open(bytes([i]), ClientInfo(str(i)), credits=1) for i in range(3)]
    order = []
    for _ in range(6):
        for s in sessions:
            table.submit_frame(s, _job(1))
        chosen = table.next_with_work()
        assert chosen is not None
        chosen.slot.take()
        order.append(chosen.session_id)
    ids = [s.session_id for s in sessions]
    assert order == ids + ids


def test_worker_routes_results_to_their_session_and_applies_updates() -> None:
    table = SessionTable(max_sessions=4)
    sink = WorkerSink()
    results, failures, done = sink.results, sink.failures, sink.done
    pipelines: list[_FakePipeline] = []

    def build(w: int, h: int) -> _FakePipeline:
        pipelines.append(_FakePipeline())
        return pipelines[-1]

    worker = Worker(table, build, lambda layout: (layout.width, layout.height), sink.on_result, sink.on_failure,
                    default_prompt={"prompt": "x"})
    worker.start()
    try:
        a = table.open(b"a", ClientInfo("a"), credits=1)
        b = table.open(b"b", ClientInfo("b"), credits=1)
        table.submit_update(b, PipelineUpdate({"prompt": "bbbbb"}))
        table.submit_frame(a, _job(1))
        table.submit_frame(b, _job(1))
        assert done.acquire(timeout=5) and done.acquire(timeout=5)
        by_identity = {r.identity: r for r in results}
        assert by_identity[b"a"].pixels[0, 0, 0] == 1  # len("x")
        assert by_identity[b"b"].pixels[0, 0, 0] == 5  # len("bbbbb")
        assert by_identity[b"a"].pixels[0, 0, 3] == 0  # alpha passes through from the input
        assert len(pipelines) == 2  # one pipeline per session
        # a failing frame and a failing update become failures; the worker keeps going
        table.submit_frame(a, _job(2, value=13))
        assert done.acquire(timeout=5)
        table.submit_update(a, PipelineUpdate({"fail": True}))
        table.submit_frame(a, _job(3))
        assert done.acquire(timeout=5) and done.acquire(timeout=5)
        assert [f.frame_id for f in failures] == [2, None]
        assert results[-1].frame_id == 3 and worker.alive
    finally:
        assert worker.stop(timeout=5)


def test_prompt_transition_blends_over_frames() -> None:
    table = SessionTable(max_sessions=2)
    pipelines: list[_FakePipeline] = []
    done = threading.Semaphore(0)

    def build(w: int, h: int) -> _FakePipeline:
        pipelines.append(_FakePipeline())
        return pipelines[-1]

    worker = Worker(table, build, lambda layout: (layout.width, layout.height),
                    lambda r: done.release(), lambda f: done.release(), default_prompt={"prompt": "old"})
    worker.start()
    try:
        s = table.open(b"s", ClientInfo("s"), credits=1)
        table.submit_frame(s, _job(1))
        assert done.acquire(timeout=5)
        table.submit_update(s, PipelineUpdate({"prompt": "new"}, transition_frames=4))
        for i in range(5):
            table.submit_frame(s, _job(2 + i))
            assert done.acquire(timeout=5)
        prompts = [u["prompt"] for u in pipelines[0].updates if "prompt" in u]
        assert prompts[:3] == [
            [("old", 0.75), ("new", 0.25)], [("old", 0.5), ("new", 0.5)], [("old", 0.25), ("new", 0.75)],
        ]
        assert prompts[3] == "new" and len(prompts) == 4  # reached at the 4th frame, then left alone
        assert s.transition is None and s.prompt_values["prompt"] == "new"
    finally:
        assert worker.stop(timeout=5)


def test_source_frame_id_follows_the_frames_processed_not_the_id_arithmetic() -> None:
    table = SessionTable(max_sessions=1)
    sink = WorkerSink()
    results, done = sink.results, sink.done

    class _Lagging(_FakePipeline):
        latency_frames = 1

    worker = Worker(table, lambda w, h: _Lagging(), lambda layout: (layout.width, layout.height),
                    sink.on_result, sink.on_failure)
    worker.start()
    try:
        s = table.open(b"s", ClientInfo("s"), credits=1)
        for frame_id in (1, 5, 9):  # the client skipped ids of frames it never sent
            table.submit_frame(s, _job(frame_id))
            assert done.acquire(timeout=5)
        assert [(r.frame_id, r.source_frame_id) for r in results] == [(1, 1), (5, 1), (9, 5)]
    finally:
        assert worker.stop(timeout=5)


def test_invalid_update_before_the_first_frame_fails_one_frame_only() -> None:
    table = SessionTable(max_sessions=1)
    sink = WorkerSink()
    results, failures, done = sink.results, sink.failures, sink.done
    worker = Worker(table, lambda w, h: _FakePipeline(), lambda layout: (layout.width, layout.height),
                    sink.on_result, sink.on_failure)
    worker.start()
    try:
        s = table.open(b"s", ClientInfo("s"), credits=1)
        table.submit_update(s, PipelineUpdate({"prompt": "abc", "fail": True}))
        table.submit_frame(s, _job(1))
        assert done.acquire(timeout=5)
        assert [f.frame_id for f in failures] == [1] and "fail" in str(failures[0].error)
        table.submit_frame(s, _job(2))  # the bad value is gone, the prompt stays
        assert done.acquire(timeout=5)
        assert results[-1].frame_id == 2 and results[-1].pixels[0, 0, 0] == 3  # len("abc")
    finally:
        assert worker.stop(timeout=5)
