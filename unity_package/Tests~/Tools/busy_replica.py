"""A fake sdbridge server that plays the replicas behind a balancer for the C# reconnect tests (backoff and jitter).

ROUTER on 127.0.0.1 (zmq_router_peer.serve: random port, printed as ``PORT <n>``). Each Hello is one connection the
"balancer" sent to some replica: the first ``--refuse`` Hellos meet a full replica (Error SessionLimit, session
closed, as sdbridge.serving.handshake answers), the next one a free replica (a Welcome, built with sdbridge's
codec). With ``--drain-after-state``, the first session's first State message is answered with a ServerShutdown
Notice (what a draining replica sends, sdbridge.serving.drain); the client must say Bye, and its next Hellos start
over: refused ``--refuse`` times, then welcomed. ``--refuse-all`` refuses every Hello (the reconnect window test).
``--refuse-with BAD_PARAM,SESSION_LIMIT`` refuses the first Hellos with these ErrorCode members in order instead of
``--refuse`` SessionLimit refusals (a refusal that is not about capacity must not be retried).
Protocol 1.4 (the C# client's 1.4 tests): the Welcome grants StyleImages and Planes and says the capacity (sessions
open of 4) and the wanted planes (Depth, Motion); a GameEvent named ``wanted`` is answered with a WantedPlanesChanged
Notice (Normals), one named ``lose`` with Error UnknownSession (the client reconnects and replays).
Prints one line per event for the test to read: ``HELLO <n> REFUSED <code>``, ``HELLO <n> WELCOMED <session>``,
``BYE <session> <reason>``, ``GOT <session> <Message type> <detail>``. Exits when stdin closes or after
--lifetime seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import zmq
from zmq_router_peer import decoded, serve

from sdbridge.protocol import codec
from sdbridge.protocol import messages as m


def _welcome(hello: m.Hello, session_id: int) -> m.Welcome:
    return m.Welcome(session_id=session_id, protocol_major=hello.protocol_major, protocol_minor=hello.protocol_minor,
                     server_version="busy-replica",
                     capabilities=m.Capability.CREDITS | m.Capability.NOTICES | m.Capability.PLANES
                     | m.Capability.STYLE_IMAGES,
                     initial_credits=1, max_width=4096, max_height=4096, max_message_bytes=64 << 20,
                     heartbeat_interval_ms=1000, pixel_formats=(m.PixelFormat.RGBA8, m.PixelFormat.RGB8),
                     sessions_open=session_id, sessions_max=4, wanted_planes=(m.PlaneKind.DEPTH, m.PlaneKind.MOTION))


def _refusal(code: m.ErrorCode) -> m.ErrorMsg:
    if code is m.ErrorCode.SESSION_LIMIT:  # as sdbridge.serving.handshake answers when full
        return m.ErrorMsg(code=code, field="limits.max_sessions", session_closed=True,
                          message="this replica serves 1 sessions already; try again later or another replica")
    return m.ErrorMsg(code=code, field="Hello", session_closed=True, message=f"refused with {code.name} (test)")


def _detail(msg: object, pixels: memoryview | None) -> str:
    if isinstance(msg, m.Prompt):
        return repr(msg.text)
    if isinstance(msg, m.Params):
        fields = sorted(f.name for f in dataclasses.fields(msg)
                        if f.name != "stream_id" and getattr(msg, f.name) is not None)
        return f"{msg.guidance_scale!r} {','.join(fields)} style_blend={msg.style_blend!r}"
    if isinstance(msg, m.StyleImage):
        return f"{msg.name} {msg.width}x{msg.height} {msg.format.name} {0 if pixels is None else pixels.nbytes} bytes"
    if isinstance(msg, m.FrameHeader):
        return f"scene_cut={msg.scene_cut}"
    if isinstance(msg, m.GameEvent):
        return msg.name
    if isinstance(msg, m.State):
        return ",".join(sorted(key for key, _ in msg.entries))
    return ""


class _Replicas:
    """The balancer's replicas as one ROUTER peer: refuses, welcomes, drains and reports (module docstring)."""

    def __init__(self, refuse: int, refuse_all: bool, drain_after_state: bool,
                 codes: tuple[m.ErrorCode, ...] = ()) -> None:
        self.refuse, self.refuse_all, self.drain_after_state = refuse, refuse_all, drain_after_state
        self.codes = codes  # the refusals' codes in order (default: SessionLimit each time)
        if codes:
            self.refuse = len(codes)
        self.hellos = self.refused = 0
        self.sessions: dict[bytes, int] = {}
        self.drained = False

    def on_message(self, sock: zmq.Socket, ident: bytes, msg: object, pixels: memoryview | None) -> bool:
        if isinstance(msg, m.Hello):
            self._hello(sock, ident, msg)
        elif isinstance(msg, m.Ping):
            sock.send_multipart([ident, codec.encode(m.Pong(nonce=msg.nonce, client_time_us=msg.client_time_us))])
        elif isinstance(msg, m.Bye):
            print(f"BYE {self.sessions.get(ident, 0)} {msg.reason}", flush=True)
        else:
            print(f"GOT {self.sessions.get(ident, 0)} {type(msg).__name__} {_detail(msg, pixels)}", flush=True)
            self._answer(sock, ident, msg)
        return True

    def _hello(self, sock: zmq.Socket, ident: bytes, msg: m.Hello) -> None:
        self.hellos += 1
        if self.refuse_all or self.refused < self.refuse:
            code = self.codes[self.refused] if self.codes else m.ErrorCode.SESSION_LIMIT
            self.refused += 1
            print(f"HELLO {self.hellos} REFUSED {code.name}", flush=True)  # before the answer: the test may read it
            sock.send_multipart([ident, codec.encode(_refusal(code))])
            return
        self.refused = 0  # the next move meets full replicas again
        self.sessions[ident] = len(self.sessions) + 1
        print(f"HELLO {self.hellos} WELCOMED {self.sessions[ident]}", flush=True)
        sock.send_multipart([ident, codec.encode(_welcome(msg, self.sessions[ident]))])

    def _answer(self, sock: zmq.Socket, ident: bytes, msg: object) -> None:
        if isinstance(msg, m.GameEvent) and msg.name == "wanted":
            sock.send_multipart([ident, codec.encode(m.Notice(
                kind=m.NoticeKind.WANTED_PLANES_CHANGED, source="params",
                message="the server now uses these planes: Normals", wanted_planes=(m.PlaneKind.NORMALS,)))])
        elif isinstance(msg, m.GameEvent) and msg.name == "lose":
            sock.send_multipart([ident, codec.encode(m.ErrorMsg(
                code=m.ErrorCode.UNKNOWN_SESSION, message="session unknown (server restarted?)",
                session_closed=True))])
        if isinstance(msg, m.State) and self.drain_after_state and not self.drained:
            self.drained = True
            sock.send_multipart([ident, codec.encode(m.Notice(
                kind=m.NoticeKind.SERVER_SHUTDOWN, source="drain",
                message="this replica is shutting down within 10 s; reconnect"))])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--refuse", type=int, default=2, help="full replicas met before a free one")
    parser.add_argument("--refuse-all", action="store_true", help="every replica is full")
    parser.add_argument("--refuse-with", default="", help="ErrorCode members refusing the first Hellos, in order")
    parser.add_argument("--drain-after-state", action="store_true", help="the first session's replica drains")
    parser.add_argument("--lifetime", type=float, default=60.0)
    args = parser.parse_args()
    codes = tuple(m.ErrorCode[name] for name in args.refuse_with.split(",") if name)
    replicas = _Replicas(args.refuse, args.refuse_all, args.drain_after_state, codes)
    return serve(decoded(replicas.on_message), lifetime=args.lifetime)


if __name__ == "__main__":
    sys.exit(main())
