"""The client's handshake monitor (transport.client_io.ClientSocket.handshake) gets an inproc name of its own.

pyzmq's default `get_monitor_socket()` endpoint is `inproc://monitor.s-<fd>`, named after the socket's file
descriptor. A reconnect closes the old socket and opens a new one, which may get the old descriptor back (the lowest
free one) while libzmq's reaper thread still closes the old socket's monitor, whose endpoint stays bound until then:
zmq_socket_monitor then fails with 'Address already in use'. That window depends on the reaper thread's timing and
could not be hit on demand here (thousands of create/monitor/close rounds never hit it), so the tests show its two
halves deterministically: a new socket does get a closed socket's descriptor, hence its default monitor name; and a
handshake succeeds while that name is still bound (a stand-in for the old monitor), where the default name fails.
"""

from __future__ import annotations

import time

import pytest
import zmq

from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR
from sdbridge.transport.client_io import ClientSocket

from .test_liveness import _FakeServer


def _default_monitor_name(sock: zmq.Socket) -> str:
    return f"inproc://monitor.s-{sock.FD}"  # pyzmq's default in Socket.get_monitor_socket


def test_a_new_socket_gets_a_closed_sockets_descriptor_and_so_its_default_monitor_name() -> None:
    ctx = zmq.Context()
    held: list[zmq.Socket] = []
    try:
        old = ctx.socket(zmq.DEALER)
        old.setsockopt(zmq.LINGER, 0)
        name = _default_monitor_name(old)
        old.get_monitor_socket(zmq.EVENT_DISCONNECTED).close(0)
        old.disable_monitor()
        old.close(0)
        # libzmq frees the descriptor once its reaper has destroyed the socket; new sockets are held open so that
        # each takes the lowest free descriptor, which is the old one once it is free
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(held) < 500:
            held.append(ctx.socket(zmq.DEALER))
            held[-1].setsockopt(zmq.LINGER, 0)
            if _default_monitor_name(held[-1]) == name:
                break
        assert _default_monitor_name(held[-1]) == name, f"no new socket got {name} in {len(held)} sockets"
    finally:
        for sock in held:
            sock.close(0)
        ctx.destroy(linger=0)


def test_the_handshake_monitor_does_not_take_the_sockets_default_monitor_name() -> None:
    ctx = zmq.Context.instance()  # the fake server's context
    fake = _FakeServer(heartbeat_interval_ms=5000)
    client = ClientSocket(ctx, None)
    stale = ctx.socket(zmq.PAIR)
    stale.setsockopt(zmq.LINGER, 0)
    try:
        client.open(fake.endpoint)
        assert client.sock is not None
        stale.bind(_default_monitor_name(client.sock))  # an old socket's monitor with this descriptor, not unbound yet
        with pytest.raises(zmq.ZMQError) as refused:  # what the default name does then
            client.sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        assert refused.value.errno == zmq.EADDRINUSE
        hello = m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, client_name="monitor-test")
        answer = client.handshake(hello, timeout=10)
        assert isinstance(answer, m.Welcome) and answer.session_id == 3
    finally:
        client.close()
        stale.close(0)
        fake.close()
