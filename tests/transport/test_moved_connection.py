"""A client whose connection libzmq re-made to a server that has no session for it (a replica behind a balancer,
a restarted server) starts a new session with a new Hello, and says so at INFO: the server's NOT_HELLO answer is
expected there, not a warning for the game's log."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from sdbridge.config import with_overrides
from sdbridge.errors import TransportError
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient
from tests.transport.conftest import small_config


def _serving(endpoint: str) -> BridgeServer:
    """A new server on `endpoint` once the closed one's listener is gone (libzmq closes it on its I/O thread)."""
    deadline = time.monotonic() + 10.0
    while True:
        server = BridgeServer(with_overrides(small_config(), top={"bind": endpoint}))
        try:
            server.start_in_thread()
            return server
        except TransportError:
            server.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _result_within(client: BridgeClient, image: np.ndarray, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.credits > 0 and not client.pending:
            client.submit(image)
        if client.receive(timeout=0.2) is not None:
            return True
    return False


def test_a_connection_moved_to_a_server_without_its_session_reconnects_quietly(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    first = BridgeServer(small_config())
    monkeypatch.setattr(first.outbound, "announce_shutdown", lambda: None)  # it goes as a killed replica does
    endpoint = first.start_in_thread()
    image = np.full((32, 32, 4), 90, np.uint8)
    client = BridgeClient(endpoint, name="moved")
    second: BridgeServer | None = None
    try:
        client.connect(timeout=10.0)
        assert _result_within(client, image, 10.0)
        first.close()  # the same address, a server that never saw this client: libzmq reconnects the socket to it
        second = _serving(endpoint)
        with caplog.at_level(logging.INFO, logger="sdbridge.transport.client"):
            assert _result_within(client, image, 20.0), "no result after the move"
        records = [r for r in caplog.records if r.name == "sdbridge.transport.client" and "NOT_HELLO" in r.message]
        assert records, "the new server never answered NOT_HELLO: the test did not move the connection"
        assert all(r.levelno == logging.INFO and "reconnecting with a new Hello" in r.message for r in records)
        assert client.counters.errors >= 1  # still counted
    finally:
        client.close()
        first.close()
        if second is not None:
            second.close()
