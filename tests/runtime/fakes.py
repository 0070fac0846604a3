"""Fakes shared by the worker tests: a result type, a pipeline that sleeps a fixed time, and a sink that keeps what a
Worker hands back."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sdbridge.runtime.sessions import ResultJob
from sdbridge.runtime.worker import WorkerFailure


@dataclass
class FakeOut:
    """What a pipeline returns to the worker (the fields of StreamResult the worker reads)."""

    image: np.ndarray
    is_warmup: bool = False
    skipped: bool = False
    timings: dict[str, float] = field(default_factory=dict)


class SleepingPipeline:
    """A pipeline whose call costs `cost` seconds of sleep (the GIL released) and returns the image it got."""

    latency_frames = 0

    def __init__(self, cost: float) -> None:
        self.cost = cost

    def prepare(self, prompt: str = "", negative_prompt: str = "") -> None:
        pass

    def update(self, **kwargs: Any) -> None:
        pass

    def __call__(self, image: np.ndarray) -> FakeOut:
        time.sleep(self.cost)
        return FakeOut(image)


class WorkerSink:
    """What a Worker hands back, kept for a test: its results and failures in order, `done` released once for each
    (pass `on_result` and `on_failure` to the Worker)."""

    def __init__(self) -> None:
        self.results: list[ResultJob] = []
        self.failures: list[WorkerFailure] = []
        self.done = threading.Semaphore(0)

    def on_result(self, r: ResultJob) -> None:
        self.results.append(r)
        self.done.release()

    def on_failure(self, f: WorkerFailure) -> None:
        self.failures.append(f)
        self.done.release()
