"""A frame's planes are only turned into conditioning when the session's pipeline consumes them
(runtime.frame_work + runtime.control_inputs.ControlPlanes.used_by): the identity model (passthrough) and a
pipeline without ControlNets or motion warping leave them as the received views; a pipeline with a depth ControlNet
gets them (the proof that the spy below would see a conversion)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from sdbridge.protocol import messages as m
from sdbridge.runtime.control_inputs import ControlPlanes
from sdbridge.runtime.pixels import Layout, PixelFormat
from sdbridge.runtime.planes import Plane, from_wire
from sdbridge.runtime.sessions import ClientInfo, FrameJob, ResultJob, SessionTable
from sdbridge.runtime.worker import Worker
from tests.runtime.fakes import FakeOut

W, H = 8, 4


class RecordingControls(ControlPlanes):
    """ControlPlanes whose `apply` (where planes become control images) only records what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.applied: list[tuple[Plane, ...]] = []

    def apply(self, session_id: int, pipeline: Any, planes: Any, rgb: Any) -> None:
        self.applied.append(tuple(planes))


class Echo:
    """A pipeline returning its input; `kinds`: the ControlNet KINDs it claims to run."""

    latency_frames = 0

    def __init__(self, kinds: tuple[str, ...] = ()) -> None:
        self.config = SimpleNamespace(motion_warp=0.0, width=W, height=H)
        if kinds:
            self.control = SimpleNamespace(nets=SimpleNamespace(names=kinds))

    def prepare(self, prompt: str = "", negative_prompt: str = "") -> None:
        pass

    def update(self, **kwargs: Any) -> None:
        pass

    def __call__(self, image: np.ndarray) -> FakeOut:
        return FakeOut(image)


def _depth_job() -> FrameJob:
    depth = np.full((H, W), 3.0, np.float16)
    desc = m.PlaneDesc(m.PlaneKind.DEPTH, m.PlaneFormat.R16_F, W, H, W * 2, depth_encoding=m.DepthEncoding.LINEAR)
    planes = from_wire((desc,), (memoryview(depth.tobytes()),))
    layout = Layout.packed(W, H, PixelFormat.RGBA8)
    return FrameJob(1, 0, layout, bytes(layout.expected_bytes), time.perf_counter(), planes=planes)


def _run(pipeline: Echo, passthrough: bool) -> tuple[RecordingControls, ResultJob | None]:
    controls = RecordingControls()
    table = SessionTable(max_sessions=1)
    worker = Worker(table, lambda w, h: pipeline, lambda layout: (layout.width, layout.height),
                    lambda r: None, lambda f: None, passthrough=passthrough, pipelined=False, controls=controls)
    session = table.open(b"a", ClientInfo("a"), credits=1)
    return controls, worker.run_now(session, _depth_job())  # the inline path the identity model takes


def test_a_consuming_pipeline_gets_the_frames_planes() -> None:
    controls, result = _run(Echo(kinds=("depth",)), passthrough=False)
    assert result is not None and result.frame_id == 1
    assert [[p.kind for p in planes] for planes in controls.applied] == [[m.PlaneKind.DEPTH]]


def test_the_identity_model_does_not_convert_planes() -> None:
    controls, result = _run(Echo(kinds=("depth",)), passthrough=True)  # even one that claims a ControlNet
    assert result is not None and result.frame_id == 1
    assert controls.applied == []


def test_a_pipeline_without_controlnets_or_warping_does_not_convert_planes() -> None:
    controls, result = _run(Echo(), passthrough=False)
    assert result is not None and result.frame_id == 1
    assert controls.applied == []
