"""Fault injectors shared by tests/reliability/test_faults.py and the soak run.

- `raw_zmtp_partial`: speaks ZMTP 3.0 (NULL mechanism) by hand over a plain TCP socket, as a DEALER would,
  sends a Hello and then only the beginning of a two-part Frame (its header part, flagged MORE, and part
  of the pixel part), and stops there - the state a client is in when it is killed mid-message.
- `NonReader`: a DEALER that says Hello and then sends frames as fast as it can, ignoring credits, and never
  reads anything (a tiny receive buffer and HWM, so what the server sends piles up on the server side).
- `Streamer`: a BridgeClient streaming in a thread that records when each reconnect handshake completed.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

import numpy as np
import zmq

from sdbridge.errors import TransportError
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR
from sdbridge.transport.client import BridgeClient

# ZMTP 3.0 greeting: signature (0xFF, 8 padding bytes, 0x7F), version 3.0, mechanism "NULL" padded to 20
# bytes, as-server 0, 31 bytes filler (RFC 23/ZMTP).
GREETING = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31
MORE, LONG, COMMAND = 0x01, 0x02, 0x04


def zmtp_frame(body: bytes, more: bool = False, command: bool = False) -> bytes:
    """One ZMTP frame: flags, size (1 byte, or 8 bytes big-endian with LONG), body."""
    flags = (MORE if more else 0) | (COMMAND if command else 0)
    if len(body) > 255:
        return bytes([flags | LONG]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


def ready_command(socket_type: bytes = b"DEALER") -> bytes:
    """The READY command with the Socket-Type property."""
    name = b"Socket-Type"
    body = b"\x05READY" + bytes([len(name)]) + name + struct.pack(">I", len(socket_type)) + socket_type
    return zmtp_frame(body, command=True)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"peer closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def raw_zmtp_partial(host: str, port: int, pixel_bytes: int = 256 * 256 * 4, sent_fraction: float = 0.5,
                     hello: bool = True) -> socket.socket:
    """Connect, handshake, (Hello,) then send a Frame header part + `sent_fraction` of its pixel part.

    Returns the open socket: the caller closes it (or the process holding it dies) mid-message.
    """
    sock = socket.create_connection((host, port), timeout=5)
    sock.sendall(GREETING)
    _recv_exactly(sock, 64)  # the server's greeting
    sock.sendall(ready_command())
    flags = _recv_exactly(sock, 2)  # the server's READY (a short command frame)
    _recv_exactly(sock, flags[1])
    if hello:
        sock.sendall(zmtp_frame(codec.encode(m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR,
                                                     client_name="killed-mid-message",
                                                     capabilities=m.Capability.CREDITS))))
    side = int((pixel_bytes // 4) ** 0.5)
    header = codec.encode(m.FrameHeader(frame_id=1, width=side, height=side, stride=side * 4,
                                        pixel_format=m.PixelFormat.RGBA8))
    sock.sendall(zmtp_frame(header, more=True))
    pixel_frame = zmtp_frame(bytes(side * side * 4))
    sock.sendall(pixel_frame[: 9 + int(side * side * 4 * sent_fraction)])  # 9 = flags + 8-byte size
    return sock


def abort(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as the kernel does for a killed process with unsent data."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class NonReader:
    """A client that floods frames (ignoring credits) and never reads a reply."""

    def __init__(self, endpoint: str, side: int = 64) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 1)
        self.sock.setsockopt(zmq.RCVBUF, 4096)
        self.sock.setsockopt(zmq.SNDHWM, 64)
        self.sock.connect(endpoint)
        self.sock.send(codec.encode(m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR,
                                            client_name="never-reads", capabilities=m.Capability.CREDITS)))
        self.side = side
        self.sent = 0
        self._pixels = bytes(side * side * 4)

    def flood(self, seconds: float, per_second: float = 400.0) -> None:
        """Send frames for `seconds` (at most `per_second`), never receiving."""
        end = time.monotonic() + seconds
        gap = 1.0 / per_second
        while time.monotonic() < end:
            header = codec.encode(m.FrameHeader(frame_id=self.sent + 1, width=self.side, height=self.side,
                                                stride=self.side * 4, pixel_format=m.PixelFormat.RGBA8))
            try:
                self.sock.send_multipart([header, self._pixels], zmq.NOBLOCK)
                self.sent += 1
            except zmq.Again:
                pass
            time.sleep(gap)

    def close(self) -> None:
        """Close the socket (linger 0)."""
        self.sock.close(0)


class Streamer:
    """A Python client streaming in a thread, recording when each reconnect handshake completed."""

    def __init__(self, endpoint: str, index: int) -> None:
        self.reconnected_at: list[float] = []
        self.results = 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.client = BridgeClient(endpoint, name=f"restart-{index}", lost_after=3.0,
                                   on_reconnect=lambda c: self.reconnected_at.append(time.monotonic()))
        self.client.connect(timeout=10)
        self.image = np.full((64, 64, 4), index, dtype=np.uint8)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        client = self.client
        while not self.stop.is_set():
            try:
                if client.credits > 0:
                    client.submit(self.image)
                result = client.receive(timeout=0.2)
                if result is not None:
                    if not np.array_equal(result.image, self.image):
                        self.failures.append(f"frame {result.frame_id} is not this client's")
                    self.results += 1
            except TransportError:  # the server is down: the next call tries again
                time.sleep(0.05)
        client.close()
