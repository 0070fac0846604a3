"""Every bad message gets an Error (or is dropped and counted); the session and the server stay up.

Each test sends one kind of bad input from a raw DEALER socket, checks the reply, then proves that
(a) the sender's own session (when it has one) still processes a frame and (b) another client is
still served.
"""

from __future__ import annotations

import flatbuffers
import numpy as np
import pytest
import zmq

from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.protocol._generated import bridge_generated as fb
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient
from sdbridge.transport.zmq_server import HARD_CAP_SLACK

from .conftest import MAX_BYTES, MAX_SIDE, RawPeer

E = m.ErrorCode


def _frame(frame_id: int = 1, w: int = 8, h: int = 4, **changes: object) -> m.FrameHeader:
    fields: dict[str, object] = dict(frame_id=frame_id, width=w, height=h, stride=w * 4,
                                     pixel_format=m.PixelFormat.RGBA8)
    fields.update(changes)
    return m.FrameHeader(**fields)  # type: ignore[arg-type]


def _pixels(w: int = 8, h: int = 4, value: int = 7) -> bytes:
    return bytes([value]) * (w * h * 4)


def _error(peer: RawPeer) -> m.ErrorMsg:
    message, _ = peer.recv()
    assert isinstance(message, m.ErrorMsg), message
    return message


def _assert_session_alive(peer: RawPeer, frame_id: int = 100) -> None:
    """The raw peer's session still turns a valid frame into a Result with the same pixels."""
    peer.send_msg(_frame(frame_id), _pixels(value=frame_id % 256))
    seen = peer.recv_until(m.ResultHeader)
    result = seen[-1]
    assert isinstance(result, m.ResultHeader) and result.frame_id == frame_id


def _assert_server_serves_others(server: BridgeServer) -> None:
    image = np.random.default_rng(1).integers(0, 256, (16, 24, 4), dtype=np.uint8)
    with BridgeClient(server.endpoint, name="bystander") as client:
        client.connect(timeout=5)
        frame_id = client.submit(image)
        result = client.receive(timeout=5)
        assert result is not None and result.frame_id == frame_id
        np.testing.assert_array_equal(result.image, image)


@pytest.fixture
def peer(server: BridgeServer) -> RawPeer:
    p = RawPeer(server.endpoint)
    yield p
    p.close()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bytes(server: BridgeServer, peer: RawPeer, seed: int) -> None:
    peer.hello()
    junk = np.random.default_rng(seed).integers(0, 256, 64 + seed * 100, dtype=np.uint8).tobytes()
    peer.send(junk)
    err = _error(peer)
    assert err.code in (E.WRONG_IDENTIFIER, E.BAD_MESSAGE, E.TRUNCATED)
    assert not err.session_closed
    _assert_session_alive(peer)
    _assert_server_serves_others(server)


def test_random_bytes_with_the_right_identifier(server: BridgeServer, peer: RawPeer) -> None:
    peer.hello()
    rng = np.random.default_rng(5)
    for _ in range(20):
        junk = bytearray(rng.integers(0, 256, 48, dtype=np.uint8).tobytes())
        junk[4:8] = b"SDB1"
        peer.send(bytes(junk))
        assert _error(peer).code in (E.BAD_MESSAGE, E.TRUNCATED, E.UNKNOWN_TYPE)
    _assert_session_alive(peer)
    _assert_server_serves_others(server)


def test_truncated_buffer(server: BridgeServer, peer: RawPeer) -> None:
    peer.hello()
    whole = codec.encode(m.Prompt(text="a castle" * 10, negative="blurry"))
    refused = set()
    for cut in range(1, len(whole)):  # every prefix; a Ping after each proves the session answers
        peer.send(whole[:cut])
        peer.send_msg(m.Ping(nonce=cut))
        for message in peer.recv_until(m.Pong):
            if isinstance(message, m.ErrorMsg):
                assert message.code in (E.TRUNCATED, E.BAD_MESSAGE, E.WRONG_IDENTIFIER), (cut, message)
                refused.add(cut)
            elif isinstance(message, m.Pong):
                assert message.nonce == cut
    # the trailing bytes may be alignment padding, so only prefixes that cut real data must fail
    assert {3, 7, 12, len(whole) // 2} <= refused
    _assert_session_alive(peer)
    _assert_server_serves_others(server)


def test_wrong_identifier(server: BridgeServer, peer: RawPeer) -> None:
    peer.hello()
    data = bytearray(codec.encode(m.Ping(nonce=1)))
    data[4:8] = b"SDB2"
    peer.send(bytes(data))
    err = _error(peer)
    assert err.code is E.WRONG_IDENTIFIER and "SDB2" in err.message and "SDB1" in err.message
    _assert_session_alive(peer)
    _assert_server_serves_others(server)


def test_unknown_message_type(server: BridgeServer, peer: RawPeer) -> None:
    peer.hello()
    b = flatbuffers.Builder(64)
    fb.ByeStart(b)
    body = fb.ByeEnd(b)
    fb.EnvelopeStart(b)
    fb.EnvelopeAddBody(b, body)
    fb.EnvelopeAddBodyType(b, 99)
    b.Finish(fb.EnvelopeEnd(b), file_identifier=b"SDB1")
    peer.send(bytes(b.Output()))
    err = _error(peer)
    assert err.code is E.UNKNOWN_TYPE and "99" in err.message
    # a known type the server never accepts from a client
    peer.send_msg(m.Pong(nonce=3))
    err = _error(peer)
    assert err.code is E.UNKNOWN_TYPE and "Pong" in err.message
    _assert_session_alive(peer)
    _assert_server_serves_others(server)


def test_frame_before_hello(server: BridgeServer, peer: RawPeer) -> None:
    peer.send_msg(_frame(), _pixels())
    err = _error(peer)
    assert err.code is E.NOT_HELLO and "Hello" in err.message
    peer.send_msg(m.Prompt(text="x"))
    assert _error(peer).code is E.NOT_HELLO
    peer.hello()  # the same connection can still start a session
    _assert_session_alive(peer)
    _assert_server_serves_others(server)


def test_pixel_part_size_mismatch_returns_the_credit(server: BridgeServer, peer: RawPeer) -> None:
    welcome = peer.hello()
    for _ in range(welcome.initial_credits + 1):  # more refusals than credits: each returns its credit
        peer.send_msg(_frame(5), _pixels()[:-1])
        seen = peer.recv_until(m.Credit)
        err = seen[0]
        assert isinstance(err, m.ErrorMsg) and err.code is E.BAD_PIXEL_SIZE
        assert err.frame_id == 5 and "127" in err.message and "128" in err.message
    # stride smaller than a row
    peer.send_msg(_frame(6, stride=8), _pixels()[:32])
    assert peer.recv_until(m.Credit)[0].code is E.BAD_PIXEL_SIZE  # type: ignore[union-attr]
    _assert_session_alive(peer)
    _assert_server_serves_others(server)


@pytest.mark.parametrize(
    ("w", "h", "code", "limit_text"),
    [
        (0, 4, E.BAD_DIMENSION, "width=0"),
        (8, 0, E.BAD_DIMENSION, "height=0"),
        (1 << 28, 4, E.TOO_LARGE, str(MAX_SIDE)),
        (60000, 60000, E.TOO_LARGE, str(MAX_SIDE)),
        (8, MAX_SIDE + 1, E.TOO_LARGE, str(MAX_SIDE)),
    ],
)
def test_zero_or_huge_dimensions_refused_before_allocation(
    server: BridgeServer, peer: RawPeer, w: int, h: int, code: m.ErrorCode, limit_text: str
) -> None:
    peer.hello()
    # the pixel part is tiny: a server that trusted the header would try to allocate w*h*4 bytes
    peer.send_msg(_frame(9, w=w, h=h, stride=min(max(w, 1) * 4, 2**32 - 1)), b"\0" * 16)
    err = peer.recv_until(m.Credit)[0]
    assert isinstance(err, m.ErrorMsg) and err.code is code and limit_text in err.message
    _assert_session_alive(peer)
    _assert_server_serves_others(server)


def test_one_part_frame_and_three_parts(server: BridgeServer, peer: RawPeer) -> None:
    peer.hello()
    peer.send_msg(_frame(11))  # header without its pixel part
    err = peer.recv_until(m.Credit)[0]
    assert isinstance(err, m.ErrorMsg) and err.code is E.BAD_PART_COUNT and "2 ZeroMQ parts" in err.message
    peer.send_msg(_frame(12), _pixels(), b"extra")
    err = peer.recv_until(m.Credit)[0]
    assert isinstance(err, m.ErrorMsg) and err.code is E.BAD_PART_COUNT and "3" in err.message
    peer.send_msg(m.Prompt(text="x"), b"pixels?")  # a control message with a pixel part
    assert _error(peer).code is E.BAD_PART_COUNT
    _assert_session_alive(peer)
    _assert_server_serves_others(server)


def test_oversize_message_gets_an_error(server: BridgeServer, peer: RawPeer) -> None:
    peer.hello()
    peer.send_msg(_frame(13), b"\0" * (MAX_BYTES + 1))  # above the limit, below ZMQ_MAXMSGSIZE
    err = peer.recv_until(m.Credit)[0]
    assert isinstance(err, m.ErrorMsg) and err.code is E.TOO_LARGE and str(MAX_BYTES) in err.message
    _assert_session_alive(peer)
    _assert_server_serves_others(server)


def test_message_above_the_socket_cap_drops_only_that_connection(server: BridgeServer, peer: RawPeer) -> None:
    peer.hello()
    peer.send_msg(_frame(14), b"\0" * (MAX_BYTES + HARD_CAP_SLACK + 1))  # libzmq closes this connection
    with pytest.raises(zmq.Again):
        peer.recv(timeout_ms=500)
    _assert_server_serves_others(server)


def test_frame_without_credit_is_refused_and_counted(server: BridgeServer, peer: RawPeer) -> None:
    welcome = peer.hello()
    # freeze the worker's input by filling the credits faster than identity answers is racy; instead
    # send credits+3 frames back to back and check that every frame is answered by exactly one of
    # Result, Credit (dropped in the latest-wins slot) or Error NO_CREDIT, never more, never less.
    n = welcome.initial_credits + 3
    for i in range(n):
        peer.send_msg(_frame(20 + i), _pixels())
    answered: dict[int, str] = {}
    credits_back = 0
    while len(answered) + credits_back < n:
        message, _ = peer.recv()
        if isinstance(message, m.ResultHeader):
            answered[message.frame_id] = "result"
        elif isinstance(message, m.ErrorMsg):
            assert message.code is E.NO_CREDIT and message.frame_id is not None
            answered[message.frame_id] = "refused"
        elif isinstance(message, m.Credit):
            credits_back += message.granted
    stats_request = m.StatsRequest(request_id=7)
    peer.send_msg(stats_request)
    stats = peer.recv_until(m.Stats)[-1]
    assert isinstance(stats, m.Stats)
    assert stats.frames_dropped == credits_back
    assert stats.frames_in == n - sum(1 for v in answered.values() if v == "refused")
    _assert_session_alive(peer, frame_id=200)
    _assert_server_serves_others(server)


def test_rejections_are_counted(server: BridgeServer, peer: RawPeer) -> None:
    peer.send(b"garbage-garbage")
    _error(peer)
    assert sum(server.stats.rejected.values()) >= 1


def test_internal_error_keeps_session_and_server(server: BridgeServer, peer: RawPeer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    peer.hello()

    def broken(*args: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(server.dispatcher, "on_params", broken)
    peer.send_msg(m.Params(guidance_scale=1.5))
    err = _error(peer)
    assert err.code is E.INTERNAL and "simulated bug" in err.message
    _assert_session_alive(peer)
    _assert_server_serves_others(server)


def test_second_stream_is_refused_one_connection_per_stream(server: BridgeServer, peer: RawPeer) -> None:
    peer.hello()
    peer.send_msg(_frame(30, stream_id=1), _pixels())
    err = peer.recv_until(m.Credit)[0]
    assert isinstance(err, m.ErrorMsg) and err.code is E.BAD_PARAM and err.field == "Frame.stream_id"
    peer.send_msg(m.Prompt(text="x", stream_id=2))
    assert _error(peer).code is E.BAD_PARAM
    _assert_session_alive(peer)
    _assert_server_serves_others(server)
