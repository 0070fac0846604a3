"""The I/O loop never dies from one session's trouble (a failure injected at each point).

A failure is injected into one point of the server's work for one session (its message handler, a page
command, the rules tick and reload, the encoding of a Notice, the sending of a Result, the control runner);
that session gets an Error naming what failed, the failure is logged once, and another client keeps being
served. A rules revert that cannot be queued is here too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.server import BridgeServer
from tests.conftest import wait_for

from .test_budgets import Peer, config, frame, only_session_id, peers, serving

E = m.ErrorCode
RULES = """[prompt]
template = "a lake"

[[rules]]
event = "hit"
params = { guidance_scale = 2.0 }
duration = { seconds = 0.3 }
"""


class InjectedError(RuntimeError):
    """The injected failure."""


def served(peer: Peer, frame_id: int) -> None:
    """`peer` still gets a Result for a Frame."""
    head, pixels = frame(frame_id)
    peer.send(head, pixels)
    result = peer.until(m.ResultHeader)[-1]
    assert isinstance(result, m.ResultHeader) and result.frame_id == frame_id


def internal_errors(seen: list[m.Message]) -> list[m.ErrorMsg]:
    return [s for s in seen if isinstance(s, m.ErrorMsg) and s.code is E.INTERNAL]


def logged(caplog: pytest.LogCaptureFixture, text: str) -> int:
    """How many ERROR/WARNING records carry `text` (message or exception)."""
    count = 0
    for record in caplog.records:
        body = record.getMessage() + (repr(record.exc_info[1]) if record.exc_info else "")
        count += record.levelno >= logging.WARNING and text in body
    return count


def _only_for(server: BridgeServer, victim: int, original: Any, what: str) -> Any:
    """A wrapper of `original` (first argument: a session or its id) that raises for the victim session."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        first = args[0]
        sid = first if isinstance(first, int) else first.session_id
        if sid == victim:
            raise InjectedError(what)
        return original(*args, **kwargs)

    return wrapper


def test_a_failing_message_handler_hurts_only_its_session(monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    with serving() as server, peers(server, 2) as (victim, other):
        vid = only_session_id(server, 0)
        monkeypatch.setattr(server.dispatcher, "on_prompt", _only_for(server, vid, server.dispatcher.on_prompt,
                                                                    "handler fault"))
        victim.send(m.Prompt(text="a"))
        errors = internal_errors(victim.until(m.ErrorMsg))
        assert errors and "handling a Prompt" in errors[0].message and "handler fault" in errors[0].message
        assert not errors[0].session_closed
        other.accepted(m.Prompt(text="b"))
        served(other, 1)
        served(victim, 2)
        assert logged(caplog, "handler fault") == 1


def test_a_failing_result_send_returns_the_credit(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Before (identity model, answered inline): the Error came but not the frame's credit, so after
    `credits` such failures the client could send nothing more."""
    with serving() as server, peers(server, 2) as (victim, other):
        vid = only_session_id(server, 0)
        original = server.outbound.send_result
        monkeypatch.setattr(server.outbound, "send_result", _only_for(server, vid, original, "result send fault"))
        for i in range(4):  # more than session.credits = 2
            head, pixels = frame(10 + i)
            victim.send(head, pixels)
            seen = victim.until(m.Credit)
            assert internal_errors(seen) and "sending the result of frame" in internal_errors(seen)[0].message
            served(other, 10 + i)
        monkeypatch.setattr(server.outbound, "send_result", original)
        served(victim, 20)
        assert logged(caplog, "result send fault") == 4  # once per failed send


def test_a_notice_that_cannot_be_encoded_is_reported_to_its_session(monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Before: the exception escaped the control runner and stopped the I/O loop (Bye to everyone)."""
    real_encode = codec.encode

    def encode(message: m.Message) -> bytes:
        if isinstance(message, m.Notice):
            raise InjectedError("notice encode fault")
        return real_encode(message)

    with serving() as server, peers(server, 2) as (victim, other):
        monkeypatch.setattr(codec, "encode", encode)
        future = server.submit_control(only_session_id(server, 0), m.Params(guidance_scale=2.0), "preview")
        future.result(timeout=5)  # applied; only its Notice failed
        errors = internal_errors(victim.until(m.ErrorMsg))
        assert errors and errors[0].field == "Notice" and "notice encode fault" in errors[0].message
        served(other, 1)
        served(victim, 2)
        assert logged(caplog, "notice encode fault") == 1


def test_a_failing_control_runner_fails_only_that_command(monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    with serving() as server, peers(server, 2) as (victim, other):
        vid = only_session_id(server, 0)
        monkeypatch.setattr(server.dispatcher, "on_params", _only_for(server, vid, server.dispatcher.on_params,
                                                                    "control fault"))
        future = server.submit_control(vid, m.Params(guidance_scale=2.0), "preview")
        with pytest.raises(InjectedError):
            future.result(timeout=5)
        served(other, 1)
        served(victim, 2)
        assert logged(caplog, "control fault") == 1


def test_a_page_command_the_page_stopped_waiting_for_does_not_stop_the_loop() -> None:
    """Before: a cancelled future (the page's 5 s wait ran out) made set_result raise in the I/O loop."""
    with serving() as server, peers(server, 2) as (victim, other):
        cancelled = 0
        for _ in range(50):
            future = server.submit_control(only_session_id(server, 0), m.Params(guidance_scale=2.0), "preview")
            cancelled += future.cancel()  # False when the loop already took it
        assert cancelled > 0
        # a last command, answered only after the loop went past every cancelled one (commands run in order)
        marker = server.submit_control(only_session_id(server, 0), m.Params(guidance_scale=2.0), "preview")
        marker.result(timeout=10)
        served(other, 1)
        served(victim, 2)


def _rules_server(tmp_path: Path, **limits: Any) -> Any:
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    cfg = config(limits or None)
    return serving(cfg, rules_path=str(path))


def test_a_rules_revert_that_cannot_be_queued_is_reported_to_its_session(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Before: the revert raised in the rules tick, outside the per-message handling: Bye to every
    client and the server stopped."""
    with _rules_server(tmp_path) as server, peers(server, 2) as (victim, other):
        vid = only_session_id(server, 0)
        victim.accepted(m.GameEvent(name="hit"))  # a timed effect: reverts after 0.3 s
        original = server.table.submit_update
        # that session's pipeline-update queue is full when the effect ends
        monkeypatch.setattr(server.table, "submit_update",
                            lambda session, update: False if session.session_id == vid else original(session, update))
        seen = victim.until(m.ErrorMsg, timeout_ms=5000)
        err = seen[-1]
        assert isinstance(err, m.ErrorMsg) and err.code is E.BAD_PARAM and not err.session_closed
        assert "effect ended" in err.message and "not applied" in err.message and "pipeline updates" in err.message
        served(other, 1)
        served(victim, 2)
        # 20 more rules ticks (each could report again), then a Ping answered after anything they sent
        ticks, original_tick = [0], server.rules.tick

        def tick(*args: Any, **kwargs: Any) -> Any:
            ticks[0] += 1
            return original_tick(*args, **kwargs)

        monkeypatch.setattr(server.rules, "tick", tick)
        wait_for(lambda: ticks[0] >= 20, 10, "20 more rules ticks")
        victim.send(m.Ping(nonce=9))
        assert not [x for x in victim.until(m.Pong) if isinstance(x, m.ErrorMsg)], "reported more than once"
        assert logged(caplog, "not applied") == 1


def test_a_failing_rules_tick_turns_the_rules_off_for_that_session_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with _rules_server(tmp_path) as server, peers(server, 2) as (victim, other):
        vid = only_session_id(server, 0)
        host = server.rules
        original = host.tick

        ticks = [0]

        def tick(session_id: int, now: float, frame_no: int | None = None) -> Any:
            ticks[0] += 1
            if session_id == vid and host.engine(session_id) is not None:
                raise InjectedError("rules tick fault")
            return original(session_id, now, frame_no)

        monkeypatch.setattr(host, "tick", tick)
        errors = internal_errors(victim.until(m.ErrorMsg))
        assert errors and "timed rules effects" in errors[0].message and "rules are now off" in errors[0].message
        served(other, 1)
        served(victim, 2)
        after = ticks[0]
        wait_for(lambda: ticks[0] >= after + 20, 10, "20 more rules ticks")  # many turns: logged still once
        other.accepted(m.GameEvent(name="hit"))  # the other session's rules still run
        assert host.engine(only_session_id(server, 1)) is not None and host.engine(vid) is None
        assert logged(caplog, "rules tick fault") == 1


def test_a_failing_rules_reload_is_logged_once_and_everyone_is_served(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with _rules_server(tmp_path) as server, peers(server, 2) as (first, second):
        polls = [0]

        def poll(now: float) -> Any:
            polls[0] += 1
            raise InjectedError("rules reload fault")

        monkeypatch.setattr(server.rules, "poll", poll)
        wait_for(lambda: polls[0] >= 5, 10, "5 loop turns checking the file")  # each one fails
        served(first, 1)
        served(second, 2)
        first.accepted(m.GameEvent(name="hit"))  # the rules in force still run
        assert logged(caplog, "rules reload fault") == 1
