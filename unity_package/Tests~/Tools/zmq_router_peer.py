"""The ZeroMQ ROUTER loop every C# test peer in this folder runs, and the raw pyzmq peer of the transport tests.

``serve(handler)`` binds a ROUTER to 127.0.0.1 on a random port, prints ``PORT <n>`` once bound (the C# tests'
ChildProcess waits for that line), then hands every received message to ``handler`` until the handler returns
False, stdin closes (the test process died or disposed the peer) or ``lifetime`` seconds pass. A handler may close
the socket: the loop then waits, sending nothing, for stdin to close or the lifetime to end. ``decoded(handler)``
adapts a handler of sdbridge messages (busy_replica.py, hostile_server.py); undecodable messages are printed and
skipped.

Run as a script, this is the raw peer (libzmq on the other end of the managed ZMTP code). Replies per first part:

- ``ECHO``      : sends every part back unchanged (multipart preserved).
- ``WHOAMI``    : replies ``[routing id]`` so tests can check the READY Identity property.
- ``SILENCE n`` : sends nothing for n ms (heartbeats keep flowing: libzmq answers PINGs on its own thread).
- ``CLOSE``     : closes the socket (the client must see the connection drop), then rebinds nothing.
- ``QUIT``      : exits.
Anything else is echoed too.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

# Handler of one received message: (socket, routing id, parts) -> False to stop serving.
Handler = Callable[[zmq.Socket, bytes, list[bytes]], bool]
# Handler of one decoded sdbridge message: (socket, routing id, message, pixel part or None) -> False to stop.
MessageHandler = Callable[[zmq.Socket, bytes, Any, memoryview | None], bool]


def serve(handler: Handler, *, lifetime: float, configure: Callable[[zmq.Socket], None] | None = None) -> int:
    """Runs the ROUTER loop described in the module docstring; ``configure`` sets socket options before bind."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    stop = threading.Event()
    deadline = time.monotonic() + lifetime
    try:
        if configure is not None:
            configure(sock)
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        print(f"PORT {port}", flush=True)
        threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()
        while not stop.is_set() and time.monotonic() < deadline:
            if sock.closed:  # the handler dropped the connection: stay silent until told to go
                stop.wait(max(0.0, deadline - time.monotonic()))
                break
            if not sock.poll(100):
                continue
            ident, *parts = sock.recv_multipart()
            if not handler(sock, ident, parts):
                break
    finally:
        if not sock.closed:
            sock.close(linger=0)
        ctx.term()
    return 0


def decoded(handler: MessageHandler) -> Handler:
    """Adapts a handler of sdbridge messages: each message is decoded with sdbridge's codec first."""
    from sdbridge.errors import ProtocolError
    from sdbridge.protocol import codec

    def on_parts(sock: zmq.Socket, ident: bytes, parts: list[bytes]) -> bool:
        try:
            msg, pixels = codec.decode_multipart(parts)
        except ProtocolError as exc:
            print(f"undecodable client message: {exc}", flush=True)
            return True
        return handler(sock, ident, msg, pixels)

    return on_parts


def _watch_stdin(stop: threading.Event) -> None:
    sys.stdin.read()  # returns at EOF: the parent closed our stdin or died
    stop.set()


def _raw_peer(sock: zmq.Socket, ident: bytes, parts: list[bytes]) -> bool:
    command = parts[0] if parts else b""
    if command == b"QUIT":
        return False
    if command == b"WHOAMI":
        sock.send_multipart([ident, ident])
    elif command.startswith(b"SILENCE"):
        time.sleep(int(command.split()[1]) / 1000.0)  # the test's requested silence, not a synchronisation wait
        sock.send_multipart([ident, b"AWAKE"])
    elif command == b"CLOSE":
        sock.close(linger=0)
    else:
        sock.send_multipart([ident, *parts])
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifetime", type=float, default=60.0, help="exit after this many seconds")
    parser.add_argument("--heartbeat-ms", type=int, default=0, help="ROUTER-side ZMTP PING interval")
    parser.add_argument("--curve", action="store_true",
                        help="CurveZMQ server; prints CURVE <server public> <client public> <client secret> (Z85)")
    args = parser.parse_args()

    def configure(sock: zmq.Socket) -> None:
        if args.curve:
            server_public, server_secret = zmq.curve_keypair()
            client_public, client_secret = zmq.curve_keypair()
            sock.curve_server = True
            sock.curve_secretkey = server_secret
            print(f"CURVE {server_public.decode()} {client_public.decode()} {client_secret.decode()}", flush=True)
        if args.heartbeat_ms > 0:
            sock.setsockopt(zmq.HEARTBEAT_IVL, args.heartbeat_ms)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, args.heartbeat_ms * 3)

    return serve(_raw_peer, lifetime=args.lifetime, configure=configure)


if __name__ == "__main__":
    sys.exit(main())
