"""The device lane (runtime.device_lane): calls run in submission order on its own thread and come back in
that order; on CUDA each runs on the lane's own stream (created once), after the default stream's work, and
is finished only once the event recorded after it has completed. No GPU here: torch.cuda's Stream, Event,
stream context and default_stream are replaced by fakes that record what the lane asked of them."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from sdbridge.runtime.device_lane import DeviceLane, InlineLane, WarmedFactory, lane_for
from tests.conftest import wait_for


class _FakeCuda:
    """Stands in for torch.cuda: streams, events (completed by the test) and the current-stream context."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []
        self.current: Any = "default"
        self.complete = threading.Event()  # the "GPU" finished every recorded event

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        fake = self

        class Stream:
            def __init__(self, device: Any = None) -> None:
                fake.log.append(("stream", device))

            def wait_stream(self, other: Any) -> None:
                fake.log.append(("wait", other))

        class Event:
            def record(self, stream: Any) -> None:
                fake.log.append(("record", stream))

            def query(self) -> bool:
                return fake.complete.is_set()

            def synchronize(self) -> None:
                fake.log.append(("synchronize", fake.complete.is_set()))

        @contextlib.contextmanager
        def stream(s: Any) -> Iterator[None]:
            before, fake.current = fake.current, s
            try:
                yield
            finally:
                fake.current = before

        monkeypatch.setattr(torch.cuda, "Stream", Stream)
        monkeypatch.setattr(torch.cuda, "Event", Event)
        monkeypatch.setattr(torch.cuda, "stream", stream)
        monkeypatch.setattr(torch.cuda, "default_stream", lambda device=None: "default")


def test_calls_run_in_order_and_come_back_in_order() -> None:
    order: list[int] = []
    gate = threading.Event()
    lane = DeviceLane(lambda: None, depth=2)
    try:
        first = lane.submit(lambda: (gate.wait(5), order.append(1))[1], "a")
        lane.submit(lambda: order.append(2), "b")
        assert not lane.has_room and lane.busy and lane.finished() == []  # the first is still running
        gate.set()
        wait_for(lambda: lane.ready, what="the first call")
        wait_for(lambda: len(order) == 2, what="the second call")
        assert [job.tag for job in lane.finished()] == ["a", "b"] and order == [1, 2]
        assert first.error is None and not lane.busy and lane.has_room
        failing = lane.submit(lambda: 1 / 0, "c")  # an error is the call's outcome, the lane goes on
        wait_for(lambda: lane.ready, what="the failing call")
        assert lane.finished() == [failing] and isinstance(failing.error, ZeroDivisionError)
    finally:
        assert lane.close(5)


def test_a_cuda_call_runs_on_the_lane_stream_and_finishes_with_its_event(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = _FakeCuda()
    cuda.install(monkeypatch)
    woken = threading.Semaphore(0)
    lane = DeviceLane(woken.release)
    device = torch.device("cuda", 0)
    seen: list[Any] = []
    try:
        job = lane.submit(lambda: seen.append(cuda.current) or "out", "a", device)
        assert woken.acquire(timeout=5)  # the call returned...
        assert job.returned and not job.done() and not lane.ready and lane.finished() == []  # ...event pending
        assert lane.poll_s(0.25) == 0.001  # nobody wakes the worker when the GPU completes: it polls
        cuda.complete.set()
        assert lane.ready and lane.finished() == [job] and job.value == "out"
        lane.submit(lambda: seen.append(cuda.current), "b", device)
        assert woken.acquire(timeout=5)
    finally:
        assert lane.close(5)
    streams = [entry for entry in cuda.log if entry[0] == "stream"]
    assert streams == [("stream", device)]  # created once, for both calls
    assert seen[0] is seen[1] and seen[0] != "default"  # both enqueued under the lane's own stream
    kinds = [kind for kind, _ in cuda.log]
    assert kinds == ["stream", "wait", "record", "wait", "record"]  # wait for the uploads, call, event
    assert all(other == "default" for kind, other in cuda.log if kind == "wait")


def test_a_failing_cuda_call_finishes_only_once_its_event_completed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call that raises after enqueuing kernels: its tensors (the frames' uploads) go back to the caching
    allocator when the worker takes the call back, so it is finished only once the event recorded after what it
    enqueued has completed, as a call that returned is (it was finished at once: no event was recorded)."""
    cuda = _FakeCuda()
    cuda.install(monkeypatch)
    woken = threading.Semaphore(0)
    lane = DeviceLane(woken.release)
    device = torch.device("cuda", 0)

    def fails() -> None:
        cuda.log.append(("kernel", cuda.current))  # enqueued on the lane's stream, then the call raises
        raise ZeroDivisionError("after a kernel")

    try:
        job = lane.submit(fails, "a", device)
        assert woken.acquire(timeout=5)
        assert job.returned and isinstance(job.error, ZeroDivisionError)
        assert not job.done() and not lane.ready and lane.finished() == []  # its kernel may still run
        cuda.complete.set()
        assert lane.ready and lane.finished() == [job] and job.value is None
    finally:
        assert lane.close(5)
    kinds = [kind for kind, _ in cuda.log]
    assert kinds == ["stream", "wait", "kernel", "record"]


def test_the_inline_lane_runs_each_call_at_once() -> None:
    lane = InlineLane()
    job = lane.submit(lambda: threading.current_thread(), "a")
    assert job.value is threading.current_thread() and lane.ready and lane.tags() == ["a"]
    assert lane.finished() == [job] and not lane.busy


def test_call_runs_on_the_lane_thread_and_returns_its_value_or_raises() -> None:
    """The warm-up's calls (acceleration/warmup.py): made from another thread, run on the lane's, waited for."""
    lane = DeviceLane(lambda: None)
    try:
        assert lane.call(threading.current_thread) is lane.thread is not threading.current_thread()
        with pytest.raises(ZeroDivisionError):
            lane.call(lambda: 1 / 0)
        assert not lane.busy and lane.call(lambda: 5) == 5  # each call was taken back: the lane stays usable
        gate = threading.Event()
        lane.submit(gate.wait, "a worker's call")
        with pytest.raises(RuntimeError, match="open, empty lane"):  # not while a worker submits to it
            lane.call(lambda: None)
        gate.set()
    finally:
        assert lane.close(5)
    with pytest.raises(RuntimeError, match="closed True"):
        lane.call(lambda: None)


def test_a_cuda_call_runs_on_the_lane_stream_and_waits_for_its_event(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = _FakeCuda()
    cuda.install(monkeypatch)
    lane = DeviceLane(lambda: None)
    try:
        assert lane.call(lambda: cuda.log.append(("kernel", cuda.current)) or "out", torch.device("cuda", 0)) == "out"
    finally:
        assert lane.close(5)
    assert [kind for kind, _ in cuda.log] == ["stream", "wait", "kernel", "record", "synchronize"]
    assert cuda.log[2][1] not in (None, "default")  # under the lane's stream


def test_a_worker_adopts_the_lane_its_model_was_warmed_on_once() -> None:
    woken = threading.Semaphore(0)
    warmed = DeviceLane(lambda: None)
    factory = WarmedFactory(lambda w, h: ("pipeline", w, h), warmed)
    assert factory(4, 2) == ("pipeline", 4, 2)
    adopted = lane_for(factory, woken.release, None)
    other = lane_for(factory, lambda: None, None)
    plain = lane_for(lambda w, h: None, lambda: None, None)
    try:
        assert adopted is warmed and other is not warmed and plain is not warmed
        adopted.submit(lambda: None, "a")
        assert woken.acquire(timeout=5)  # the adopting worker is woken now
    finally:
        assert adopted.close(5) and other.close(5) and plain.close(5)
