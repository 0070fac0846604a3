"""When a draining server may stop (sdbridge.serving.drain.Drain): every session told, then gone or quiet (nothing
owed, no message for QUIET_S), or the grace period over; the notice goes once to each session."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import ClientInfo, Session
from sdbridge.serving.drain import QUIET_S, Drain


class _Outbound:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    def send(self, identity: bytes, message: m.Message, payload: object | None = None) -> bool:
        self.sent.append((identity, message))
        return True


def _session(name: bytes) -> Session:
    return Session(identity=name, client=ClientInfo(name.decode(), "1", "py", 1, 2), credits=2)


def test_told_once_then_finished_when_quiet() -> None:
    drain, out = Drain(), _Outbound()
    a, b = _session(b"a"), _session(b"b")
    drain.request(60.0)
    now = time.monotonic()
    assert not drain.finished(now, [a])  # not told yet
    drain.tell([a, b], out)  # type: ignore[arg-type]
    drain.tell([a, b], out)  # type: ignore[arg-type]
    assert [(i, n.kind) for i, n in out.sent] == [(b"a", m.NoticeKind.SERVER_SHUTDOWN),
                                                  (b"b", m.NoticeKind.SERVER_SHUTDOWN)]
    later = time.monotonic() + QUIET_S + 0.1
    a.frame_taken()  # a frame in flight: a is owed a result
    assert not drain.finished(later, [a, b])
    a.credit_returned()
    a.last_seen = later - 0.5  # a message arrived after the notice: not quiet yet
    assert not drain.finished(later, [a, b])
    assert drain.finished(later + QUIET_S, [a, b])
    assert drain.finished(now, [])  # every session left


def test_grace_period_ends_the_drain() -> None:
    drain = Drain()
    drain.request(2.0)
    busy = _session(b"c")
    busy.frame_taken()
    assert drain.requested_at is not None
    assert not drain.finished(drain.requested_at + 1.0, [busy])
    assert drain.finished(drain.requested_at + 2.0, [busy])
    drain.request(99.0)  # a second request keeps the first deadline
    assert drain.finished(drain.requested_at + 2.0, [busy])


def test_a_grace_period_over_with_no_session_left_is_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    drain = Drain()
    drain.request(1.0)
    assert drain.requested_at is not None
    with caplog.at_level(logging.INFO, logger="sdbridge.serving.drain"):
        assert drain.finished(drain.requested_at + 1.0, [])
        busy = _session(b"d")
        busy.frame_taken()
        assert drain.finished(drain.requested_at + 1.0, [busy])
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert levels == [(logging.INFO, "drain grace of 1 s over with 0 sessions and 0 frames in flight left"),
                      (logging.WARNING, "drain grace of 1 s over with 1 sessions and 1 frames in flight left")]
