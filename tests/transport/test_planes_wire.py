"""Frame planes through a real server (protocol 1.3): the Planes capability handshake, planes reaching the worker's
FrameJob as numpy arrays, and hostile planes refused with an Error naming the field while the session stays up."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from sdbridge.config import with_overrides
from sdbridge.errors import InputError
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR
from sdbridge.runtime.sessions import FrameJob, Session
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

from .conftest import RawPeer, small_config

DEPTH = m.PlaneDesc(m.PlaneKind.DEPTH, m.PlaneFormat.R32_F, 2, 1, 8, depth_encoding=m.DepthEncoding.LINEAR,
                    depth_near=0.5, depth_far=50.0)


class FrameTap:
    """An observer keeping the FrameJob of every accepted Frame (the planes the worker gets)."""

    def __init__(self) -> None:
        self.jobs: list[FrameJob] = []
        self.seen = threading.Condition()

    def session_opened(self, session: Session) -> None:
        """Unused."""

    def session_closed(self, session: Session) -> None:
        """Unused."""

    def input_accepted(self, session: Session, message: m.Message, frame: FrameJob | None) -> None:
        if frame is not None:
            with self.seen:
                self.jobs.append(frame)
                self.seen.notify_all()

    def result_sent(self, session: Session, result: object) -> None:
        """Unused."""

    def tick(self, now: float, sessions: object) -> None:
        """Unused."""

    def wait(self, count: int) -> list[FrameJob]:
        with self.seen:
            assert self.seen.wait_for(lambda: len(self.jobs) >= count, timeout=10), f"{len(self.jobs)} jobs"
            return list(self.jobs)


@pytest.fixture
def tapped(identity_inline: bool) -> Iterator[tuple[BridgeServer, FrameTap]]:
    server = BridgeServer(small_config(identity_inline=identity_inline))
    tap = FrameTap()
    server.observers.attach(tap)
    server.start_in_thread()
    yield server, tap
    server.close()


def _peer(server: BridgeServer, capabilities: m.Capability) -> RawPeer:
    peer = RawPeer(server.endpoint)
    peer.send_msg(m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, client_name="planes",
                          capabilities=capabilities))
    welcome = peer.recv_until(m.Welcome)[-1]
    assert isinstance(welcome, m.Welcome)
    assert bool(welcome.capabilities & m.Capability.PLANES) == bool(capabilities & m.Capability.PLANES)
    return peer


def _frame(frame_id: int, *planes: m.PlaneDesc) -> m.FrameHeader:
    return m.FrameHeader(frame_id=frame_id, width=4, height=2, stride=16, pixel_format=m.PixelFormat.RGBA8,
                         planes=planes)


def _answer(peer: RawPeer) -> m.Message:
    """The next Error or Result (Credits in between skipped)."""
    while True:
        message, _ = peer.recv()
        if isinstance(message, m.ErrorMsg | m.ResultHeader):
            return message


def test_client_planes_reach_the_frame_job_as_arrays(tapped: tuple[BridgeServer, FrameTap]) -> None:
    server, tap = tapped
    depth = np.linspace(1, 40, 12, dtype=np.float32).reshape(3, 4)
    motion = np.full((3, 4, 2), 0.5, dtype=np.float16)
    ids = np.arange(12, dtype=np.uint16).reshape(3, 4)
    with BridgeClient(server.endpoint, name="planes") as client:
        assert client.connect().capabilities & m.Capability.PLANES
        frame_id = client.submit(np.zeros((3, 4, 4), np.uint8), planes={"depth": depth, "motion": motion,
                                                                        "segmentation": ids},
                                 plane_info={"depth": {"depth_encoding": "device", "reversed_z": True,
                                                       "depth_near": 0.1, "depth_far": 100.0}})
        result = client.receive(timeout=10)
        assert result is not None and result.frame_id == frame_id
    (job,) = tap.wait(1)
    assert [p.kind for p in job.planes] == [m.PlaneKind.DEPTH, m.PlaneKind.MOTION, m.PlaneKind.SEGMENTATION]
    got_depth, got_motion, got_ids = (p.array for p in job.planes)
    np.testing.assert_array_equal(got_depth, depth)
    np.testing.assert_array_equal(got_motion, motion)
    np.testing.assert_array_equal(got_ids, ids)
    desc = job.planes[0].desc
    assert desc.depth_encoding is m.DepthEncoding.DEVICE and desc.reversed_z and (desc.depth_near, desc.depth_far) == (
        pytest.approx(0.1), 100.0)
    assert job.planes[1].desc.motion_units is m.MotionUnits.PIXELS  # the client's default for motion


def test_planes_without_the_capability_are_refused_and_the_session_stays_up(
        tapped: tuple[BridgeServer, FrameTap]) -> None:
    server, tap = tapped
    peer = _peer(server, m.Capability.CREDITS)
    try:
        peer.send_msg(_frame(1, DEPTH), bytes(32), np.ones(2, np.float32).tobytes())
        error = _answer(peer)
        assert isinstance(error, m.ErrorMsg) and error.field == "Frame.planes" and "Planes capability" in error.message
        peer.send_msg(_frame(2), bytes(32))  # the refused frame's credit came back: this one is served
        result = _answer(peer)
        assert isinstance(result, m.ResultHeader) and result.frame_id == 2
        assert [job.frame_id for job in tap.wait(1)] == [2]
    finally:
        peer.close()


@pytest.mark.parametrize(("planes", "parts", "field"), [
    ((DEPTH,), [np.array([1.0, np.nan], np.float32).tobytes()], "Frame.planes[0]"),
    ((DEPTH,), [bytes(7)], "Frame.planes[0].stride"),
    ((m.PlaneDesc(m.PlaneKind.DEPTH, m.PlaneFormat(3), 2, 1, 4),), [bytes(4)], "Frame.planes[0].depth_encoding"),
    ((DEPTH, DEPTH), [bytes(8), bytes(8)], "Frame.planes[1].kind"),
])
def test_hostile_planes_get_an_error_naming_the_field_and_the_session_stays_up(
        tapped: tuple[BridgeServer, FrameTap], planes: tuple[m.PlaneDesc, ...], parts: list[bytes],
        field: str) -> None:
    server, tap = tapped
    peer = _peer(server, m.Capability.CREDITS | m.Capability.PLANES)
    try:
        peer.send_msg(_frame(1, *planes), bytes(32), *parts)
        error = _answer(peer)
        assert isinstance(error, m.ErrorMsg) and error.field == field, error
        peer.send_msg(_frame(2, DEPTH), bytes(32), np.ones(2, np.float32).tobytes())
        result = _answer(peer)
        assert isinstance(result, m.ResultHeader) and result.frame_id == 2
        assert [job.frame_id for job in tap.wait(1)] == [2]
    finally:
        peer.close()


def test_a_server_without_planes_does_not_grant_them_and_the_client_says_so_before_sending() -> None:
    config = small_config()
    server = BridgeServer(with_overrides(config, limits={"max_planes": 0}))
    server.start_in_thread()
    try:
        with BridgeClient(server.endpoint, name="planes") as client:
            assert not client.connect().capabilities & m.Capability.PLANES
            with pytest.raises(InputError, match="did not grant the Planes capability"):
                client.submit(np.zeros((2, 2, 4), np.uint8), planes={"depth": np.ones((2, 2), np.float32)})
            assert client.counters.frames_sent == 0
    finally:
        server.close()
