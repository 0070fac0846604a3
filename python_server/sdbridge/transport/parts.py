"""Multipart send and receive for the per-frame path, without pyzmq's per-call enum work.

pyzmq 27's `send_multipart`/`recv_multipart` and `zmq.NOBLOCK | zmq.SNDMORE` go through Python enum
operations on every call (an `IntFlag.__or__`, an option lookup per part): about 8 us per message pair
on this CPU, more than the rest of a frame header's encode and decode. Here the flags are plain ints
computed once, and a received part's `more` attribute replaces the `RCVMORE` query.
"""

from __future__ import annotations

import zmq

#: send/recv flags and the readiness query as plain ints
NOBLOCK = int(zmq.NOBLOCK)
NOBLOCK_MORE = int(zmq.NOBLOCK | zmq.SNDMORE)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)


def readable(sock: zmq.Socket) -> bool:
    """True when a message waits: one flag read, cheaper than a receive that finds nothing and raises."""
    return bool(sock.getsockopt(_EVENTS) & _POLLIN)


def recv_parts(sock: zmq.Socket) -> list[zmq.Frame]:
    """Every part of the next message, without blocking or copying; raises zmq.Again if none waits.

    ZeroMQ delivers a multipart message whole, so once its first part is here so are the others.
    """
    frame = sock.recv(NOBLOCK, copy=False)
    parts = [frame]
    while frame.more:
        frame = sock.recv(NOBLOCK, copy=False)
        parts.append(frame)
    return parts
