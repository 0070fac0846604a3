"""Fake session pipelines shared by the worker tests: a result type and a pipeline that sleeps a fixed time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
