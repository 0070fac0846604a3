"""Reconnecting BridgeClient (sdbridge.transport.client) with exponential backoff and full jitter.

Behind a balancer (deploy/haproxy) a refused or unanswered Hello is no reason to give up: a full replica
(Error SessionLimit), a draining one, or one that died before the balancer's health check noticed, is followed
by another try on a new connection, which the balancer sends to another replica. Tries are spaced by
`Backoff` (exponential from `base_s` to `cap_s`, each delay drawn uniformly below it: "full jitter", so that
the clients of a dead replica do not all come back at the same instant) and stop after `window_s`, when the
last refusal is raised. A version mismatch or a refusal that is not about capacity is raised at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sdbridge.errors import ProtocolError, TransportError, VersionMismatchError
from sdbridge.protocol import messages as m

log = logging.getLogger(__name__)

#: Refusals after which another try (on a new connection) may land on a replica with room: set_capacity_refusal in
#: schemas/bridge.fbs (the C# and C++ clients read the same set: ErrorCodeSets.IsCapacityRefusal, IsCapacityRefusal).
RETRY_CODES = m.CAPACITY_REFUSAL


@dataclass
class Backoff:
    """Delays between tries: the n-th is uniform in [0, min(cap_s, base_s * 2**n)] (full jitter)."""

    base_s: float = 0.05
    cap_s: float = 1.0
    rng: random.Random = field(default_factory=random.Random)
    tries: int = 0

    def next_delay(self) -> float:
        """The delay before the next try (and count this one)."""
        ceiling = min(self.cap_s, self.base_s * (2 ** min(self.tries, 30)))
        self.tries += 1
        return self.rng.uniform(0.0, ceiling)

    def reset(self) -> None:
        """Start again from `base_s` (after a success)."""
        self.tries = 0


def retryable(exc: BaseException) -> bool:
    """True for a failed try that another try may fix (no answer, or a refusal for capacity)."""
    if isinstance(exc, VersionMismatchError):
        return False
    if isinstance(exc, ProtocolError):
        return exc.code in {int(code) for code in RETRY_CODES}
    return isinstance(exc, TransportError)


def with_backoff(attempt: Callable[[float], m.Welcome], backoff: Backoff, window_s: float,
                 try_timeout_s: float, sleep: Callable[[float], None] = time.sleep, what: str = "reconnect"
                 ) -> m.Welcome:
    """Call `attempt(timeout)` until it returns a Welcome; retryable failures wait `backoff.next_delay()` and
    try again while `window_s` seconds have not passed; the last failure is raised after that. `what` names the
    tries in the log ("reconnect", "connect")."""
    deadline = time.monotonic() + window_s
    while True:
        remaining = deadline - time.monotonic()
        try:
            welcome = attempt(max(0.05, min(try_timeout_s, remaining)))
        except (ProtocolError, TransportError) as exc:
            delay = backoff.next_delay()
            if not retryable(exc) or time.monotonic() + delay >= deadline:
                raise
            log.info("%s refused or unanswered (%s); trying again in %.3f s", what, exc, delay)
            sleep(delay)
            continue
        backoff.reset()
        return welcome
