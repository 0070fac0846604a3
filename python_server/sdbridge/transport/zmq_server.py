"""The server's ROUTER socket and a cross-thread waker, knowing nothing about message contents.

One ROUTER socket serves every engine session; each DEALER peer is told apart by the routing identity
ZeroMQ prepends to its messages. The socket is owned by the server's I/O thread only (ZeroMQ sockets
are not thread-safe); the worker thread hands results over through `Waker`, an inproc PAIR pair.

Socket options: linger 0 (close never blocks), a small receive high-water mark and a send one the server
derives from its credits and limits.max_queued_results (sdbridge.config.ServerConfig.send_hwm: small, so
that a peer that never reads pins only a few results, yet with room for what an honest client leaves
unread although libzmq's view of a pipe's fill level lags by up to half the HWM; a send that meets it
fails with EAGAIN under ROUTER_MANDATORY instead of being dropped silently), ZMQ_MAXMSGSIZE as a hard memory cap
(libzmq drops the connection of a peer that sends a larger part; the server's own per-part check with
an Error reply sits below that cap),
ROUTER_MANDATORY so a result for a vanished peer is counted instead of silently lost, and optionally
CurveZMQ (sdbridge.transport.curve).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import zmq

from sdbridge.errors import TransportError
from sdbridge.transport.curve import CurveKeys, apply_server_options
from sdbridge.transport.parts import NOBLOCK, NOBLOCK_MORE, readable, recv_parts

log = logging.getLogger(__name__)

#: ZMQ_MAXMSGSIZE is this many bytes above the configured part limit so that a part slightly over the
#: limit still arrives and gets a TooLarge Error instead of a silent disconnect.
HARD_CAP_SLACK = 1 << 20

#: Messages kept per peer, in order, while its send queue is full (a burst of replies meets the small send
#: HWM): they go out on a later `flush`. Beyond this many a peer's messages are dropped and counted.
MAX_BACKLOG = 1000

_SENT, _FULL, _GONE = 0, 1, 2


@dataclass
class TransportStats:
    """Counters of the ROUTER socket."""

    messages_in: int = 0
    messages_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    send_dropped_hwm: int = 0  # peer's send queue and its backlog (MAX_BACKLOG) full: message dropped
    send_backlogged: int = 0  # messages that met a full send queue and waited in the peer's backlog
    send_unroutable: int = 0  # peer gone


class RouterTransport:
    """A bound ROUTER socket with non-blocking receive and send."""

    def __init__(
        self,
        endpoint: str,
        max_message_bytes: int,
        send_hwm: int = 11,
        recv_hwm: int = 16,
        context: zmq.Context | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.SNDHWM, send_hwm)
        self._sock.setsockopt(zmq.RCVHWM, recv_hwm)
        self._sock.setsockopt(zmq.MAXMSGSIZE, max_message_bytes + HARD_CAP_SLACK)
        self._sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        if curve is not None:  # CurveZMQ server; the context's ZAP handler decides which clients may connect
            apply_server_options(self._sock, curve)
        self.max_message_bytes = max_message_bytes
        self.stats = TransportStats()
        self._last_drop_log = -1.0
        self._backlog: dict[bytes, deque[tuple[bytes, object | None]]] = {}  # peers whose send queue was full
        try:
            self._sock.bind(endpoint)
        except zmq.ZMQError as exc:
            self._sock.close(0)
            raise TransportError(
                f"cannot bind ROUTER to {endpoint!r}: {exc}; pick a free port or another --bind"
            ) from exc
        self.endpoint: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)

    @property
    def socket(self) -> zmq.Socket:
        """The underlying socket (for a poller). Use only from the I/O thread."""
        return self._sock

    def recv(self) -> tuple[bytes, list[zmq.Frame]] | None:
        """Receive one message without blocking: (routing identity, parts), or None if none waits.

        Parts are zmq.Frame objects (no copy); `frame.buffer` is a memoryview of the bytes.
        """
        try:
            frames = recv_parts(self._sock)
        except zmq.Again:
            return None
        self.stats.messages_in += 1
        self.stats.bytes_in += sum(len(f) for f in frames[1:])
        return bytes(frames[0].bytes), frames[1:]

    def readable(self) -> bool:
        """True when a message waits (a flag read: cheaper than a receive that finds nothing and raises)."""
        return readable(self._sock)

    def send(self, identity: bytes, header: bytes, payload: object | None = None) -> bool:
        """Send `header` (+ `payload`, zero-copy) to one peer without blocking.

        A message that meets the peer's full send queue (SNDHWM) waits in that peer's backlog, in order, and
        goes out on a later `flush`: a burst of replies loses nothing. Returns False (and counts why) only when
        the peer is gone or its backlog holds MAX_BACKLOG messages already; never blocks.
        """
        backlog = self._backlog.get(identity)
        if backlog is None:
            status = self._send_now(identity, header, payload)
            if status != _FULL:
                return status == _SENT
            backlog = self._backlog[identity] = deque()
        if len(backlog) >= MAX_BACKLOG:
            self.stats.send_dropped_hwm += 1
            now = time.monotonic()
            if now - self._last_drop_log >= 1.0:  # at most one line a second, however many are dropped
                self._last_drop_log = now
                log.warning("send queue and backlog of peer %r are full: messages are dropped (%d so far)",
                            identity, self.stats.send_dropped_hwm)
            return False
        backlog.append((header, payload))
        self.stats.send_backlogged += 1
        return True

    def _send_now(self, identity: bytes, header: bytes, payload: object | None) -> int:
        try:
            # identity and header copied (small; cheaper than wrapping them as zero-copy frames), payload
            # zero-copy. The identity part is where ROUTER_MANDATORY and the HWM refuse a message.
            self._sock.send(identity, NOBLOCK_MORE)
            if payload is None:
                self._sock.send(header, NOBLOCK)
            else:
                self._sock.send(header, NOBLOCK_MORE)
                self._sock.send(payload, NOBLOCK, copy=False)
        except zmq.Again:
            return _FULL
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                self.stats.send_unroutable += 1
                return _GONE
            raise
        self.stats.messages_out += 1
        self.stats.bytes_out += len(header)
        return _SENT

    @property
    def backlogged(self) -> bool:
        """True when some peer's messages wait for room in its send queue (call `flush`)."""
        return bool(self._backlog)

    def flush(self) -> None:
        """Send what waits in the backlogs, in order, until a peer's queue is full again (I/O thread)."""
        for identity in list(self._backlog):
            backlog = self._backlog[identity]
            while backlog:
                header, payload = backlog[0]
                status = self._send_now(identity, header, payload)
                if status == _FULL:
                    break
                backlog.popleft()
                if status == _GONE:
                    backlog.clear()
            if not backlog:
                del self._backlog[identity]

    def backlog_payloads(self, identity: bytes) -> int:
        """Messages with a payload (Results) waiting in the backlog of `identity`."""
        backlog = self._backlog.get(identity)
        return 0 if backlog is None else sum(payload is not None for _, payload in backlog)

    def drop_backlog(self, identity: bytes) -> int:
        """Forget what waits for `identity` (its session was freed); returns how many messages."""
        backlog = self._backlog.pop(identity, None)
        return 0 if backlog is None else len(backlog)

    def close(self) -> None:
        """Close the socket (linger 0: pending messages are discarded)."""
        self._sock.close(0)


class Waker:
    """Wakes the I/O thread's poller from another thread (inproc PAIR). `notify` is thread-safe."""

    _counter = 0
    _counter_lock = threading.Lock()

    def __init__(self, context: zmq.Context | None = None) -> None:
        ctx = context or zmq.Context.instance()
        with Waker._counter_lock:
            Waker._counter += 1
            address = f"inproc://sdbridge-waker-{id(self)}-{Waker._counter}"
        self._recv = ctx.socket(zmq.PAIR)
        self._recv.setsockopt(zmq.LINGER, 0)
        self._recv.bind(address)
        self._send = ctx.socket(zmq.PAIR)
        self._send.setsockopt(zmq.LINGER, 0)
        self._send.connect(address)
        self._lock = threading.Lock()
        self._closed = False

    @property
    def socket(self) -> zmq.Socket:
        """The receiving socket to register with the I/O thread's poller."""
        return self._recv

    def notify(self) -> None:
        """Wake the poller (coalesces: several notifications may wake it once)."""
        with self._lock:
            if self._closed:
                return
            with contextlib.suppress(zmq.Again):  # plenty of wake-ups already queued
                self._send.send(b"", NOBLOCK)

    def drain(self) -> None:
        """Consume pending wake-ups (I/O thread only)."""
        while True:
            try:
                self._recv.recv(NOBLOCK)
            except zmq.Again:
                return

    def close(self) -> None:
        """Close both sockets."""
        with self._lock:
            self._closed = True
            self._send.close(0)
        self._recv.close(0)
