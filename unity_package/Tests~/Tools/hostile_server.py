"""A fake sdbridge server that answers the C# client with broken messages (client robustness tests).

ROUTER on 127.0.0.1 (zmq_router_peer.serve: random port, printed as ``PORT <n>``). It accepts Hello with a real
Welcome (1 credit, built with sdbridge's codec), then answers every Frame with, in order: random bytes, a buffer
with the wrong file identifier, a Result whose pixel part is one byte short, a Result with three parts, a truncated
Credit, and finally a correct Result echoing the frame (credit returned each time). The client must stay connected,
count the bad ones and deliver the good one. Exits when stdin closes or after --lifetime seconds.
"""

from __future__ import annotations

import argparse
import os
import sys

import zmq
from zmq_router_peer import decoded, serve

from sdbridge.protocol import codec
from sdbridge.protocol import messages as m


def _on_message(sock: zmq.Socket, ident: bytes, msg: object, pixels: memoryview | None) -> bool:
    if isinstance(msg, m.Hello):
        welcome = m.Welcome(session_id=7, protocol_major=msg.protocol_major,
                            protocol_minor=msg.protocol_minor, server_version="hostile",
                            initial_credits=1, max_width=4096, max_height=4096,
                            max_message_bytes=64 << 20, heartbeat_interval_ms=1000,
                            pixel_formats=(m.PixelFormat.RGBA8,))
        sock.send_multipart([ident, codec.encode(welcome)])
    elif isinstance(msg, m.FrameHeader):
        assert pixels is not None
        result = m.ResultHeader(frame_id=msg.frame_id, width=msg.width, height=msg.height,
                                stride=msg.stride, pixel_format=msg.pixel_format,
                                row_order=msg.row_order, color_space=msg.color_space,
                                session_id=7, credits_granted=1)
        header = codec.encode(result)
        bad_id = bytearray(header)
        bad_id[4:8] = b"XXXX"
        sock.send_multipart([ident, os.urandom(40)])
        sock.send_multipart([ident, bytes(bad_id)])
        sock.send_multipart([ident, header, bytes(pixels)[:-1]])
        sock.send_multipart([ident, header, bytes(pixels), b"extra"])
        truncated = codec.encode(m.Credit(granted=1))[:-6]
        sock.send_multipart([ident, truncated])
        sock.send_multipart([ident, header, bytes(pixels)])
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifetime", type=float, default=60.0)
    args = parser.parse_args()
    return serve(decoded(_on_message), lifetime=args.lifetime)


if __name__ == "__main__":
    sys.exit(main())
