"""Fixtures: an in-process server (identity model, small limits) on a random loopback port, run both with the
identity model inline and through the worker (the `identity_inline` fixture of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import zmq

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR
from sdbridge.server import BridgeServer

MAX_SIDE = 128
MAX_BYTES = MAX_SIDE * MAX_SIDE * 4 + 4096


def small_config(*, identity_inline: bool = True, **session: object) -> ServerConfig:
    """Identity model (inline on the I/O thread, or through the worker), 128x128 limit, random port."""
    return with_overrides(
        ServerConfig(),
        model={"name": "identity", "identity_inline": identity_inline},
        limits={"max_width": MAX_SIDE, "max_height": MAX_SIDE, "max_message_bytes": MAX_BYTES,
                "max_sessions": 4},
        session=dict(session),
        top={"bind": "tcp://127.0.0.1:*"},
    )


@pytest.fixture
def server(identity_inline: bool) -> Iterator[BridgeServer]:
    """A running identity server, inline and through the worker; closed (worker joined, sockets closed) after the
    test."""
    srv = BridgeServer(small_config(identity_inline=identity_inline))
    srv.start_in_thread()
    yield srv
    srv.close()


class RawPeer:
    """A bare DEALER socket for sending hand-made (bad) messages. Every receive has a timeout."""

    def __init__(self, endpoint: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, 5000)
        self.sock.connect(endpoint)

    def send(self, *parts: bytes) -> None:
        self.sock.send_multipart(list(parts))

    def send_msg(self, message: m.Message, *extra: bytes) -> None:
        self.send(codec.encode(message), *extra)

    def recv(self, timeout_ms: int = 5000) -> tuple[m.Message, memoryview | None]:
        """The next message; raises zmq.Again after `timeout_ms`."""
        if not self.sock.poll(timeout_ms):
            raise zmq.Again(f"no message within {timeout_ms} ms")
        return codec.decode_multipart(self.sock.recv_multipart())

    def recv_until(self, kind: type, timeout_ms: int = 5000) -> list[m.Message]:
        """Messages up to and including the first of type `kind`."""
        seen: list[m.Message] = []
        while True:
            message, _ = self.recv(timeout_ms)
            seen.append(message)
            if isinstance(message, kind):
                return seen

    def hello(self) -> m.Welcome:
        self.send_msg(m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, client_name="raw",
                                capabilities=m.Capability.CREDITS))
        welcome = self.recv_until(m.Welcome)[-1]
        assert isinstance(welcome, m.Welcome)
        return welcome

    def close(self) -> None:
        self.sock.close(0)
