"""Heartbeats, expiry of silent sessions, automatic reconnect with replay, Bye, session limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import zmq

from sdbridge.config import with_overrides
from sdbridge.errors import ProtocolError, TransportError
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

from .conftest import RawPeer, small_config


@pytest.fixture
def fast_server(identity_inline: bool) -> Iterator[BridgeServer]:
    """Identity server (inline and through the worker) whose sessions expire after 0.6 s of silence."""
    srv = BridgeServer(small_config(identity_inline=identity_inline, heartbeat_interval_ms=100,
                                    heartbeat_timeout_s=0.6))
    srv.start_in_thread()
    yield srv
    srv.close()


def _ids(server: BridgeServer) -> list[int]:
    return [s.session_id for s in server.table.sessions()]


def _wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_silent_client_is_freed_then_reconnects_and_replays(fast_server: BridgeServer) -> None:
    image = np.full((8, 8, 4), 9, dtype=np.uint8)
    with BridgeClient(fast_server.endpoint, name="silent") as client:
        client.connect(timeout=5)
        client.set_prompt("a red castle", negative_prompt="blurry")
        client.set_params(guidance_scale=1.4)
        client.set_state("time_of_day", "night")
        first = client.session_id
        _wait_for(lambda: first not in _ids(fast_server))  # no call into the client: no heartbeat
        assert fast_server.stats.sessions_expired >= 1
        # the next call reads SESSION_EXPIRED, handshakes again and replays prompt, params and state
        deadline = time.monotonic() + 5
        while client.counters.reconnects == 0:
            assert time.monotonic() < deadline, "the client did not reconnect"
            client.receive(timeout=0.05)
        assert client.session_id != first and client.counters.reconnects == 1
        assert client.counters.lost_reason.startswith("server error SESSION_EXPIRED: session "), \
            client.counters.lost_reason
        client.submit(image)
        session = fast_server.table.get(next(s.identity for s in fast_server.table.sessions()
                                             if s.session_id == client.session_id))
        assert session is not None
        _wait_for(lambda: session.prompt_values.get("prompt") == "a red castle")
        assert session.prompt_values["guidance_scale"] == pytest.approx(1.4)
        assert session.state == {"time_of_day": "night"}
        result = client.receive(timeout=5)
        assert result is not None
        np.testing.assert_array_equal(result.image, image)


def test_heartbeats_keep_an_idle_client_alive(fast_server: BridgeServer) -> None:
    with BridgeClient(fast_server.endpoint, name="idle") as client:
        client.connect(timeout=5)
        first = client.session_id
        assert client.receive(timeout=1.5) is None  # idle for 2.5x the timeout, but receive() pings
        assert first in _ids(fast_server) and client.counters.reconnects == 0


def test_no_auto_reconnect_raises_a_clear_error(fast_server: BridgeServer) -> None:
    with BridgeClient(fast_server.endpoint, name="manual", auto_reconnect=False) as client:
        client.connect(timeout=5)
        first = client.session_id
        _wait_for(lambda: first not in _ids(fast_server))
        with pytest.raises(TransportError, match="reconnect"):  # once the SESSION_EXPIRED Error is read
            client.receive(timeout=5)
        with pytest.raises(TransportError, match="reconnect"):
            client.submit(np.zeros((4, 4, 3), dtype=np.uint8))
        client.reconnect(timeout=5)
        assert client.session_id != first


def test_bye_frees_the_session(server: BridgeServer) -> None:
    client = BridgeClient(server.endpoint, name="bye")  # heartbeat timeout 10 s: only Bye can free it
    client.connect(timeout=5)
    sid = client.session_id
    client.close()
    _wait_for(lambda: sid not in _ids(server), timeout=5)
    assert server.stats.sessions_expired == 0


def test_session_limit_is_refused_with_the_limit_named(fast_server: BridgeServer) -> None:
    clients = [BridgeClient(fast_server.endpoint, name=f"c{i}") for i in range(4)]
    try:
        for c in clients:
            c.connect(timeout=5)
        # without auto_reconnect the refusal comes at once (with it, connect tries again until its timeout:
        # test_connect_retry.py; here an idle session's heartbeat timeout would soon free a place)
        extra = BridgeClient(fast_server.endpoint, name="one-too-many", auto_reconnect=False)
        with pytest.raises(ProtocolError, match="max_sessions=4"):
            extra.connect(timeout=5)
        extra.close()
    finally:
        for c in clients:
            c.close()


def test_major_mismatch_is_refused_naming_both_versions(fast_server: BridgeServer) -> None:
    peer = RawPeer(fast_server.endpoint)
    try:
        peer.send_msg(m.Hello(protocol_major=9, protocol_minor=3, client_name="future"))
        err, _ = peer.recv()
        assert isinstance(err, m.ErrorMsg) and err.code is m.ErrorCode.VERSION_MISMATCH
        ours = f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}"  # generated from schemas/bridge.fbs
        assert "9.3" in err.message and ours in err.message and err.session_closed
        assert len(fast_server.table) == 0
        # a minor mismatch is accepted, with a warning in the Welcome
        peer.send_msg(m.Hello(protocol_major=1, protocol_minor=7, client_name="newer-minor",
                              capabilities=m.Capability.CREDITS))
        welcome, _ = peer.recv()
        assert isinstance(welcome, m.Welcome) and "1.7" in welcome.warning
    finally:
        peer.close()


def test_connect_timeout_is_a_transport_error() -> None:
    client = BridgeClient("tcp://127.0.0.1:9", name="nobody")  # nothing listens on the discard port
    with pytest.raises(TransportError, match=r"no Welcome .* within timeout=0.3"):
        client.connect(timeout=0.3)
    client.close()



def test_client_survives_a_server_restart() -> None:
    first = BridgeServer(small_config())
    endpoint = first.start_in_thread()
    image = np.full((6, 10, 3), 77, dtype=np.uint8)
    client = BridgeClient(endpoint, name="restart")
    try:
        client.connect(timeout=5)
        client.set_prompt("kept across restarts")
        first.close()  # says Bye to every session
        with pytest.raises(TransportError) as caught:  # reads the Bye, tries to reconnect, nobody answers
            client.receive(timeout=2)
        # why the session went comes first (it said only "no Welcome ...; is `sdbridge serve` running there?")
        assert str(caught.value).startswith("the session was lost (server said bye"), str(caught.value)
        assert "no Welcome from" in str(caught.value), str(caught.value)
        second = BridgeServer(with_overrides(small_config(), top={"bind": endpoint}))
        second.start_in_thread()
        try:
            deadline = time.monotonic() + 10
            while True:  # the next calls retry the handshake until the new server answers
                try:
                    client.submit(image)
                    break
                except TransportError:
                    assert time.monotonic() < deadline, "never reconnected to the restarted server"
            result = client.receive(timeout=5)
            assert result is not None
            np.testing.assert_array_equal(result.image, image)
            assert client.counters.lost_reason.startswith("server said bye"), client.counters.lost_reason
            session = second.table.sessions()[0]
            _wait_for(lambda: session.prompt_values.get("prompt") == "kept across restarts")
        finally:
            second.close()
    finally:
        client.close()
        first.close()


def test_a_result_that_already_arrived_is_returned_at_once() -> None:
    """Regression: receive() drained the waiting result, then polled a whole heartbeat period for another."""
    srv = BridgeServer(small_config(heartbeat_interval_ms=5000, heartbeat_timeout_s=30.0))
    srv.start_in_thread()
    try:
        with BridgeClient(srv.endpoint, name="prompt-return") as client:
            client.connect(timeout=5)
            frame_id = client.submit(np.zeros((4, 4, 3), dtype=np.uint8))
            _wait_for(lambda: srv.table.sessions()[0].stats.frames_processed == 1)
            time.sleep(0.2)  # the result is in the client's socket, not yet read
            start = time.monotonic()
            result = client.receive(timeout=10)
            waited = time.monotonic() - start
        assert result is not None and result.frame_id == frame_id
        assert waited < 2.5, f"receive() took {waited:.2f} s for a result that was already there"
    finally:
        srv.close()


class _FakeServer:
    """A bare ROUTER on a random loopback port that answers one Hello with a Welcome, from a thread, then
    does whatever the test's `then(router, identity)` does (nothing by default). With `inproc` it binds an inproc
    endpoint of the shared context instead: what it has sent is then in the client's socket as soon as the send
    returns (no I/O thread in between), so a test can read it without waiting."""

    def __init__(self, heartbeat_interval_ms: int, then: Callable[[zmq.Socket, bytes], None] | None = None,
                 inproc: bool = False) -> None:
        self.router = zmq.Context.instance().socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        if inproc:
            self.endpoint = f"inproc://sdbridge-fake-server-{id(self)}"
            self.router.bind(self.endpoint)
        else:
            self.endpoint = f"tcp://127.0.0.1:{self.router.bind_to_random_port('tcp://127.0.0.1')}"
        self._heartbeat_interval_ms = heartbeat_interval_ms
        self._then = then
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        assert self.router.poll(5000)
        identity, _hello = self.router.recv_multipart()
        welcome = m.Welcome(session_id=3, protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR,
                            initial_credits=2, max_width=64, max_height=64, max_message_bytes=1 << 20,
                            heartbeat_interval_ms=self._heartbeat_interval_ms)
        self.router.send_multipart([identity, codec.encode(welcome)])
        if self._then is not None:
            self._then(self.router, identity)

    def close(self) -> None:
        self.thread.join(5)
        self.router.close(0)


def test_receive_with_no_wait_returns_a_result_queued_behind_other_messages() -> None:
    """receive(timeout=0) (a game loop polling) handles what already arrived, past the time, up to the result."""

    def answer_the_frame(router: zmq.Socket, identity: bytes) -> None:
        assert router.poll(5000)
        identity, frame_header, pixels = router.recv_multipart()
        frame = codec.decode(frame_header)
        assert isinstance(frame, m.FrameHeader)
        for _ in range(5):  # other messages first: notices the client only logs
            router.send_multipart([identity, codec.encode(m.Notice(kind=m.NoticeKind.INFO, message="hi"))])
        result = m.ResultHeader(frame_id=frame.frame_id, width=frame.width, height=frame.height,
                                stride=frame.stride, pixel_format=frame.pixel_format, session_id=3,
                                credits_granted=1)
        router.send_multipart([identity, codec.encode(result), pixels])

    fake = _FakeServer(heartbeat_interval_ms=5000, then=answer_the_frame, inproc=True)
    client = BridgeClient(fake.endpoint, name="polling")  # the default context: the fake's, so inproc reaches it
    try:
        client.connect(timeout=5)
        frame_id = client.submit(np.full((4, 4, 4), 5, dtype=np.uint8))
        fake.thread.join(5)
        assert not fake.thread.is_alive()  # everything was sent, so (inproc) it is in the client's socket
        got = client.receive(timeout=0)
        assert got is not None and got.frame_id == frame_id and int(got.image[0, 0, 0]) == 5
        assert len(client.notices) == 5
    finally:
        client.close()
        fake.close()


def test_a_long_gap_on_our_side_is_not_taken_for_a_lost_server(identity_inline: bool) -> None:
    """A thread that did not run for a while (or a paused VM) sees a long silence the server never had:
    the client asks with a Ping before it gives the session up, and the live server's Pong keeps it.
    The server's heartbeat interval is a minute, so no heartbeat Ping goes out by itself in the gap: only the
    probe can keep the session."""
    srv = BridgeServer(small_config(identity_inline=identity_inline, heartbeat_interval_ms=60_000,
                                    heartbeat_timeout_s=120.0))
    srv.start_in_thread()
    try:
        with BridgeClient(srv.endpoint, name="starved", lost_after=0.5) as client:
            client.connect(timeout=5)
            first = client.session_id
            time.sleep(1.0)  # the scenario itself: this thread does not run for twice lost_after
            assert client.receive(timeout=2.5) is None  # nothing in flight: no result, just the waiting
            assert client.counters.reconnects == 0 and client.session_id == first, client.counters.lost_reason
            assert client.connected and client.counters.lost_reason == ""
            assert client.stats(timeout=5).session_id == first  # the same session still answers
    finally:
        srv.close()


def test_a_silent_server_is_given_up_after_an_unanswered_ping() -> None:
    """A server that answers the Hello and then nothing (not even Pings): lost after lost_after plus the
    Ping's grace second, with the reason saying so."""
    fake = _FakeServer(heartbeat_interval_ms=100)
    client = BridgeClient(fake.endpoint, name="to-a-silent-server", lost_after=0.5, auto_reconnect=False)
    try:
        client.connect(timeout=5)
        fake.thread.join(5)
        start = time.monotonic()
        with pytest.raises(TransportError, match="reconnect"):
            while time.monotonic() - start < 10:
                client.receive(timeout=0.2)
        waited = time.monotonic() - start
        assert 0.5 + 1.0 * 0.5 <= waited < 5.0, waited  # lost_after, then the grace (min(1 s, lost_after))
        assert "no answer to a Ping" in client.counters.lost_reason, client.counters.lost_reason
        # the client did ask: a Ping reached the silent server
        pings = 0
        while fake.router.poll(0):
            _identity, body = fake.router.recv_multipart()
            pings += isinstance(codec.decode(body), m.Ping)
        assert pings >= 1
    finally:
        client.close()
        fake.close()
