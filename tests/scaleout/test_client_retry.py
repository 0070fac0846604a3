"""Reconnect tries with backoff and jitter (sdbridge.transport.client_retry): the delays, which failures are tried
again, the window (the client itself, behind HAProxy: test_failover.py)."""

from __future__ import annotations

import random

import pytest

from sdbridge.errors import ProtocolError, TransportError, VersionMismatchError
from sdbridge.protocol import messages as m
from sdbridge.transport.client_retry import Backoff, retryable, with_backoff


def test_backoff_is_exponential_capped_and_jittered() -> None:
    backoff = Backoff(base_s=0.1, cap_s=0.5, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.1, 0.2, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert all(0.0 <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    assert len(set(delays)) == len(delays)  # drawn, not fixed
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_what_is_tried_again() -> None:
    assert retryable(ProtocolError(int(m.ErrorCode.SESSION_LIMIT), "full"))
    assert retryable(TransportError("no Welcome"))
    assert not retryable(ProtocolError(int(m.ErrorCode.BAD_PARAM), "bad"))
    assert not retryable(VersionMismatchError(int(m.ErrorCode.VERSION_MISMATCH), "major 9"))


def test_with_backoff_retries_until_welcome_then_gives_up_after_the_window() -> None:
    slept: list[float] = []
    answers: list[BaseException | m.Welcome] = [ProtocolError(int(m.ErrorCode.SESSION_LIMIT), "full"),
                                                 TransportError("no answer"),
                                                 m.Welcome(session_id=7, protocol_major=1, protocol_minor=2)]

    def attempt(timeout: float) -> m.Welcome:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    backoff = Backoff(rng=random.Random(1))
    welcome = with_backoff(attempt, backoff, window_s=30, try_timeout_s=1, sleep=slept.append)
    assert welcome.session_id == 7 and len(slept) == 2 and backoff.tries == 0
    with pytest.raises(ProtocolError, match="bad"):  # not tried again
        with_backoff(lambda t: (_ for _ in ()).throw(ProtocolError(int(m.ErrorCode.BAD_PARAM), "bad")),
                     Backoff(), window_s=30, try_timeout_s=1, sleep=slept.append)
    assert len(slept) == 2
    with pytest.raises(TransportError):  # tried again until the window is over
        with_backoff(lambda t: (_ for _ in ()).throw(TransportError("down")), Backoff(base_s=0.01, cap_s=0.02),
                     window_s=0.3, try_timeout_s=0.1)
