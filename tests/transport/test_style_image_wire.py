"""Hostile StyleImage messages (protocol 1.4) through a real server: each refused with an Error naming the field,
the session staying up; and style images held per session within limits.max_style_images."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR

from .conftest import MAX_SIDE, RawPeer
from .test_protocol14 import Served

GOOD = m.StyleImage("ink", 4, 2, 16, m.PixelFormat.RGBA8)


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served(ip_adapter="tiny")
    s.server.start_in_thread()
    yield s
    s.server.close()


def _peer(served: Served, capabilities: m.Capability = m.Capability.CREDITS | m.Capability.STYLE_IMAGES) -> RawPeer:
    peer = RawPeer(served.server.endpoint)
    peer.send_msg(m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, client_name="styles",
                          capabilities=capabilities))
    assert isinstance(peer.recv_until(m.Welcome)[-1], m.Welcome)
    return peer


def _refusal(peer: RawPeer, *parts: bytes) -> m.ErrorMsg:
    """Send `parts`; the Error it gets, after checking the session still answers a Ping."""
    peer.send(*parts)
    error = peer.recv_until(m.ErrorMsg)[-1]
    assert isinstance(error, m.ErrorMsg) and not error.session_closed
    peer.send_msg(m.Ping(nonce=1))
    assert peer.recv_until(m.Pong)
    return error


def _raw_header(**fields: object) -> bytes:
    """A StyleImage header with fields the encoder takes but the server refuses (no client-side check)."""
    return codec.encode(m.StyleImage(**{"name": "ink", "width": 4, "height": 2, "stride": 16,
                                        "format": m.PixelFormat.RGBA8, **fields}))  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "pixels", "code", "field"), [
    ({}, 31, m.ErrorCode.BAD_PIXEL_SIZE, "StyleImage.stride"),
    ({"name": ""}, 32, m.ErrorCode.BAD_PARAM, "StyleImage.name"),
    ({"width": 0}, 32, m.ErrorCode.BAD_DIMENSION, "StyleImage.width"),
    ({"width": MAX_SIDE + 1, "stride": 4 * (MAX_SIDE + 1)}, 8 * (MAX_SIDE + 1), m.ErrorCode.TOO_LARGE,
     "StyleImage.width"),
    ({"stride": 8}, 16, m.ErrorCode.BAD_PIXEL_SIZE, "StyleImage.stride"),
    ({"format": m.PixelFormat.UNKNOWN}, 32, m.ErrorCode.UNSUPPORTED_PIXEL_FORMAT, "StyleImage.format"),
    ({"row_order": m.RowOrder.UNKNOWN}, 32, m.ErrorCode.BAD_PARAM, "StyleImage.row_order"),
], ids=["short-pixels", "no-name", "zero-width", "too-wide", "small-stride", "unknown-format", "unknown-rows"])
def test_a_bad_style_image_is_refused_naming_the_field(served: Served, fields: dict[str, object], pixels: int,
                                                       code: m.ErrorCode, field: str) -> None:
    peer = _peer(served)
    try:
        error = _refusal(peer, _raw_header(**fields), bytes(pixels))
    finally:
        peer.close()
    assert (error.code, error.field) == (code, field), error.message
    assert "style_images" not in served.updates()


def test_a_style_image_without_its_pixel_part_is_refused(served: Served) -> None:
    peer = _peer(served)
    try:
        error = _refusal(peer, codec.encode(GOOD))
    finally:
        peer.close()
    assert (error.code, error.field) == (m.ErrorCode.BAD_PART_COUNT, "StyleImage")


def test_style_images_need_the_capability(served: Served) -> None:
    peer = _peer(served, m.Capability.CREDITS)  # the server offers it; this client did not ask for it
    try:
        error = _refusal(peer, *codec.encode_style_image(GOOD, bytes(32)))
    finally:
        peer.close()
    assert (error.code, error.field) == (m.ErrorCode.BAD_PARAM, "StyleImage")
    assert "StyleImages capability" in error.message


def test_a_server_without_ip_adapter_refuses_style_images() -> None:
    s = Served()
    s.server.start_in_thread()
    try:
        peer = _peer(s)  # asks for StyleImages; the server does not grant it
        error = _refusal(peer, *codec.encode_style_image(GOOD, bytes(32)))
        session_id = next(x.session_id for x in s.server.table.sessions())
        page = s.server.submit_control(session_id, GOOD, "preview", bytes(32))  # nor from the preview page
        with pytest.raises(Exception, match="this server has no IP-Adapter"):
            page.result(timeout=10)
        peer.close()
    finally:
        s.server.close()
    assert (error.code, error.field) == (m.ErrorCode.BAD_PARAM, "StyleImage")
    assert "no IP-Adapter" in error.message


def test_the_preview_page_s_upload_needs_no_client_capability(served: Served) -> None:
    peer = _peer(served, m.Capability.CREDITS)  # an engine client that does not send style images itself
    try:
        session_id = next(s.session_id for s in served.server.table.sessions())
        served.server.submit_control(session_id, GOOD, "preview", bytes(32)).result(timeout=10)
        frame = m.FrameHeader(frame_id=1, width=4, height=2, stride=16, pixel_format=m.PixelFormat.RGBA8)
        peer.send(*codec.encode_frame(frame, bytes(32)))
        assert peer.recv_until(m.ResultHeader)
    finally:
        peer.close()
    assert served.updates()["style_images"].names == ("ink",)


def test_a_session_holds_at_most_max_style_images_names(served: Served) -> None:
    peer = _peer(served)  # the fixture's limits.max_style_images is 2
    try:
        for name in ("a", "b", "a"):  # a name sent again replaces its image: no new name
            peer.send(*codec.encode_style_image(m.StyleImage(name, 4, 2, 16, m.PixelFormat.RGBA8), bytes(32)))
        error = _refusal(peer, *codec.encode_style_image(m.StyleImage("c", 4, 2, 16, m.PixelFormat.RGBA8),
                                                         bytes(32)))
        frame = m.FrameHeader(frame_id=1, width=4, height=2, stride=16, pixel_format=m.PixelFormat.RGBA8)
        peer.send(*codec.encode_frame(frame, bytes(32)))  # its turn applies the queued style images first
        assert peer.recv_until(m.ResultHeader)
    finally:
        peer.close()
    assert (error.code, error.field) == (m.ErrorCode.TOO_LARGE, "StyleImage.name")
    assert "limits.max_style_images=2" in error.message and "a, b" in error.message
    assert served.updates()["style_images"].names == ("a", "b")  # queued together: merged by name, none lost


def test_a_bgra_bottom_up_style_image_reaches_the_pipeline_top_down_rgb(served: Served) -> None:
    rng = np.random.default_rng(9)
    rows = rng.integers(0, 256, (2, 5, 4), dtype=np.uint8)  # as sent: BGRA, bottom row first, 4 padding bytes a row
    wire = np.zeros((2, 24), dtype=np.uint8)
    wire[:, :20] = rows.reshape(2, 20)
    peer = _peer(served)
    try:
        peer.send(*codec.encode_style_image(m.StyleImage("paper", 5, 2, 24, m.PixelFormat.BGRA8,
                                                         m.RowOrder.BOTTOM_UP), wire.tobytes()))
        peer.send_msg(m.Ping(nonce=2))
        assert peer.recv_until(m.Pong)
        frame = m.FrameHeader(frame_id=1, width=4, height=2, stride=16, pixel_format=m.PixelFormat.RGBA8)
        peer.send(*codec.encode_frame(frame, bytes(32)))  # its turn applies the queued style image first
        assert peer.recv_until(m.ResultHeader)
    finally:
        peer.close()
    styles = served.updates()["style_images"]
    assert styles.names == ("paper",)
    np.testing.assert_array_equal(styles.images[0][1], rows[::-1, :, 2::-1])
