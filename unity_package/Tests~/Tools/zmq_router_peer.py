"""A pyzmq ROUTER that the C# transport tests talk to (libzmq on the other end of the managed ZMTP code).

Prints ``PORT <n>`` once bound to 127.0.0.1 on a random port, then serves until told to quit, until stdin
closes (the test process died), or until ``--lifetime`` seconds pass. Replies per first part:

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

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifetime", type=float, default=60.0, help="exit after this many seconds")
    parser.add_argument("--heartbeat-ms", type=int, default=0, help="ROUTER-side ZMTP PING interval")
    parser.add_argument("--curve", action="store_true",
                        help="CurveZMQ server; prints CURVE <server public> <client public> <client secret> (Z85)")
    args = parser.parse_args()

    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    if args.curve:
        server_public, server_secret = zmq.curve_keypair()
        client_public, client_secret = zmq.curve_keypair()
        sock.curve_server = True
        sock.curve_secretkey = server_secret
        print(f"CURVE {server_public.decode()} {client_public.decode()} {client_secret.decode()}", flush=True)
    if args.heartbeat_ms > 0:
        sock.setsockopt(zmq.HEARTBEAT_IVL, args.heartbeat_ms)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, args.heartbeat_ms * 3)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print(f"PORT {port}", flush=True)

    stop = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed our stdin or died
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    deadline = time.monotonic() + args.lifetime
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            if not sock.poll(100):
                continue
            frames = sock.recv_multipart()
            ident, parts = frames[0], frames[1:]
            command = parts[0] if parts else b""
            if command == b"QUIT":
                break
            if command == b"WHOAMI":
                sock.send_multipart([ident, ident])
            elif command.startswith(b"SILENCE"):
                time.sleep(int(command.split()[1]) / 1000.0)
                sock.send_multipart([ident, b"AWAKE"])
            elif command == b"CLOSE":
                sock.close(linger=0)
                stop.wait(args.lifetime)
                break
            else:
                sock.send_multipart([ident, *parts])
    finally:
        if not sock.closed:
            sock.close(linger=0)
        ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
