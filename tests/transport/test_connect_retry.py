"""BridgeClient.connect() tries a full replica's refusal (SessionLimit) again with backoff until its timeout, as the
C# and C++ clients do (behind a balancer the next try may land on a replica with room); without auto_reconnect it
raises the refusal at once."""

from __future__ import annotations

import threading
import time

import pytest

from sdbridge.config import with_overrides
from sdbridge.errors import ProtocolError
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

from .conftest import small_config


def _one_session_server() -> BridgeServer:
    server = BridgeServer(with_overrides(small_config(), limits={"max_sessions": 1}))
    server.start_in_thread()
    return server


def test_a_full_server_then_a_free_one_lets_the_waiting_client_in() -> None:
    server = _one_session_server()
    holder = BridgeClient(server.endpoint, name="holder")
    waiting = BridgeClient(server.endpoint, name="waiting")
    try:
        held = holder.connect(timeout=10).session_id
        threading.Timer(0.6, holder.close).start()  # its Bye frees the only session
        start = time.monotonic()
        welcome = waiting.connect(timeout=10)
        waited = time.monotonic() - start
        assert welcome.session_id != held and waiting.connected
        assert 0.5 <= waited < 9, waited  # refused while held, let in soon after the Bye
        assert waiting.backoff.tries == 0  # reset by the success
    finally:
        waiting.close()
        holder.close()
        server.close()


def test_without_auto_reconnect_or_past_the_timeout_the_refusal_is_raised() -> None:
    server = _one_session_server()
    holder = BridgeClient(server.endpoint, name="holder")
    try:
        holder.connect(timeout=10)
        start = time.monotonic()
        with pytest.raises(ProtocolError, match="SESSION_LIMIT"):
            BridgeClient(server.endpoint, name="once", auto_reconnect=False).connect(timeout=10)
        assert time.monotonic() - start < 5  # at once, not after the timeout
        start = time.monotonic()
        patient = BridgeClient(server.endpoint, name="patient")
        with pytest.raises(ProtocolError, match="SESSION_LIMIT"):
            patient.connect(timeout=1.0)  # tried again until the next delay would pass its timeout
        assert time.monotonic() - start < 5
        assert patient.backoff.tries >= 2  # refused more than once before giving up
        patient.close()
    finally:
        holder.close()
        server.close()
