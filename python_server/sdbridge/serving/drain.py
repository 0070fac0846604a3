"""Draining a replica (SIGTERM or BridgeServer.drain): stop taking sessions, ask the open ones to move, answer the
frames in flight, then let the server exit, within metrics.drain_grace_s.

Behind a balancer (deploy/haproxy, Kubernetes) a draining replica reports not ready on /readyz, refuses a new
Hello with SessionLimit and a hint to connect again (the balancer then picks another replica), and sends every
session a Notice of kind ServerShutdown: the sdbridge clients reconnect on it and replay their prompt, parameters
and state. The I/O loop asks `finished` each turn; it is True once no session is left (they moved), or when the
grace period is over. Until then the sessions still open are served as before (frames in flight are answered).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import Session
from sdbridge.serving.outbound import Outbound

log = logging.getLogger(__name__)

#: The refusal of a Hello while draining (Error SessionLimit: clients retry, a balancer picks another replica).
DRAINING_HINT = ("this replica is draining (shutting down); connect again: a balancer sends the new connection "
                 "to another replica")


class Drain:
    """The drain state of one server. `request` is signal-safe (it only sets fields); the rest runs on the I/O
    thread."""

    def __init__(self) -> None:
        self.grace_s = 0.0
        self.requested_at: float | None = None  # time.monotonic() of the request
        self.told: set[int] = set()  # ids of the sessions sent the ServerShutdown notice

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
            self.told.add(session.session_id)
            outbound.send(session.identity, m.Notice(
                kind=m.NoticeKind.SERVER_SHUTDOWN, source="drain",
                message=f"this replica is shutting down within {self.grace_s:g} s; reconnect (a balancer sends "
                        f"you to another replica) and replay your prompt, parameters and state"))

    def finished(self, now: float, sessions: Sequence[Session]) -> bool:
        """True when the server may stop: every session moved, or the grace period is over."""
        assert self.requested_at is not None
        if now - self.requested_at >= self.grace_s:
            left = sum(s.in_flight for s in sessions)
            log.warning("drain grace of %g s over with %d sessions and %d frames in flight left", self.grace_s,
                        len(sessions), left)
            return True
        return not sessions
