"""The pipeline's CUDA events are recorded on the current stream of the pipeline's device, named: the stage clock's
timing events (pipeline/timing.py) and the similarity filter's copy event (pipeline/similarity.py). Recorded without
a stream, an event goes to the calling thread's current device (cuda:0 on a thread nobody bound), whose stream knows
nothing of a cuda:1 pipeline's work: the copy's event completes before the cosine has landed (the filter reads a
pinned buffer still unwritten) and the stage timings measure another device. No GPU here: torch.cuda's Event and
current_stream are replaced by fakes that record what was asked of them."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from sdbridge.pipeline import similarity
from sdbridge.pipeline.timing import StageClock

DEVICE = torch.device("cuda", 1)


class _Event:
    made: ClassVar[list[_Event]] = []  # every event made since the fixture installed the fakes

    def __init__(self, enable_timing: bool = False) -> None:
        self.streams: list[Any] = []
        _Event.made.append(self)

    def record(self, stream: Any = None) -> None:
        self.streams.append(stream)

    def query(self) -> bool:
        return True

    def elapsed_time(self, end: _Event) -> float:
        return 2.0


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> type[_Event]:
    _Event.made = []
    monkeypatch.setattr(torch.cuda, "Event", _Event)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: ("current stream of", device))
    return _Event


def test_stage_timing_events_go_to_the_pipelines_device(fake_cuda: type[_Event]) -> None:
    clock = StageClock(DEVICE)
    timer = clock.start()
    timer.mark("unet")
    clock.finish(timer, 1)
    later = clock.start()
    timings, frame = clock.finish(later, 2)  # reads the first frame's events, all complete
    assert frame == 1 and timings["unet"] == pytest.approx(0.002)
    assert len(fake_cuda.made) == 5
    assert all(e.streams == [("current stream of", DEVICE)] for e in fake_cuda.made)


class _CudaScalar:
    """A 0-d cosine on cuda:1 as `_copy_to_host` sees it (its device; the copy goes through a fake host tensor)."""

    device = DEVICE


class _Host:
    def copy_(self, value: Any, non_blocking: bool = False) -> None:
        self.copied = (value, non_blocking)


def test_the_similarity_copy_event_goes_to_the_values_device(fake_cuda: type[_Event],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "empty", lambda *args, **kwargs: _Host())  # the pinned host scalar
    value, event = _CudaScalar(), _Event()
    host, returned = similarity._copy_to_host(value, event)  # type: ignore[arg-type]
    assert returned is event and host.copied == (value, True)  # type: ignore[attr-defined]
    assert event.streams == [("current stream of", DEVICE)]
