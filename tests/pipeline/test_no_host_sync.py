"""No host synchronisation and no float64 op per steady-state frame, in the pipeline and in the server's worker.

Frames run under a TorchDispatchMode that counts scalar reads (aten._local_scalar_dense / aten.item: what
`.item()`, `float(t)` and `bool(t)` dispatch) and every op with a float64 input or output, in every thread the
test starts (the worker's threads included), with torch.cuda.synchronize, torch.cuda.Stream.synchronize and
torch.cuda.Event.synchronize patched to count. There is no GPU here: the CUDA event path of the stage clock
runs with fake events that refuse to be read before they complete, as CUDA's do. Warm-up frames (the first
ones, which build and prepare the pipeline and fill the stream batch) are not counted; every frame after them
is. Each deliberately syncing variant shows the counters would see a sync.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

import sdbridge.pipeline.similarity as similarity_module
import sdbridge.pipeline.stream as stream_module
from sdbridge.pipeline import Components, StreamConfig, StreamPipeline
from sdbridge.pipeline.timing import FrameTimer, StageClock
from sdbridge.runtime.pixels import Layout, PixelFormat
from sdbridge.runtime.sessions import ClientInfo, FrameJob, ResultJob, SessionTable
from sdbridge.runtime.worker import Worker
from tests.conftest import random_frames

_SCALAR_READS = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.item.default}
_SYNCS = ("torch.cuda.synchronize", "Stream.synchronize", "Event.synchronize")


class _Counts:
    """Counters shared by the threads of a test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)


class _SyncCounter(TorchDispatchMode):
    """Counts every op, the scalar reads and the ops touching float64 (inputs or outputs)."""

    def __init__(self, counts: _Counts) -> None:
        super().__init__()
        self.counts = counts

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.counts.add("ops")
        if func in _SCALAR_READS:
            self.counts.add("scalar reads")
        leaves = pytree.tree_leaves((args, kwargs, out))
        if any(isinstance(t, torch.Tensor) and t.dtype == torch.float64 for t in leaves):
            self.counts.add("float64 ops")
            self.counts.add(f"float64 {func}")  # which op, for the failure message
        return out


def assert_steady_state_reads(pipe, frames, deliberate_sync: bool, before_frame=None, steady_from: int = 3) -> None:
    """Run `frames` through `pipe` under the counter (`before_frame(i)` first, outside it) and check the frames from
    `steady_from` on: no float64 op, and a scalar read exactly when the test planted one (`deliberate_sync`)."""
    counts = _Counts()
    before: Counter[str] = Counter()
    for i, frame in enumerate(frames):
        if before_frame is not None:
            before_frame(i)
        if i == steady_from:
            before = counts.snapshot()
        with _SyncCounter(counts):
            pipe(frame)
    after = counts.snapshot()
    reads = after["scalar reads"] - before["scalar reads"]
    assert after["ops"] > before["ops"] and after["float64 ops"] == before["float64 ops"]
    assert (reads > 0) == deliberate_sync


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Counts]:
    """Counters live in this thread and in every thread started meanwhile; CUDA's synchronize calls count."""
    shared = _Counts()
    for owner, name, key in ((torch.cuda, "synchronize", _SYNCS[0]), (torch.cuda.Stream, "synchronize", _SYNCS[1]),
                             (torch.cuda.Event, "synchronize", _SYNCS[2])):
        monkeypatch.setattr(owner, name, lambda *args, _key=key, **kwargs: shared.add(_key))
    run = threading.Thread.run

    def counted_run(thread: threading.Thread) -> None:
        with _SyncCounter(shared):
            run(thread)

    monkeypatch.setattr(threading.Thread, "run", counted_run)
    with _SyncCounter(shared):
        yield shared


class _FakeGpu:
    """Completion of fake CUDA events: an event completes once the test lets the 'GPU' reach it."""

    def __init__(self) -> None:
        self.recorded = 0
        self.reached = 0

    def finish_all(self) -> None:
        self.reached = self.recorded


class _FakeEvent:
    """torch.cuda.Event(enable_timing=True) as the stage clock uses it; 1 ms of 'GPU time' per record."""

    gpu = _FakeGpu()
    counts: _Counts | None = None

    def record(self) -> None:
        self.gpu.recorded += 1
        self.at = self.gpu.recorded

    def query(self) -> bool:
        return self.at <= self.gpu.reached

    def elapsed_time(self, end_event: _FakeEvent) -> float:
        if not (self.query() and end_event.query()):  # CUDA refuses this (cudaErrorNotReady): never wait
            raise RuntimeError("Both events must be completed before calculating elapsed time.")
        return float(end_event.at - self.at)

    def synchronize(self) -> None:
        assert self.counts is not None
        self.counts.add(_SYNCS[2])
        self.gpu.reached = max(self.gpu.reached, self.at)


def _event_clock(monkeypatch: pytest.MonkeyPatch, counts: _Counts | None = None) -> _FakeGpu:
    """Pipelines built from now on time their stages with fake CUDA events; the fake GPU completes them."""
    gpu = _FakeGpu()
    event = type("_Event", (_FakeEvent,), {"gpu": gpu, "counts": counts})
    monkeypatch.setattr(stream_module, "StageClock", functools.partial(StageClock, new_event=event))
    return gpu


# ---------------------------------------------------------------- deliberately syncing variants
class _SyncingTimer(FrameTimer):
    def mark(self, stage: str) -> None:
        torch.cuda.synchronize()  # what the old per-stage timer did on CUDA
        super().mark(stage)


class _SyncingClock(StageClock):
    def start(self) -> FrameTimer:
        return _SyncingTimer(None)


class _WaitingClock(StageClock):
    """Waits for each frame's events before reading them (event.synchronize): the naive event timer."""

    def finish(self, timer: FrameTimer, frame_index: int) -> tuple[dict[str, float], int]:
        for event in timer.events or []:
            event.synchronize()  # type: ignore[attr-defined]
        return super().finish(timer, frame_index)


def _float_of_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(torch.nn.functional.cosine_similarity(torch.from_numpy(a), torch.from_numpy(b), dim=0))


def _float64_thumbnail(pixels: np.ndarray) -> np.ndarray:
    return torch.from_numpy(similarity_module.thumbnail(pixels)).double().float().numpy()


def _apply_variant(variant: str, monkeypatch: pytest.MonkeyPatch, counts: _Counts) -> str:
    """Patch in the deliberate sync `variant`; returns the counter that must see it."""
    if variant == "stage timer calls torch.cuda.synchronize":
        monkeypatch.setattr(stream_module, "StageClock", _SyncingClock)
        return _SYNCS[0]
    if variant == "stage timer waits on its events":
        gpu = _FakeGpu()
        event = type("_Event", (_FakeEvent,), {"gpu": gpu, "counts": counts})
        monkeypatch.setattr(stream_module, "StageClock", functools.partial(_WaitingClock, new_event=event))
        return _SYNCS[2]
    if variant == "similarity reads float(tensor)":
        monkeypatch.setattr(similarity_module, "cosine", _float_of_cosine)
        return "scalar reads"
    assert variant == "thumbnail goes through float64"
    monkeypatch.setattr(stream_module, "thumbnail", _float64_thumbnail)
    return "float64 ops"


def _frames() -> list[np.ndarray]:
    """Changing and repeated frames, so the counted frames are processed and skipped."""
    changing = random_frames(6, seed=11)
    return [changing[i // 3] for i in range(18)]  # each frame three times: processed, then skipped (max_skip 1)


def _syncs(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after if k != "ops" and after[k] != before[k]}


def _run_pipeline(tiny: Components, counts: _Counts, tensor_input: bool, gpu: _FakeGpu | None = None,
                  warmup: int = 3) -> tuple[dict[str, int], int, list[bool]]:
    """(syncs and float64 ops, ops, skipped flags) over the frames after `warmup`."""
    pipe = StreamPipeline(tiny, StreamConfig(width=64, height=64, t_index_list=[32, 45], similarity_filter=True,
                                             max_skip_frames=1))
    pipe.prepare(prompt="castle")
    skipped: list[bool] = []
    before = counts.snapshot()
    for i, frame in enumerate(_frames()):
        if i == warmup:
            before = counts.snapshot()
        image = torch.from_numpy(frame).permute(2, 0, 1).float() / 255 if tensor_input else frame
        skipped.append(pipe(image).skipped)
        if gpu is not None:
            gpu.finish_all()  # the 'GPU' catches up between frames (no wait)
    after = counts.snapshot()
    return _syncs(before, after), after["ops"] - before["ops"], skipped[warmup:]


@pytest.mark.parametrize("clock", ["host", "cuda events"])
@pytest.mark.parametrize("tensor_input", [False, True], ids=["host pixels", "tensor input"])
def test_pipeline_frames_do_not_sync(tiny, counts, monkeypatch, clock, tensor_input):
    gpu = _event_clock(monkeypatch, counts) if clock == "cuda events" else None
    syncs, ops, skipped = _run_pipeline(tiny, counts, tensor_input, gpu)
    assert ops > 0, "the counter must have seen the frames' ops"
    assert any(skipped) and not all(skipped), "both skipped and processed frames must be counted"
    assert syncs == {}


@pytest.mark.parametrize("variant", ["stage timer calls torch.cuda.synchronize", "stage timer waits on its events",
                                     "similarity reads float(tensor)", "thumbnail goes through float64"])
def test_the_counters_see_a_deliberate_sync(tiny, counts, monkeypatch, variant):
    must_see = _apply_variant(variant, monkeypatch, counts)
    syncs, _, _ = _run_pipeline(tiny, counts, tensor_input=False)
    assert syncs.get(must_see, 0) > 0, syncs


def test_cuda_stage_timings_arrive_a_frame_late_without_waiting(tiny, monkeypatch):
    gpu = _event_clock(monkeypatch)
    pipe = StreamPipeline(tiny, StreamConfig(width=64, height=64, t_index_list=[32, 45]))
    pipe.prepare(prompt="castle")
    frames = random_frames(4, seed=5)
    stages = {"preprocess", "vae_encode", "unet", "vae_decode", "postprocess", "total"}
    first = pipe(frames[0])
    assert first.timings_frame == 0 and set(first.timings) == stages
    assert all(np.isnan(v) for v in first.timings.values())  # nothing completed yet
    gpu.finish_all()
    second = pipe(frames[1])
    assert second.frame_index == 2 and second.timings_frame == 1  # the first frame's, read at the second
    assert second.timings == {**dict.fromkeys(stages - {"total"}, 0.001), "total": 0.006}  # 1 ms per fake event
    third = pipe(frames[2])  # the 'GPU' has not reached the second frame's events: nothing new is read
    assert third.timings_frame == 1
    gpu.finish_all()
    fourth = pipe(frames[3])
    assert fourth.timings_frame == 3  # the newest completed frame (frames 2 and 3 were both read)


def test_host_clock_times_the_frame_itself(tiny):
    pipe = StreamPipeline(tiny, StreamConfig(width=64, height=64, t_index_list=[32, 45]))
    pipe.prepare(prompt="castle")
    results = [pipe(f) for f in random_frames(2, seed=5)]
    assert [r.timings_frame for r in results] == [1, 2]
    assert all(r.timings["total"] >= r.timings["unet"] > 0 for r in results)


# ---------------------------------------------------------------- the server's worker
def _job(frame_id: int, frame: np.ndarray) -> FrameJob:
    rgba = np.concatenate([frame, np.full((*frame.shape[:2], 1), 255, np.uint8)], axis=2)
    layout = Layout.packed(frame.shape[1], frame.shape[0], PixelFormat.RGBA8)
    return FrameJob(frame_id, 0, layout, rgba.tobytes(), time.perf_counter())


def _run_worker(tiny: Components, counts: _Counts, warmup: int = 3) -> tuple[dict[str, int], int, list[bool]]:
    """A session's frames through a started Worker (its own threads), one at a time; counts after `warmup`."""
    table = SessionTable(max_sessions=2)
    results: list[ResultJob] = []
    done = threading.Semaphore(0)

    def build(width: int, height: int) -> StreamPipeline:
        return StreamPipeline(tiny, StreamConfig(width=width, height=height, t_index_list=[32, 45],
                                                 similarity_filter=True, max_skip_frames=1))

    def on_result(result: ResultJob) -> None:
        results.append(result)
        done.release()

    def on_failure(failure: object) -> None:
        raise AssertionError(f"the worker failed a frame: {failure}")

    worker = Worker(table, build, lambda layout: (layout.width, layout.height), on_result, on_failure,
                    default_prompt={"prompt": "castle"})
    worker.start()
    before = counts.snapshot()
    try:
        session = table.open(b"s", ClientInfo("s"), credits=1)
        for i, frame in enumerate(_frames()):
            if i == warmup:
                before = counts.snapshot()
            table.submit_frame(session, _job(i + 1, frame))
            assert done.acquire(timeout=60), f"no result for frame {i + 1} within 60 s"
    finally:
        assert worker.stop(timeout=30)
    after = counts.snapshot()
    return _syncs(before, after), after["ops"] - before["ops"], [r.skipped for r in results[warmup:]]


@pytest.mark.parametrize("variant", ["as built", "stage timer calls torch.cuda.synchronize"])
def test_worker_frames_do_not_sync(tiny, counts, monkeypatch, variant):
    must_see = _apply_variant(variant, monkeypatch, counts) if variant != "as built" else None
    syncs, ops, skipped = _run_worker(tiny, counts)
    assert ops > 0, "the counter must have seen the worker threads' ops"
    assert any(skipped) and not all(skipped), "both skipped and processed frames must be counted"
    if must_see is None:
        assert syncs == {}
    else:
        assert syncs.get(must_see, 0) > 0, syncs

