"""A server answering Hello in another protocol (a Welcome with another major's file identifier) is a version
mismatch at once, as the C# and C++ clients report it; before, the Python client dropped the answer as malformed and
waited out its timeout with "no Welcome ... is sdbridge serve running there?"."""

from __future__ import annotations

import threading
import time

import pytest
import zmq

from sdbridge.errors import VersionMismatchError
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import FILE_IDENTIFIER, PROTOCOL_MAJOR, PROTOCOL_MINOR
from sdbridge.transport.client import BridgeClient


def _foreign_server(stop: threading.Event) -> tuple[str, threading.Thread]:
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind("tcp://127.0.0.1:*")
    endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
    welcome = bytearray(codec.encode(m.Welcome(session_id=1, protocol_major=PROTOCOL_MAJOR,
                                               protocol_minor=PROTOCOL_MINOR, initial_credits=1)))
    assert bytes(welcome[4:8]) == FILE_IDENTIFIER
    welcome[4:8] = b"SDB2"  # what a server of another major would send

    def serve() -> None:
        try:
            while not stop.is_set():
                if router.poll(50):
                    identity, _ = router.recv_multipart()
                    router.send_multipart([identity, bytes(welcome)])
        finally:
            router.close(0)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return endpoint, thread


@pytest.mark.parametrize("auto_reconnect", [True, False])
def test_a_welcome_in_another_protocol_is_a_version_mismatch_at_once(auto_reconnect: bool) -> None:
    stop = threading.Event()
    endpoint, thread = _foreign_server(stop)
    client = BridgeClient(endpoint, name="foreign", auto_reconnect=auto_reconnect)
    try:
        start = time.monotonic()
        with pytest.raises(VersionMismatchError, match="answered Hello in another protocol") as refused:
            client.connect(timeout=8)
        assert time.monotonic() - start < 4  # not the timeout, not retried
        assert "SDB2" in str(refused.value) and f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}" in str(refused.value)
        assert not client.connected
    finally:
        client.close()
        stop.set()
        thread.join(timeout=5)
