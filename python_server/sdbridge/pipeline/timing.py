"""Seconds per pipeline stage, measured without a host synchronisation.

A StageClock (one per pipeline) starts a FrameTimer per frame; the pipeline calls `mark(stage)` at the end of
each stage (marks of the same stage add up) and `finish` or `host_timings` at the end of the frame.

- CPU and other devices without CUDA: wall-clock `time.perf_counter` per stage, known when the frame ends.
- CUDA (not run on a GPU here): each mark records a CUDA event (enable_timing=True) on the current stream of the
  pipeline's device.
  Nothing waits for them: `finish` reads the events of *earlier* frames whose last event has completed
  (event.query()), and returns the newest of those frames' timings with that frame's index. In the steady
  state the result of frame N carries the timings of the processed frame before it. Before any earlier
  frame has completed, every stage reads NaN and the frame index 0.
`host_timings` is the wall clock of this frame on every device: exact for a frame that queued no device
work (a frame the similarity filter skipped before upload).
"""

from __future__ import annotations

import functools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

Timings = dict[str, float]  # seconds per stage, plus "total"
_PENDING_LIMIT = 16  # CUDA frames awaiting their events; older ones are dropped (the device is far behind)


class TimingEvent(Protocol):
    """What the clock needs of an event: torch.cuda.Event(enable_timing=True) has these."""

    def record(self) -> None: ...

    def query(self) -> bool: ...

    def elapsed_time(self, end_event: TimingEvent) -> float: ...  # milliseconds


@dataclass
class _Recorded:
    """A finished frame's events: events[0] at its start, events[i + 1] at the end of stages[i]."""

    frame_index: int
    stages: list[str]
    events: list[TimingEvent]


class _DeviceEvent:
    """A timing CUDA event recorded on the current stream of `device`: named, as the calling thread's current
    device may be another (torch.cuda.Event.record() without a stream takes that device's stream, whose events
    would time nothing of this pipeline's work). Not run on a GPU here."""

    def __init__(self, device: torch.device) -> None:
        self._device = device
        self.event = torch.cuda.Event(enable_timing=True)

    def record(self) -> None:
        self.event.record(torch.cuda.current_stream(self._device))

    def query(self) -> bool:
        return bool(self.event.query())

    def elapsed_time(self, end_event: TimingEvent) -> float:
        assert isinstance(end_event, _DeviceEvent)
        return float(self.event.elapsed_time(end_event.event))


class StageClock:
    """Starts one FrameTimer per frame; on CUDA, keeps the frames whose events have not been read yet."""

    def __init__(self, device: torch.device, new_event: Callable[[], TimingEvent] | None = None) -> None:
        """`new_event` makes timing events (default: CUDA events on a CUDA device, none elsewhere)."""
        if new_event is None and device.type == "cuda":
            new_event = functools.partial(_DeviceEvent, device)
        self._new_event = new_event
        self._pending: deque[_Recorded] = deque()
        self._latest: tuple[Timings, int] | None = None

    def start(self) -> FrameTimer:
        """A timer for one frame, started now."""
        return FrameTimer(self._new_event)

    def reset(self) -> None:
        """Forget earlier frames (the stream restarted: frame indices start again)."""
        self._pending.clear()
        self._latest = None

    def finish(self, timer: FrameTimer, frame_index: int) -> tuple[Timings, int]:
        """(timings, the frame index they belong to) at the end of the frame `timer` measured.

        Without events: this frame's wall clock. With events: the newest earlier frame whose events have
        completed (see the module docstring); `timer`'s frame is read at a later call.
        """
        if timer.events is None:
            return timer.host_timings(), frame_index
        while self._pending and all(event.query() for event in self._pending[0].events):
            done = self._pending.popleft()
            self._latest = (_read(done), done.frame_index)
        self._pending.append(_Recorded(frame_index, list(timer.stages), timer.end()))
        if len(self._pending) > _PENDING_LIMIT:
            self._pending.popleft()
        if self._latest is None:
            return {**{stage: math.nan for stage in timer.stages}, "total": math.nan}, 0
        return self._latest


class FrameTimer:
    """Marks the end of each stage of one frame (wall clock always; CUDA events when the clock has them)."""

    def __init__(self, new_event: Callable[[], TimingEvent] | None) -> None:
        self._new_event = new_event
        self.events: list[TimingEvent] | None = None if new_event is None else [self._recorded()]
        self.stages: list[str] = []
        self._start = self._last = time.perf_counter()
        self._times: Timings = {}

    def mark(self, stage: str) -> None:
        """End of `stage` (a stage marked again accumulates)."""
        now = time.perf_counter()
        self._times[stage] = self._times.get(stage, 0.0) + now - self._last
        self._last = now
        self.stages.append(stage)
        if self.events is not None:
            self.events.append(self._recorded())

    def host_timings(self) -> Timings:
        """This frame's wall-clock seconds per stage and its total so far."""
        return {**self._times, "total": time.perf_counter() - self._start}

    def end(self) -> list[TimingEvent]:
        """The frame's events with a last one recorded now (only with events)."""
        assert self.events is not None
        self.events.append(self._recorded())
        return self.events

    def _recorded(self) -> TimingEvent:
        assert self._new_event is not None
        event = self._new_event()
        event.record()
        return event


def _read(frame: _Recorded) -> Timings:
    """Seconds per stage from a frame's events, all completed (elapsed_time refuses events still pending)."""
    events, times = frame.events, {}
    for i, stage in enumerate(frame.stages):
        times[stage] = times.get(stage, 0.0) + events[i].elapsed_time(events[i + 1]) / 1000.0
    times["total"] = events[0].elapsed_time(events[-1]) / 1000.0
    return times
