"""runtime.cuda_thread: every thread that works on the model's device makes it its current CUDA device (CUDA keeps
the current device per host thread and a new thread starts on cuda:0). No GPU here: torch.cuda.set_device and
current_stream are replaced by recorders."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import torch

from sdbridge.pipeline import images
from sdbridge.runtime.cuda_thread import bind_thread
from sdbridge.runtime.device_lane import DeviceLane
from sdbridge.runtime.sessions import SessionTable
from sdbridge.runtime.worker import Worker
from tests.conftest import wait_for


@pytest.fixture()
def bound(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, torch.device]]:
    """(thread name, device) of each torch.cuda.set_device call."""
    calls: list[tuple[str, torch.device]] = []
    lock = threading.Lock()

    def set_device(device: torch.device) -> None:
        with lock:
            calls.append((threading.current_thread().name, torch.device(device)))

    monkeypatch.setattr(torch.cuda, "set_device", set_device)
    return calls


def test_only_an_indexed_cuda_device_is_bound(bound: list[tuple[str, torch.device]]) -> None:
    for device in (None, "cpu", torch.device("cpu"), "cuda", "mps"):
        bind_thread(device)
    assert bound == []
    bind_thread("cuda:1")
    bind_thread(torch.device("cuda:2"))
    me = threading.current_thread().name
    assert bound == [(me, torch.device("cuda:1")), (me, torch.device("cuda:2"))]


def test_the_worker_and_its_device_lane_bind_the_model_device(bound: list[tuple[str, torch.device]]) -> None:
    worker = Worker(SessionTable(4), lambda w, h: None, None, lambda job: None,  # type: ignore[arg-type]
                    lambda failure: None, device="cuda:1")
    worker.start()
    try:
        wait_for(lambda: {name for name, _ in bound} >= {"sdbridge-worker", "sdbridge-device"}, 10,
                 "the worker and lane threads to bind their device")
    finally:
        assert worker.stop()
    assert {device for _, device in bound} == {torch.device("cuda:1")}


def test_a_cpu_worker_binds_nothing(bound: list[tuple[str, torch.device]]) -> None:
    lane = DeviceLane(lambda: None, device="cpu")
    done = lane.submit(lambda: 7, tag=None)
    wait_for(done.done, 10, "the lane to run a call")
    assert lane.close() and done.value == 7 and bound == []


def test_record_event_names_the_device_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """An event guarding a copy on cuda:1 is recorded on cuda:1's current stream, whatever the thread's device."""
    recorded: list[Any] = []

    class Event:
        def record(self, stream: Any = None) -> None:
            recorded.append(stream)

    monkeypatch.setattr(torch.cuda, "Event", Event)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: ("stream of", device))
    assert images.record_event(torch.device("cpu")) is None
    assert isinstance(images.record_event(torch.device("cuda:1")), Event)
    assert recorded == [("stream of", torch.device("cuda:1"))]
