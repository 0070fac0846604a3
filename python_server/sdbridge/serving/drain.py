"""Draining a replica (SIGTERM or BridgeServer.drain): stop taking sessions, ask the open ones to move, answer the
frames in flight, then let the server exit, within metrics.drain_grace_s.

Behind a balancer (deploy/haproxy, Kubernetes) a draining replica reports not ready on /readyz, refuses a new
Hello with SessionLimit and a hint to connect again (the balancer then picks another replica), and sends every
session a Notice of kind ServerShutdown: the sdbridge clients reconnect on it and replay their prompt, parameters
and state. The I/O loop asks `finished` each turn; it is True once every session has left or gone quiet (told,
owed no result, and no message from it for QUIET_S: a client that moved but whose Bye was lost with its old
socket), or when the grace period is over. Until then the sessions still open are served as before (frames in
flight are answered).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import Session
from sdbridge.serving.outbound import Outbound

log = logging.getLogger(__name__)

#: A told session with nothing in flight and no message for this long has left (clients ping every second).
QUIET_S = 1.5

#: The refusal of a Hello while draining (Error SessionLimit: clients retry, a balancer picks another replica).
DRAINING_HINT = ("this replica is draining (shutting down); connect again: a balancer sends the new connection "
                 "to another replica")


class Drain:
    """The drain state of one server. `request` is signal-safe (it only sets fields); the rest runs on the I/O
    thread."""

    def __init__(self) -> None:
        self.grace_s = 0.0
        self.requested_at: float | None = None  # time.monotonic() of the request
        self.told: dict[int, float] = {}  # session id -> when it was sent the ServerShutdown notice

    @property
    def active(self) -> bool:
        """True once a drain was requested (never goes back)."""
        return self.requested_at is not None

    def request(self, grace_s: float) -> None:
        """Start draining (idempotent: a second request keeps the first deadline)."""
        if self.requested_at is None:
            self.grace_s = grace_s
            self.requested_at = time.monotonic()

    def tell(self, sessions: Sequence[Session], outbound: Outbound) -> None:
        """Send the ServerShutdown notice to each session not told yet."""
        for session in sessions:
            if session.session_id in self.told:
                continue
            self.told[session.session_id] = time.monotonic()
            outbound.send(session.identity, m.Notice(
                kind=m.NoticeKind.SERVER_SHUTDOWN, source="drain",
                message=f"this replica is shutting down within {self.grace_s:g} s; reconnect (a balancer sends "
                        f"you to another replica) and replay your prompt, parameters and state"))

    def finished(self, now: float, sessions: Sequence[Session]) -> bool:
        """True when the server may stop: every session left or went quiet, or the grace period is over."""
        assert self.requested_at is not None
        if now - self.requested_at >= self.grace_s:
            left = sum(s.in_flight for s in sessions)
            log.log(logging.WARNING if sessions else logging.INFO, "drain grace of %g s over with %d sessions and "
                    "%d frames in flight left", self.grace_s, len(sessions), left)
            return True
        return all(self._quiet(session, now) for session in sessions)

    def _quiet(self, session: Session, now: float) -> bool:
        told = self.told.get(session.session_id)
        return told is not None and not session.busy and now - max(told, session.last_seen) >= QUIET_S
