"""The worker's device lane: model calls run here, in order, while the worker thread does the host work.

The worker thread (runtime.worker) picks frames, decodes their pixels and uploads them (host work), then
`submit`s the model call to the lane and goes on with the next frame's host work; the lane runs the calls
one after the other on a thread of its own. A call's result is `finished` once its function returned (or
raised) and, for a CUDA call, once the event recorded after it (after the download of its output; after a call
that raised too) has completed: `torch.cuda.Event.query()`, polled by the worker thread, never waited on. So
frame N+1's decode and upload overlap frame N's device work, and a result is published as soon as its device
work is done.

On CUDA each call is enqueued on the lane's own stream (`torch.cuda.Stream`, created once), made to wait
for the work the worker thread enqueued on the default stream before the call (the uploads): the call's
tensors are kept alive by its job until it is finished, so the caching allocator cannot reuse them early.
Pipeline state the worker thread made on the default stream and the call drops (a restart's buffers, a control
image, a frame's motion) is marked used on the lane's stream where the call reads it (sdbridge.pipeline.streams).
On a CPU the lane thread stands in for the stream: a model call that releases the GIL (torch kernels, or a
fake that sleeps) overlaps the worker thread's host work in the same way.
The CUDA part (stream, wait, event) is not run on a GPU here: tests/runtime/test_device_lane.py checks it
with torch.cuda's Stream, Event and stream context replaced by fakes.

`InlineLane` has the same interface and runs each call at once on the caller's thread (the serial worker).

The lane may exist before its worker: the compiled backend's warm-up (acceleration/warmup.py) runs its calls on a
lane with `DeviceLane.call` and returns a `WarmedFactory` holding it; the worker serving that factory adopts the
lane (`lane_for`), so the thread that recorded the warm-up's CUDA graphs is the one that replays them (torch keeps
them per thread: see acceleration/warmup.py). Not run on a GPU here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sdbridge.runtime.cuda_thread import bind_thread

log = logging.getLogger(__name__)


@dataclass
class LaneJob:
    """One model call in the lane: `run` with its outcome once finished (`value` or `error`)."""

    run: Callable[[], Any]
    tag: Any  # what the caller needs back with the outcome (the frames of the call)
    cuda_device: Any = None  # torch.device of a CUDA call, else None
    value: Any = None
    error: Exception | None = None
    started: float = 0.0  # time.perf_counter() when the call began on the lane
    ended: float = 0.0  # when its function returned (its device work may still run on CUDA)
    event: Any = None  # torch.cuda.Event recorded after the call (CUDA only)
    returned: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def seconds(self) -> float:
        """Lane seconds the call took (its function's wall time)."""
        return max(0.0, self.ended - self.started)

    def done(self) -> bool:
        """True once the function returned and the event recorded after it (if any) has completed."""
        with self._lock:
            if not self.returned:
                return False
            event = self.event
        return event is None or bool(event.query())

    def execute(self, stream: Any) -> None:
        """Run the call (under `stream` when given: a CUDA call) and record its outcome."""
        self.started = time.perf_counter()
        try:
            if stream is None:
                self.value = self.run()
            else:
                self.value, self.error, event = _run_on_stream(self.run, stream, self.cuda_device)
                with self._lock:
                    self.event = event
        except Exception as exc:  # reported to the frames of this call by the worker thread
            self.error = exc
        self.ended = time.perf_counter()
        with self._lock:
            self.returned = True


def _run_on_stream(run: Callable[[], Any], stream: Any, device: Any) -> tuple[Any, Exception | None, Any]:
    """Enqueue `run` on `stream` after the default stream's work; return its value (None when it raised), its
    error and an event recorded after it. The event is recorded when `run` raises too: the kernels it enqueued
    before raising may still read the call's tensors (its frames' uploads, allocated on the default stream),
    which the worker drops once the call is finished; without the event that was at once, and the caching
    allocator could hand their memory to the next upload while those kernels still read it. Not run on a GPU
    here."""
    import torch

    stream.wait_stream(torch.cuda.default_stream(device))  # the uploads the worker thread enqueued
    value, error = None, None
    with torch.cuda.stream(stream):
        try:
            value = run()
        except Exception as exc:  # the call's outcome; finished once what it enqueued has run
            error = exc
        event = torch.cuda.Event()
        event.record(stream)
    return value, error, event


class DeviceLane:
    """Runs submitted model calls in submission order on its own thread (and CUDA stream). See the module
    docstring. `on_finished` is called (on the lane thread) whenever a call returns; the worker passes a
    function that wakes its thread."""

    def __init__(self, on_finished: Callable[[], None], depth: int = 2, device: str | None = None) -> None:
        self._on_finished = on_finished
        self._device = device  # made the lane thread's current CUDA device (runtime.cuda_thread)
        self._depth = max(1, depth)
        self._jobs: deque[LaneJob] = deque()  # submitted, not yet taken back by `finished`, oldest first
        self._todo: deque[LaneJob] = deque()  # submitted, not yet started
        self._cond = threading.Condition()
        self._streams: dict[Any, Any] = {}  # torch.device -> the lane's torch.cuda.Stream (created once)
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="sdbridge-device", daemon=True)
        self._thread.start()

    @property
    def has_room(self) -> bool:
        """True while fewer than `depth` calls are submitted and not taken back (one runs, one waits)."""
        with self._cond:
            return len(self._jobs) < self._depth

    @property
    def busy(self) -> bool:
        """True while a submitted call has not been taken back by `finished`."""
        with self._cond:
            return bool(self._jobs)

    @property
    def ready(self) -> bool:
        """True when the oldest call not taken back has finished (`finished` returns it)."""
        with self._cond:
            return bool(self._jobs) and self._jobs[0].done()

    def submit(self, run: Callable[[], Any], tag: Any, cuda_device: Any = None) -> LaneJob:
        """Queue a call (after the ones already queued). `cuda_device`: the torch.device of a CUDA call."""
        job = LaneJob(run, tag, cuda_device)
        with self._cond:
            self._jobs.append(job)
            self._todo.append(job)
            self._cond.notify_all()
        return job

    def finished(self) -> list[LaneJob]:
        """Take back the finished calls at the head of the lane, in submission order (never blocks)."""
        out: list[LaneJob] = []
        with self._cond:
            while self._jobs and self._jobs[0].done():
                out.append(self._jobs.popleft())
        return out

    def tags(self) -> list[Any]:
        """The tags of the calls submitted and not yet taken back, oldest first."""
        with self._cond:
            return [job.tag for job in self._jobs]

    def poll_s(self, idle_s: float) -> float:
        """How long the worker may wait for a wake-up: 1 ms while a returned call's event is still pending
        (nobody wakes the worker when the GPU completes it), else `idle_s`."""
        with self._cond:
            pending = any(job.returned and not job.done() for job in self._jobs)
        return 0.001 if pending else idle_s

    def call(self, run: Callable[[], Any], cuda_device: Any = None) -> Any:
        """Run `run` on the lane thread (under the lane's stream on `cuda_device`, as a submitted call) and return
        its value once its device work is done, or raise its error. For the calls made before a worker adopts the
        lane (the warm-up): the caller waits, nothing else may be in the lane."""
        with self._cond:
            if self._closed or self._jobs:
                raise RuntimeError(f"device lane: call() needs an open, empty lane (closed {self._closed}, "
                                   f"{len(self._jobs)} calls queued); make the warm-up's calls before a worker "
                                   "adopts the lane")
        job = self.submit(run, None, cuda_device)
        with self._cond:
            while not job.returned:
                self._cond.wait()
            self._jobs = deque(j for j in self._jobs if j is not job)
        if job.event is not None:
            job.event.synchronize()  # its kernels (on the lane's stream) have run
        if job.error is not None:
            raise job.error
        return job.value

    def wake_with(self, on_finished: Callable[[], None]) -> None:
        """Call `on_finished` (on the lane thread) whenever a call returns from now on: the adopting worker's."""
        with self._cond:
            self._on_finished = on_finished

    @property
    def thread(self) -> threading.Thread:
        """The lane's thread: every call runs on it."""
        return self._thread

    def close(self, timeout: float = 10.0) -> bool:
        """Stop the lane thread once the queued calls ran; True when it ended."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        bind_thread(self._device)
        while True:
            with self._cond:
                while not self._todo and not self._closed:
                    self._cond.wait()
                if not self._todo:
                    return
                job = self._todo.popleft()
            job.execute(self._stream(job.cuda_device))
            with self._cond:
                self._cond.notify_all()  # a caller of call() waits for this job
                on_finished = self._on_finished
            try:
                on_finished()
            except Exception:  # the worker's wake-up must not end the lane
                log.exception("device lane: waking the worker failed")

    def _stream(self, device: Any) -> Any:
        """The lane's CUDA stream on `device` (created at its first call), or None for a CPU call."""
        if device is None:
            return None
        stream = self._streams.get(device)
        if stream is None:
            import torch

            stream = self._streams[device] = torch.cuda.Stream(device)
        return stream


class InlineLane:
    """DeviceLane's interface, running each call at once on the caller's thread (the serial worker)."""

    has_room = True

    def __init__(self) -> None:
        self._done: deque[LaneJob] = deque()

    @property
    def busy(self) -> bool:
        """True while a call ran and has not been taken back."""
        return bool(self._done)

    @property
    def ready(self) -> bool:
        """True when a call ran and has not been taken back."""
        return bool(self._done)

    def submit(self, run: Callable[[], Any], tag: Any, cuda_device: Any = None) -> LaneJob:
        """Run the call now (a CUDA call: on the current stream, finished when its function returns)."""
        job = LaneJob(run, tag)
        job.execute(None)
        self._done.append(job)
        return job

    def finished(self) -> list[LaneJob]:
        """The calls run since the last call, in order."""
        out = list(self._done)
        self._done.clear()
        return out

    def tags(self) -> list[Any]:
        """The tags of the calls not yet taken back."""
        return [job.tag for job in self._done]

    def poll_s(self, idle_s: float) -> float:
        """`idle_s`: nothing is ever pending on a device."""
        return idle_s

    def close(self, timeout: float = 10.0) -> bool:
        """Nothing to stop."""
        return True



class WarmedFactory:
    """A pipeline factory whose compiled model was warmed on `lane`'s thread (acceleration/warmup.py): the worker
    serving it adopts that lane (`lane_for`), so its thread replays what the warm-up recorded. Called like the
    factory it wraps."""

    def __init__(self, build: Callable[[int, int], Any], lane: DeviceLane) -> None:
        self._build = build
        self._lane: DeviceLane | None = lane
        self._lock = threading.Lock()

    def __call__(self, width: int, height: int) -> Any:
        return self._build(width, height)

    def take_lane(self) -> DeviceLane | None:
        """The warmed lane, to the first caller only (the worker that adopts it; None afterwards)."""
        with self._lock:
            lane, self._lane = self._lane, None
        return lane

    def release(self) -> None:
        """Close the warmed lane if no worker adopted it (a server whose start failed after loading)."""
        lane = self.take_lane()
        if lane is not None:
            lane.close()


def lane_for(factory: Any, on_finished: Callable[[], None], device: str | None) -> DeviceLane:
    """The device lane a worker serving `factory` runs its calls on: the lane the model was warmed on when
    `factory` is a WarmedFactory that still holds it (its wake-up now `on_finished`), else a new lane on
    `device`. A second worker over the same factory gets a new lane, whose thread records CUDA graphs of its own
    at its first calls (torch from 2.13)."""
    lane = factory.take_lane() if isinstance(factory, WarmedFactory) else None
    if lane is None:
        return DeviceLane(on_finished, device=device)
    lane.wake_with(on_finished)
    log.info("device lane: serving on %s, the thread the model was warmed on", lane.thread.name)
    return lane
