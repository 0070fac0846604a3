"""Per-session budgets (limits.*): what one client sends costs only itself.

Each test drives an in-process server (identity model) over loopback with a bare DEALER, and fails on the
server before the budgets (see the comment of each test for what happened there).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from sdbridge.config import ServerConfig, parse_config, with_overrides
from sdbridge.errors import ConfigError, ProtocolError
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR
from sdbridge.runtime.budgets import ENTRY_OVERHEAD_BYTES
from sdbridge.server import BridgeServer

E = m.ErrorCode
CAPS = m.Capability.CREDITS | m.Capability.PROMPT_BLEND | m.Capability.SEED_BLEND


def config(limits: dict[str, Any] | None = None, **sections: dict[str, Any]) -> ServerConfig:
    """Identity model on a random loopback port, 64x64 frames at most, with some limits overridden."""
    lim = {"max_width": 64, "max_height": 64, "max_message_bytes": 64 * 64 * 4 + 4096, **(limits or {})}
    return with_overrides(ServerConfig(), model={"name": "identity"}, limits=lim,
                          top={"bind": "tcp://127.0.0.1:*"}, **sections)


@contextlib.contextmanager
def serving(cfg: ServerConfig | None = None, **kw: Any) -> Iterator[BridgeServer]:
    """A server running its I/O loop in a thread; closed afterwards."""
    server = BridgeServer(cfg or config(), **kw)
    server.start_in_thread()
    try:
        yield server
    finally:
        server.close()


class Peer:
    """A bare DEALER: sends hand-made messages, every receive has a timeout."""

    def __init__(self, endpoint: str, capabilities: m.Capability = CAPS) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.capabilities = capabilities

    def send(self, message: m.Message, *extra: bytes) -> None:
        self.sock.send_multipart([codec.encode(message), *extra])

    def recv(self, timeout_ms: int = 5000) -> m.Message:
        if not self.sock.poll(timeout_ms):
            raise AssertionError(f"no message within {timeout_ms} ms")
        message, _ = codec.decode_multipart(self.sock.recv_multipart())
        return message

    def until(self, kind: type, timeout_ms: int = 5000) -> list[m.Message]:
        """Messages up to and including the first of type `kind`."""
        seen = [self.recv(timeout_ms)]
        while not isinstance(seen[-1], kind):
            seen.append(self.recv(timeout_ms))
        return seen

    def quiet(self, ms: int = 300) -> list[m.Message]:
        """Everything that arrives within `ms` (to show that nothing more came)."""
        seen = []
        while self.sock.poll(ms):
            message, _ = codec.decode_multipart(self.sock.recv_multipart())
            seen.append(message)
        return seen

    def hello(self) -> m.Welcome:
        self.send(m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, client_name="budget",
                          capabilities=self.capabilities, pixel_formats=(m.PixelFormat.RGBA8,)))
        welcome = self.until(m.Welcome | m.ErrorMsg)[-1]
        assert isinstance(welcome, m.Welcome), welcome
        return welcome

    def error_for(self, message: m.Message, *extra: bytes) -> m.ErrorMsg:
        """Send `message`, then a Ping; the Error that came back before the Pong."""
        self.send(message, *extra)
        self.send(m.Ping(nonce=7))
        seen = self.until(m.Pong)
        errors = [s for s in seen if isinstance(s, m.ErrorMsg)]
        assert errors, f"no Error for {type(message).__name__}: {seen}"
        return errors[0]

    def accepted(self, message: m.Message) -> None:
        """Send `message` and check that no Error came back (a Ping's Pong follows it)."""
        self.send(message)
        self.send(m.Ping(nonce=8))
        seen = self.until(m.Pong)
        assert not any(isinstance(s, m.ErrorMsg) for s in seen), seen

    def close(self) -> None:
        self.sock.close(0)


@contextlib.contextmanager
def peers(server: BridgeServer, count: int = 1) -> Iterator[list[Peer]]:
    made = [Peer(server.endpoint) for _ in range(count)]
    try:
        for p in made:
            p.hello()
        yield made
    finally:
        for p in made:
            p.close()


def only_session(server: BridgeServer) -> Any:
    (session,) = server.table.sessions()
    return session


def frame(frame_id: int, side: int = 8) -> tuple[m.FrameHeader, bytes]:
    header = m.FrameHeader(frame_id=frame_id, width=side, height=side, stride=side * 4,
                           pixel_format=m.PixelFormat.RGBA8)
    return header, bytes(side * side * 4)


# --------------------------------------------------------------- values that do not fit the wire

@pytest.mark.parametrize(("params", "field", "range_text"), [
    (m.Params(seed=-1), "Params.seed", "[0, 18446744073709551615]"),
    (m.Params(seed=2**64), "Params.seed", "[0, 18446744073709551615]"),
    (m.Params(guidance_scale=1e39), "Params.guidance_scale", "[0, 30]"),
    (m.Params(similarity_max_skip=-5), "Params.similarity_max_skip", "[0, 1000]"),
    (m.Params(t_index_list=(2**40,)), "Params.t_index_list[0]", "[0, 49]"),
    (m.Params(seed_blend=(m.SeedWeight(-3, 1.0),)), "Params.seed_blend[0].seed", "[0, 18446744073709551615]"),
])
def test_page_values_that_do_not_fit_the_wire_are_refused_where_they_enter(
        params: m.Params, field: str, range_text: str) -> None:
    """Before: the page command was applied, then encoding the Notice to the engine client raised in the I/O
    loop: every client got Bye and the server stopped (the future never completed)."""
    with serving() as server, peers(server, 2) as (watched, bystander):
        sid = only_session_id(server, 0)
        future = server.submit_control(sid, params, "preview")
        with pytest.raises(ProtocolError) as refused:
            future.result(timeout=5)
        text = str(refused.value)
        assert field in text and range_text in text, text
        assert getattr(refused.value, "field_name", "") == field
        for p in (watched, bystander):  # the server still serves both
            p.send(m.Ping(nonce=1))
            assert not [s for s in p.until(m.Pong) if isinstance(s, m.Notice | m.Bye)]


def only_session_id(server: BridgeServer, index: int) -> int:
    return sorted(s.session_id for s in server.table.sessions())[index]


@pytest.mark.parametrize("weight", [math.nan, math.inf, -math.inf])
def test_nan_or_infinite_blend_weights_are_refused(weight: float) -> None:
    """Before: accepted (a NaN weight reached the pipeline's blend)."""
    with serving() as server, peers(server) as (peer,):
        err = peer.error_for(m.Prompt(blend=(m.PromptWeight("a", 1.0), m.PromptWeight("b", weight))))
        assert err.code is E.BAD_PARAM and err.field == "Prompt.blend[1].weight" and "finite" in err.message
        err = peer.error_for(m.Params(seed_blend=(m.SeedWeight(1, weight),)))
        assert err.code is E.BAD_PARAM and err.field == "Params.seed_blend[0].weight"


# --------------------------------------------------------------- blend and step budgets

def test_blends_and_t_index_list_above_their_budgets_are_refused_naming_the_budget() -> None:
    """Before: a 1024-text blend kept the worker busy 19 s, a 1024-seed blend allocated ~875 MiB."""
    cfg = config({"max_prompt_blend": 3, "max_seed_blend": 2, "max_t_index_list": 2})
    with serving(cfg) as server, peers(server) as (peer,):
        err = peer.error_for(m.Prompt(blend=tuple(m.PromptWeight(f"p{i}", 1.0) for i in range(4))))
        assert err.code is E.TOO_LARGE and err.field == "Prompt.blend"
        assert "4 entries" in err.message and "limits.max_prompt_blend=3" in err.message and "at most 3" in err.message
        err = peer.error_for(m.Params(seed_blend=tuple(m.SeedWeight(i, 1.0) for i in range(3))))
        assert err.code is E.TOO_LARGE and "limits.max_seed_blend=2" in err.message and "3 entries" in err.message
        err = peer.error_for(m.Params(t_index_list=(10, 20, 30)))
        assert err.code is E.TOO_LARGE and "limits.max_t_index_list=2" in err.message and "3 steps" in err.message
        # at the budget: accepted
        peer.accepted(m.Prompt(blend=tuple(m.PromptWeight(f"p{i}", 1.0) for i in range(3))))
        peer.accepted(m.Params(seed_blend=(m.SeedWeight(1, 1.0), m.SeedWeight(2, 0.5)), t_index_list=(20, 40)))


def test_t_index_list_longer_than_its_budget_is_refused_at_config_load() -> None:
    with pytest.raises(ConfigError, match=r"pipeline.t_index_list has 3 steps, above limits.max_t_index_list=2"):
        parse_config("[pipeline]\nt_index_list = [10, 20, 30]\n[limits]\nmax_t_index_list = 2\n")


def test_rules_values_pass_the_same_checks() -> None:
    """A rules file's values reach the pipeline through the same check (named with a 'rules: ' prefix)."""
    from sdbridge.runtime.budgets import check_pipeline_values

    limits = ServerConfig().limits
    with pytest.raises(ProtocolError, match=r"rules: Params.seed: seed=-1 must be an integer "
                                            r"in \[0, 18446744073709551615\]"):
        check_pipeline_values({"seed": -1}, limits, "rules: ")
    with pytest.raises(ProtocolError, match=r"limits\.max_prompt_blend=8"):
        check_pipeline_values({"prompt": [(f"t{i}", 1.0) for i in range(9)]}, limits, "rules: ")
    check_pipeline_values({"seed": [(1, 1.0), (2**64 - 1, 0.0)], "guidance_scale": 7.5, "max_skip_frames": 10,
                           "t_index_list": [20, 40], "prompt": "a lake"}, limits)


# --------------------------------------------------------------- state and event payloads kept

def test_state_is_bounded_and_a_refused_merge_keeps_the_earlier_state() -> None:
    """Before: 1024 keys sharing one 4 KiB value (a 37 KB message) were kept as 4 MiB, every time."""
    with serving(config({"max_state_bytes": 4096})) as server, peers(server) as (peer,):
        peer.accepted(m.State(entries=(("mood", "calm"), ("hp", 100))))
        session = only_session(server)
        shared = "v" * 100  # (a 11 KB message: the fuzz test shows the 37 KB one that unpacked to 4 MiB)
        err = peer.error_for(m.State(entries=tuple((f"k{i}", shared) for i in range(100))))
        assert err.code is E.TOO_LARGE and err.field == "State.entries"
        assert "limits.max_state_bytes=4096" in err.message and "earlier state is kept" in err.message
        assert session.state == {"mood": "calm", "hp": 100}  # nothing already accepted is lost
        # merging counts the state after the merge: replacing a key frees its old bytes
        peer.accepted(m.State(entries=(("mood", "x" * 3000),)))
        err = peer.error_for(m.State(entries=(("other", "y" * 1100),)))
        assert err.code is E.TOO_LARGE
        peer.accepted(m.State(entries=(("other", "y" * 1100),), replace_all=True))
        assert session.state == {"other": "y" * 1100} and session.state_bytes == 5 + 1100 + ENTRY_OVERHEAD_BYTES


def test_event_payloads_are_bounded_dropping_the_oldest() -> None:
    """Before: 64 recent events of up to ~4 MiB each were kept per session."""
    limits = {"max_event_payload_bytes": 2000, "max_recent_events": 5, "max_events_per_second": 10000}
    with serving(config(limits)) as server, peers(server) as (peer,):
        for i in range(12):
            peer.send(m.GameEvent(name=f"e{i}", payload={"text": "z" * 300}))
        peer.accepted(m.GameEvent(name="last", payload={"n": 1}))
        session = only_session(server)
        assert len(session.events) <= 5 and session.events_bytes <= 2000
        assert session.events[-1][0] == "last" and session.events_dropped >= 8
        err = peer.error_for(m.GameEvent(name="huge", payload={"text": "q" * 2500}))
        assert err.code is E.TOO_LARGE and "limits.max_event_payload_bytes=2000" in err.message
        assert session.events[-1][0] == "last"  # the refused one is not kept, nothing was dropped for it


# --------------------------------------------------------------- idle sessions

def test_a_session_that_sends_no_frames_is_freed_after_idle_session_s() -> None:
    """Before: sessions kept alive by Ping held their slot for ever (eight of them locked everyone out)."""
    cfg = config({"idle_session_s": 0.6, "max_sessions": 1})
    with serving(cfg) as server, peers(server) as (idler,):
        deadline = time.monotonic() + 5
        expired: list[m.ErrorMsg] = []
        while not expired and time.monotonic() < deadline:
            idler.send(m.Ping(nonce=1))  # alive, but never a Frame
            expired = [s for s in idler.quiet(100) if isinstance(s, m.ErrorMsg)]
        assert expired, "the idle session was not freed"
        err = expired[0]
        assert err.code is E.SESSION_EXPIRED and err.session_closed and "limits.idle_session_s=0.6" in err.message
        assert len(server.table) == 0 and server.stats.sessions_idle == 1
        with peers(server) as (newcomer,):  # the slot is free again
            head, pixels = frame(1)
            newcomer.send(head, pixels)
            assert isinstance(newcomer.until(m.ResultHeader)[-1], m.ResultHeader)


def test_frames_keep_a_session() -> None:
    cfg = config({"idle_session_s": 0.5})
    with serving(cfg) as server, peers(server) as (peer,):
        for i in range(12):
            head, pixels = frame(i + 1)
            peer.send(head, pixels)
            peer.until(m.ResultHeader)
            time.sleep(0.1)
        assert len(server.table) == 1


# --------------------------------------------------------------- credits and capabilities

def test_a_hello_without_the_credits_capability_is_refused() -> None:
    """Before: welcomed, although the client would not pace its frames."""
    with serving() as server:
        peer = Peer(server.endpoint, capabilities=m.Capability.STATS)
        try:
            peer.send(m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, client_name="old",
                              capabilities=m.Capability.STATS))
            err = peer.recv()
            assert isinstance(err, m.ErrorMsg) and err.code is E.BAD_PARAM and err.session_closed
            assert err.field == "Hello.capabilities" and "CREDITS" in err.message and "upgrade" in err.message
            assert len(server.table) == 0
        finally:
            peer.close()


def test_a_refused_two_part_message_that_is_not_a_frame_returns_no_credit() -> None:
    """Before: a Credit came back although the client spent none."""
    with serving() as server, peers(server) as (peer,):
        peer.send(m.Prompt(text="a"), b"extra part")
        seen = peer.until(m.ErrorMsg)
        assert seen[-1].code is E.BAD_PART_COUNT  # type: ignore[union-attr]
        peer.send(m.Ping(nonce=2))  # answered after anything the refusal could still have sent
        seen += peer.until(m.Pong)
        assert not any(isinstance(s, m.Credit) for s in seen), seen
        # a refused Frame still gives its credit back, also when its header breaks a size limit
        head, pixels = frame(3)
        peer.send(head, pixels[:-1])
        assert [type(s) for s in peer.until(m.Credit)][-2:] == [m.ErrorMsg, m.Credit]
        big = m.FrameHeader(frame_id=4, width=100000, height=8, stride=400000, pixel_format=m.PixelFormat.RGBA8)
        peer.send(big, b"\0" * 16)
        seen = peer.until(m.Credit)
        assert seen[0].code is E.TOO_LARGE  # type: ignore[union-attr]
