"""The socket side of BridgeClient (sdbridge.transport.client): one DEALER socket, its poller, sending and
receiving whole messages without blocking, the Hello/Welcome wait with its connection monitor, and the clocks
that heartbeats and loss detection read (when we last sent, when we last heard from the server).

Not thread-safe, like the client that owns it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import zmq
from zmq.utils.monitor import recv_monitor_message

from sdbridge.errors import InputError, ProtocolError, TransportError, VersionMismatchError
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.transport.parts import NOBLOCK, NOBLOCK_MORE, recv_parts

# the client's logger: its messages (dropped connections, malformed messages, loss) read as the client's
log = logging.getLogger("sdbridge.transport.client")
_MONITORS = itertools.count()  # numbers the handshake monitors' inproc endpoints (handshake)

#: The three CurveZMQ keys as bytes: (server public key, client public key, client secret key)
CurveKeys = tuple[bytes, bytes, bytes]


def curve_keys(server_key: str | bytes | None, public_key: str | bytes | None,
               secret_key: str | bytes | None) -> CurveKeys | None:
    """The client's CurveZMQ keys as bytes, or None when none is given; InputError when only some are."""
    keys = (server_key, public_key, secret_key)
    if all(k is None for k in keys):
        return None
    if any(k is None for k in keys):
        raise InputError("CurveZMQ needs all three keys: curve_server_key, curve_public_key and "
                         "curve_secret_key (Z85 strings from `sdbridge keys generate`)")
    server, public, secret = (k.encode("ascii") if isinstance(k, str) else k for k in keys)
    assert server is not None and public is not None and secret is not None
    return server, public, secret


class ClientSocket:
    """One client's DEALER socket (replaced by a new one on every `open`) and its liveness clocks."""

    def __init__(self, context: zmq.Context, curve: CurveKeys | None) -> None:
        self._ctx = context
        self._curve = curve
        self.endpoint = ""
        self.sock: zmq.Socket | None = None
        self._poller = zmq.Poller()
        self.last_sent = 0.0  # time.monotonic() of the last message sent
        self.last_heard = 0.0  # time.monotonic() of the last message received (or of the open)
        self._probe_at: float | None = None  # when check_silence last sent a Ping to test a silence
        self.foreign: ProtocolError | None = None  # the last message in another protocol (WRONG_IDENTIFIER)

    @property
    def is_open(self) -> bool:
        """True between `open` and `close`."""
        return self.sock is not None

    def open(self, endpoint: str) -> None:
        """Close any old socket and connect a new one to `endpoint` (linger 0; the HWMs never drop control)."""
        self.close()
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 1000)  # credits bound the frames; never drop a control message
        sock.setsockopt(zmq.RCVHWM, 1000)
        if self._curve is not None:
            server_key, public_key, secret_key = self._curve
            sock.setsockopt(zmq.CURVE_SERVERKEY, server_key)
            sock.setsockopt(zmq.CURVE_PUBLICKEY, public_key)
            sock.setsockopt(zmq.CURVE_SECRETKEY, secret_key)
        sock.connect(endpoint)
        self.endpoint = endpoint
        self.sock = sock
        self._poller = zmq.Poller()
        self._poller.register(sock, zmq.POLLIN)
        self.last_heard = time.monotonic()

    def close(self) -> None:
        """Close the socket now (linger 0). Idempotent."""
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None

    def send(self, message: m.Message) -> None:
        """Send one message without blocking; TransportError when not open or the send queue is full."""
        if self.sock is None:
            raise TransportError("not connected; call connect() first")
        try:
            self.sock.send(codec.encode(message), NOBLOCK)
        except zmq.Again as exc:
            raise TransportError(f"send queue to {self.endpoint} is full; the server is not reading") from exc
        self.last_sent = time.monotonic()

    def try_send(self, message: m.Message) -> None:
        """`send`, best effort (a Bye on the way out, the silence probe): failures are ignored."""
        with contextlib.suppress(TransportError, zmq.ZMQError):
            self.send(message)

    def send_frame(self, header: m.FrameHeader | m.StyleImage, image: np.ndarray,
                   planes: Sequence[np.ndarray] = ()) -> None:
        """Send a frame (or a StyleImage, protocol 1.4): the header copied (small), the pixels and planes (protocol
        1.3) zero-copy, as one message."""
        assert self.sock is not None
        try:
            # one message: libzmq checks the HWM at its first part
            self.sock.send(codec.encode(header), NOBLOCK_MORE)
            self.sock.send(image, NOBLOCK_MORE if planes else NOBLOCK, copy=False)
            for i, plane in enumerate(planes):
                self.sock.send(plane, NOBLOCK_MORE if i + 1 < len(planes) else NOBLOCK, copy=False)
        except zmq.Again as exc:
            raise TransportError(f"send queue to {self.endpoint} is full; the server is not reading") from exc
        self.last_sent = time.monotonic()

    def recv(self, timeout: float) -> tuple[m.Message, memoryview | None] | None:
        """One message within `timeout` seconds, or None."""
        if self.sock is None:
            return None
        if self.sock not in dict(self._poller.poll(max(0, int(timeout * 1000)))):
            return None  # timeout, or another registered socket (the handshake monitor) woke the poll
        try:
            parts = recv_parts(self.sock)
        except zmq.Again:
            return None
        self.last_heard = time.monotonic()
        try:
            return codec.decode_multipart(parts)  # zmq.Frame parts expose their bytes (buffer protocol)
        except ProtocolError as exc:
            log.warning("dropping a malformed message from the server: %s", exc)
            if exc.code == int(m.ErrorCode.WRONG_IDENTIFIER):
                self.foreign = exc
            return None

    def handshake(self, hello: m.Hello, timeout: float) -> m.Welcome | m.ErrorMsg:
        """Send `hello` on the open socket and wait up to `timeout` s for the answer (a Welcome or an Error).

        A server that is shutting down may still accept our connection and then drop it with the Hello
        (e.g. we reconnect on its Bye): the connection monitor tells us, and the Hello goes again on the next
        connection instead of waiting out the whole timeout. Closes the socket and raises TransportError when
        the CurveZMQ handshake is refused or no answer comes in time.
        """
        assert self.sock is not None
        # a name of its own for each monitor: pyzmq's default names it after the socket's file descriptor, which a
        # new socket may reuse while libzmq still closes the old one (and its monitor) in the background
        monitor = self.sock.get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED
                                               | zmq.EVENT_HANDSHAKE_FAILED_AUTH,
                                               addr=f"inproc://sdbridge.client-monitor.{next(_MONITORS)}")
        try:
            try:
                self.send(hello)
                hello_lost = False
            except TransportError:  # the first connection already came and went: send on the next one
                hello_lost = True
            return self._await_answer(hello, monitor, timeout, hello_lost)
        finally:
            with contextlib.suppress(KeyError):
                self._poller.unregister(monitor)
            if self.sock is not None:
                self.sock.disable_monitor()
            monitor.close(0)

    def _await_answer(self, hello: m.Hello, monitor: zmq.Socket, timeout: float,
                      hello_lost: bool) -> m.Welcome | m.ErrorMsg:
        deadline = time.monotonic() + timeout
        self._poller.register(monitor, zmq.POLLIN)
        self.foreign = None
        while True:
            remaining = deadline - time.monotonic()
            received = self.recv(remaining) if remaining > 0 else None
            if self.foreign is not None:  # decided on the codec's code, as the C# and C++ clients do
                self.close()
                raise VersionMismatchError(
                    int(m.ErrorCode.VERSION_MISMATCH),
                    f"the server at {self.endpoint} answered Hello in another protocol ({self.foreign}); this client "
                    f"speaks protocol {hello.protocol_major}.{hello.protocol_minor}: install the "
                    f"streamdiffusion-bridge whose major version matches the server's")
            hello_lost = self._watch_connection(hello, monitor, hello_lost)
            if received is None and time.monotonic() < deadline:
                continue  # woken by the monitor
            if received is None:
                self.close()
                raise TransportError(
                    f"no Welcome from {self.endpoint} within timeout={timeout:.3g} s; is `sdbridge serve` "
                    f"running there (and the model loaded)? A CurveZMQ server also stays silent when this "
                    f"client's public key is not in its authorized_keys or the server key is wrong"
                )
            message, _ = received
            if isinstance(message, m.Welcome | m.ErrorMsg):
                return message
            # anything else is a leftover of an older session: ignore it

    def _watch_connection(self, hello: m.Hello, monitor: zmq.Socket, hello_lost: bool) -> bool:
        """Handle the connection events since the last look; returns whether the Hello still has to go."""
        while monitor.poll(0):
            event = recv_monitor_message(monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:  # libzmq does not retry after this
                self.close()
                raise TransportError(
                    f"{self.endpoint} refused the CurveZMQ handshake: this client's public key is not in the "
                    f"server's authorized_keys folder, or curve_server_key is not the server's public key")
            if event == zmq.EVENT_DISCONNECTED:
                hello_lost = True
            elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED and hello_lost:
                log.info("connection to %s was dropped before the Welcome; sending Hello again", self.endpoint)
                try:
                    self.send(hello)
                    hello_lost = False
                except TransportError:  # that connection is already gone too: try on the next one
                    pass
        return hello_lost

    def check_silence(self, lost_after: float, drain: Callable[[], None], probe: Callable[[], m.Ping]) -> str:
        """Why the session counts as lost after `lost_after` s of silence, or "" while it does not.

        Silence measured by the clock is not always the server's: a thread that did not run for a while
        (a loaded machine) or a paused VM sees a long gap although messages wait in the socket or come the
        moment everything runs again. So first `drain` what already arrived, then send the `probe` Ping, and
        give the session up only when that Ping goes unanswered for a second (or `lost_after`, if shorter).
        """
        if time.monotonic() - self.last_heard <= lost_after:
            return ""
        drain()  # messages that already arrived count (they refresh last_heard)
        now = time.monotonic()
        if now - self.last_heard <= lost_after:
            return ""
        if self._probe_at is None or self._probe_at < self.last_heard:  # no probe since the silence began
            self._probe_at = now
            self.try_send(probe())
            return ""
        if now - self._probe_at < min(1.0, lost_after):
            return ""
        log.warning("no message from %s for %.1f s (a Ping sent %.1f s ago went unanswered): connection lost",
                    self.endpoint, now - self.last_heard, now - self._probe_at)
        return (f"no message from the server for {now - self.last_heard:.1f} s, and no answer to a Ping "
                f"for {now - self._probe_at:.1f} s (lost_after={lost_after} s)")
