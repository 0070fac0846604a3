"""The warped attention bank asks for and gets Motion planes, through a real server and the Python client: with
motion_warp 0 and `attention_bank` > 0 with `attention_bank_warp` (server config `[pipeline]`), the Welcome wants the
Motion plane and a frame's Motion plane reaches the session's pipeline (pipe.temporal.set_motion); turning the bank off
(Params.attention_bank 0) sends a Notice without Motion and stops the routing; with the bank's warp off nothing wants
or takes motion (serving.plane_wants, runtime.control_inputs.uses_motion). A fake pipeline carrying a real
StreamConfig, updated like the real one's, stands in for the model. Each session's own values decide its set
(PlaneWants directly)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.pipeline.config import StreamConfig
from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import ClientInfo, SessionTable
from sdbridge.served_model import ModelDescription
from sdbridge.server import BridgeServer
from sdbridge.serving.plane_wants import PlaneWants
from sdbridge.transport.client import BridgeClient
from tests.runtime.fakes import FakeOut

from .conftest import MAX_BYTES, MAX_SIDE

SIZE = 16
BANK = {"attention_bank": 2, "attention_bank_warp": True}  # motion_warp stays 0 (its default)


class MotionPipeline:
    """A pipeline whose config is a StreamConfig (updated by `update`) and whose temporal state keeps every motion."""

    latency_frames = 0

    def __init__(self, config: StreamConfig, motions: list[torch.Tensor], seen: threading.Condition) -> None:
        self.config, self.motions, self.seen = config, motions, seen
        self.components = SimpleNamespace(device=torch.device("cpu"))
        self.temporal = SimpleNamespace(set_motion=self._set_motion)
        self._fields = {f.name for f in dataclasses.fields(StreamConfig)}

    def _set_motion(self, motion: torch.Tensor, depth: torch.Tensor | None = None) -> None:
        with self.seen:
            self.motions.append(motion)
            self.seen.notify_all()

    def prepare(self, prompt: Any = "", negative_prompt: Any = "") -> None:
        pass

    def update(self, **kwargs: Any) -> None:
        self.config = dataclasses.replace(self.config, **{k: v for k, v in kwargs.items() if k in self._fields})

    def scene_cut(self) -> None:
        pass

    def __call__(self, image: np.ndarray) -> FakeOut:
        return FakeOut(np.asarray(image))


class Served:
    """A server with `[pipeline]` settings `pipeline` and MotionPipelines made from the same settings."""

    def __init__(self, **pipeline: Any) -> None:
        self.motions: list[torch.Tensor] = []
        self.seen = threading.Condition()
        config = with_overrides(ServerConfig(), model={"name": "identity", "identity_inline": False},
                                pipeline=pipeline,
                                limits={"max_width": MAX_SIDE, "max_height": MAX_SIDE, "max_message_bytes": MAX_BYTES},
                                top={"bind": "tcp://127.0.0.1:*"})
        stream = StreamConfig(width=SIZE, height=SIZE, **pipeline)
        description = ModelDescription("fake", m.ModelFamily.SD15, SIZE, SIZE, 0)
        self.server = BridgeServer(config, model=description,
                                   pipeline_factory=lambda w, h: MotionPipeline(stream, self.motions, self.seen))

    def motions_now(self) -> int:
        with self.seen:
            return len(self.motions)


@pytest.fixture
def bank_on() -> Iterator[Served]:
    s = Served(**BANK)
    s.server.start_in_thread()
    yield s
    s.server.close()


def _image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 4), dtype=np.uint8)


def _pan(x: float, y: float) -> np.ndarray:
    field = np.empty((SIZE, SIZE, 2), np.float32)
    field[..., 0], field[..., 1] = x, y
    return field


def _round_trip(client: BridgeClient, motion: np.ndarray | None = None) -> None:
    client.submit(_image(), planes={} if motion is None else {"motion": motion})
    assert client.receive(timeout=10) is not None  # its result: the frame (and its planes) went through the worker


def test_the_warped_bank_wants_motion_and_gets_it(bank_on: Served) -> None:
    with BridgeClient(bank_on.server.endpoint, name="bank-warp") as client:
        welcome = client.connect(timeout=10)
        assert welcome.wanted_planes == client.wanted_planes == (m.PlaneKind.MOTION,)
        _round_trip(client, _pan(3.0, -2.0))
        assert bank_on.motions_now() == 1
        assert torch.equal(bank_on.motions[0], torch.stack([torch.full((SIZE, SIZE), 3.0),
                                                            torch.full((SIZE, SIZE), -2.0)]))
        client.set_params(attention_bank=0)  # the bank off (its warp still set): motion is no longer used
        _round_trip(client, _pan(1.0, 1.0))
        assert client.wanted_planes == ()
        assert bank_on.motions_now() == 1  # the plane was sent but not routed
        client.set_params(attention_bank=1)  # on again: wanted and routed again
        _round_trip(client, _pan(1.0, 1.0))
        assert client.wanted_planes == (m.PlaneKind.MOTION,)
        assert bank_on.motions_now() == 2
        changes = [n.wanted_planes for n in client.notices if n.kind is m.NoticeKind.WANTED_PLANES_CHANGED]
    assert changes == [(), (m.PlaneKind.MOTION,)]


@pytest.mark.parametrize("pipeline", [{"attention_bank": 2, "attention_bank_warp": False},
                                      {"attention_bank": 0, "attention_bank_warp": True}])
def test_a_bank_that_does_not_warp_wants_and_takes_no_motion(pipeline: dict[str, Any]) -> None:
    s = Served(**pipeline)
    s.server.start_in_thread()
    try:
        with BridgeClient(s.server.endpoint, name="bank-still") as client:
            welcome = client.connect(timeout=10)
            assert welcome.wanted_planes == ()
            _round_trip(client, _pan(3.0, -2.0))
            assert s.motions_now() == 0  # the plane was sent but not routed
            client.set_params(motion_warp=0.5)  # able to fail: motion warping on, the same plane is routed
            _round_trip(client, _pan(3.0, -2.0))
            assert client.wanted_planes == (m.PlaneKind.MOTION,)
            assert s.motions_now() == 1
    finally:
        s.server.close()


def test_each_sessions_own_settings_decide_its_planes() -> None:
    """An update setting only attention_bank_warp (as a rules file can) is judged with that session's other values:
    the server's for the first, its own earlier update's for the second; other sessions keep the server's set."""
    config = with_overrides(ServerConfig(), pipeline={"attention_bank": 2})  # the bank on, not warped
    table = SessionTable(max_sessions=2)
    wants = PlaneWants(config, table)
    a, b = table.open(b"a", ClientInfo("a"), credits=1), table.open(b"b", ClientInfo("b"), credits=1)
    assert wants.initial == wants.of(a) == ()
    notice = wants.changed(a, {"attention_bank_warp": True})  # with the server's attention_bank 2: warped
    assert notice is not None and notice.wanted_planes == wants.of(a) == (m.PlaneKind.MOTION,)
    assert wants.of(b) == ()
    assert wants.changed(a, {"prompt": "x"}) is None and wants.changed(a, {"motion_warp": 0.5}) is None  # still on
    wants.changed(a, {"attention_bank": 0})
    assert wants.of(a) == (m.PlaneKind.MOTION,)  # motion_warp 0.5 from its earlier update still wants it
    notice = wants.changed(a, {"motion_warp": 0.0})
    assert notice is not None and notice.wanted_planes == wants.of(a) == ()
    assert wants.changed(b, {"attention_bank": 3}) is None  # b's warp is the server's: off
