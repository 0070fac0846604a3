"""Hello/Welcome decisions: version rules, capability and pixel-format negotiation."""

from __future__ import annotations

import pytest

from sdbridge.errors import ProtocolError, VersionMismatchError
from sdbridge.protocol.handshake import (
    Outcome,
    check_hello,
    check_welcome,
    negotiate_capabilities,
    negotiate_pixel_formats,
)
from sdbridge.protocol.messages import Capability, ErrorCode, Hello, PixelFormat, Welcome
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR

SERVER_CAPS = Capability.CREDITS | Capability.STATS | Capability.HEARTBEAT


def _hello(major: int = PROTOCOL_MAJOR, minor: int = PROTOCOL_MINOR, **kw: object) -> Hello:
    return Hello(major, minor, client_name="unity-test", **kw)  # type: ignore[arg-type]


def test_same_version_is_accepted_without_warning() -> None:
    d = check_hello(_hello(capabilities=Capability.CREDITS | Capability.NOTICES), server_capabilities=SERVER_CAPS)
    assert d.outcome is Outcome.ACCEPT and d.accepted
    assert d.warning == "" and d.error is None
    assert d.capabilities == Capability.CREDITS


def test_minor_mismatch_is_accepted_with_a_warning_naming_both_versions() -> None:
    d = check_hello(_hello(minor=3), server_capabilities=SERVER_CAPS, server_major=1, server_minor=0)
    assert d.outcome is Outcome.ACCEPT_WITH_WARNING and d.accepted
    assert "1.3" in d.warning and "1.0" in d.warning


@pytest.mark.parametrize(("client", "server", "fix"), [((2, 0), (1, 0), "pip install -U streamdiffusion-bridge"),
                                                       ((1, 4), (2, 1), "upgrade the engine plugin")])
def test_major_mismatch_is_refused_naming_both_versions_and_the_fix(
    client: tuple[int, int], server: tuple[int, int], fix: str
) -> None:
    d = check_hello(_hello(*client), server_capabilities=SERVER_CAPS, server_major=server[0], server_minor=server[1])
    assert d.outcome is Outcome.REFUSE and not d.accepted
    assert d.error is not None and d.error.code is ErrorCode.VERSION_MISMATCH
    assert f"speaks protocol {client[0]}.{client[1]}" in d.error.message
    assert f"this server speaks {server[0]}.{server[1]}" in d.error.message
    assert fix in d.error.message
    assert d.error.field == "Hello.protocol_major" and d.error.session_closed


def test_unset_major_is_refused_as_bad_param() -> None:
    d = check_hello(Hello(0, 0), server_capabilities=SERVER_CAPS)
    assert d.error is not None and d.error.code is ErrorCode.BAD_PARAM


def test_capabilities_are_intersected_and_unknown_bits_dropped() -> None:
    future_bit = 1 << 20
    got = negotiate_capabilities(int(Capability.CREDITS | Capability.SEED_BLEND) | future_bit,
                                 Capability.CREDITS | Capability.STATS | future_bit)
    assert got == Capability.CREDITS


def test_pixel_formats_keep_client_order_and_refuse_when_disjoint() -> None:
    client = (PixelFormat.BGRA8, PixelFormat.UNKNOWN, PixelFormat.RGBA8, PixelFormat.BGRA8)
    assert negotiate_pixel_formats(client, (PixelFormat.RGBA8, PixelFormat.BGRA8)) == (
        PixelFormat.BGRA8, PixelFormat.RGBA8)
    d = check_hello(_hello(pixel_formats=(PixelFormat.RGB8,)), server_capabilities=SERVER_CAPS,
                    server_pixel_formats=(PixelFormat.RGBA8,))
    assert d.error is not None and d.error.code is ErrorCode.UNSUPPORTED_PIXEL_FORMAT
    assert "RGB8" in d.error.message and "RGBA8" in d.error.message


def test_unstated_pixel_formats_get_every_server_format() -> None:
    d = check_hello(_hello(), server_capabilities=SERVER_CAPS, server_pixel_formats=(PixelFormat.RGBA8,))
    assert d.pixel_formats == (PixelFormat.RGBA8,)


def test_client_checks_welcome_versions() -> None:
    ok = Welcome(session_id=1, protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR)
    assert check_welcome(ok) == ""
    newer_minor = Welcome(session_id=1, protocol_major=1, protocol_minor=9)
    assert "1.9" in check_welcome(newer_minor, client_major=1, client_minor=0)
    with pytest.raises(VersionMismatchError) as info:
        check_welcome(Welcome(session_id=1, protocol_major=3, protocol_minor=0), client_major=1, client_minor=0)
    assert isinstance(info.value, ProtocolError) and info.value.code == ErrorCode.VERSION_MISMATCH
    assert "3.0" in str(info.value) and "1.0" in str(info.value)
