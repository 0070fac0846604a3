"""Hello / Welcome decisions as pure functions (no sockets, no state).

The server calls :func:`check_hello` on a session's first message and answers Welcome (accepted, maybe
with a warning) or Error (refused). Clients call :func:`check_welcome` on the answer. Versions are the
integers of ``sdbridge.protocol.version``, never parsed strings.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable

from sdbridge.errors import VersionMismatchError
from sdbridge.protocol.messages import Capability, ErrorCode, ErrorMsg, Hello, PixelFormat, Welcome
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR

PACKAGE = "streamdiffusion-bridge"


class Outcome(enum.Enum):
    """What the server does with a Hello."""

    ACCEPT = "accept"
    ACCEPT_WITH_WARNING = "accept-with-warning"  # minor versions differ
    REFUSE = "refuse"


@dataclasses.dataclass(frozen=True, slots=True)
class HandshakeDecision:
    """Result of :func:`check_hello`.

    ``capabilities`` and ``pixel_formats`` are the negotiated sets to put in Welcome; ``warning`` goes in
    Welcome.warning; ``error`` is the Error to send when the outcome is REFUSE.
    """

    outcome: Outcome
    capabilities: Capability = Capability.NONE
    pixel_formats: tuple[PixelFormat, ...] = ()
    warning: str = ""
    error: ErrorMsg | None = None

    @property
    def accepted(self) -> bool:
        """True unless refused."""
        return self.outcome is not Outcome.REFUSE


def negotiate_capabilities(client: Capability | int, server: Capability | int) -> Capability:
    """Capabilities both sides have (bitwise intersection); unknown bits of newer peers drop out."""
    known = Capability(0)
    for flag in Capability:
        known |= flag
    return Capability(int(client) & int(server) & int(known))


def negotiate_pixel_formats(
    client: Iterable[PixelFormat], server: Iterable[PixelFormat]
) -> tuple[PixelFormat, ...]:
    """Formats both sides support, in the client's order of preference (UNKNOWN never included)."""
    accepted = set(server)
    out: list[PixelFormat] = []
    for fmt in client:
        if fmt in accepted and fmt is not PixelFormat.UNKNOWN and fmt not in out:
            out.append(fmt)
    return tuple(out)


def major_mismatch_message(client_major: int, client_minor: int, server_major: int, server_minor: int,
                           who: str = "client") -> str:
    """The refusal text: names both versions and what to install."""
    if client_major > server_major:
        fix = (f"upgrade the server: install the {PACKAGE} release that speaks protocol {client_major}.x "
               f"(pip install -U {PACKAGE}), or use a plugin release that speaks protocol {server_major}.x")
    else:
        fix = (f"upgrade the engine plugin to a release that speaks protocol {server_major}.x, or run the "
               f"{PACKAGE} release that speaks protocol {client_major}.x")
    return (f"{who} speaks protocol {client_major}.{client_minor}, this server speaks "
            f"{server_major}.{server_minor}: {fix}")


def check_hello(
    hello: Hello,
    *,
    server_capabilities: Capability,
    server_pixel_formats: Iterable[PixelFormat] = (PixelFormat.RGBA8, PixelFormat.BGRA8, PixelFormat.RGB8),
    server_major: int = PROTOCOL_MAJOR,
    server_minor: int = PROTOCOL_MINOR,
) -> HandshakeDecision:
    """Decide on a client's Hello: accept, accept with a warning (minor mismatch) or refuse.

    Refused: a different protocol major (VERSION_MISMATCH), a major of 0 (BAD_PARAM: the field was not
    set), or pixel formats listed but none the server accepts (UNSUPPORTED_PIXEL_FORMAT). An empty
    ``Hello.pixel_formats`` means "not stated" and gets every server format.
    """
    who = f"client {hello.client_name!r}" if hello.client_name else "client"
    if hello.protocol_major == 0:
        return HandshakeDecision(Outcome.REFUSE, error=ErrorMsg(
            ErrorCode.BAD_PARAM,
            f"Hello.protocol_major=0 is not a protocol version; this server speaks {server_major}."
            f"{server_minor}: set protocol_major/protocol_minor from your plugin's ProtocolVersion",
            field="Hello.protocol_major", session_closed=True,
        ))
    if hello.protocol_major != server_major:
        return HandshakeDecision(Outcome.REFUSE, error=ErrorMsg(
            ErrorCode.VERSION_MISMATCH,
            major_mismatch_message(hello.protocol_major, hello.protocol_minor, server_major, server_minor, who),
            field="Hello.protocol_major", session_closed=True,
        ))
    server_formats = tuple(server_pixel_formats)
    formats = (negotiate_pixel_formats(hello.pixel_formats, server_formats) if hello.pixel_formats
               else tuple(f for f in server_formats if f is not PixelFormat.UNKNOWN))
    if not formats:
        offered = ", ".join(f.name for f in hello.pixel_formats)
        accepted = ", ".join(f.name for f in server_formats)
        return HandshakeDecision(Outcome.REFUSE, error=ErrorMsg(
            ErrorCode.UNSUPPORTED_PIXEL_FORMAT,
            f"Hello.pixel_formats=[{offered}] has no format this server accepts ([{accepted}]); "
            "send frames in one of those",
            field="Hello.pixel_formats", session_closed=True,
        ))
    caps = negotiate_capabilities(hello.capabilities, server_capabilities)
    if hello.protocol_minor != server_minor:
        newer = "client" if hello.protocol_minor > server_minor else "server"
        warning = (f"{who} speaks protocol {hello.protocol_major}.{hello.protocol_minor}, this server speaks "
                   f"{server_major}.{server_minor}: accepted; features of the newer minor ({newer}) are "
                   "unavailable; update the older side to match")
        return HandshakeDecision(Outcome.ACCEPT_WITH_WARNING, caps, formats, warning)
    return HandshakeDecision(Outcome.ACCEPT, caps, formats)


def check_welcome(welcome: Welcome, *, client_major: int = PROTOCOL_MAJOR,
                  client_minor: int = PROTOCOL_MINOR) -> str:
    """Client side: raise VersionMismatchError if the server's major differs; return a warning or ""."""
    if welcome.protocol_major != client_major:
        raise VersionMismatchError(
            ErrorCode.VERSION_MISMATCH,
            major_mismatch_message(client_major, client_minor, welcome.protocol_major, welcome.protocol_minor,
                                   "this client"),
        )
    if welcome.protocol_minor != client_minor:
        return (welcome.warning or
                f"server speaks protocol {welcome.protocol_major}.{welcome.protocol_minor}, this client "
                f"{client_major}.{client_minor}: features of the newer minor are unavailable")
    return welcome.warning
