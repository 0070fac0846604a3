"""The one narrow interface through which optional parts (game-event rules, recorder, preview page, metrics)
follow sessions, and the few things they may ask of the server.

The server calls every observer on the I/O thread, in the order they were attached; it knows nothing of
what they do. An observer that raises hurts only the session it was called for: the failure is logged once,
reported to that session as an INTERNAL Error, and the session and the server go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import FrameJob, ResultJob, Session

log = logging.getLogger(__name__)


class SessionObserver(Protocol):
    """What the server tells an attached part about its sessions (I/O thread; never concurrently)."""

    def session_opened(self, session: Session) -> None:
        """A session was opened and its Welcome sent."""

    def session_closed(self, session: Session) -> None:
        """A session ended (Bye, expiry, not reading, internal error, replaced by a new Hello)."""

    def input_accepted(self, session: Session, message: m.Message, frame: FrameJob | None) -> None:
        """A client's (or the preview page's) message passed every check. For a Frame (`frame` set) this is
        called before the frame is counted and handed to the pipeline; for the others after it was applied."""

    def result_sent(self, session: Session, result: ResultJob) -> None:
        """A Result went out to the session's client."""

    def tick(self, now: float, sessions: Sequence[Session]) -> None:
        """Once per I/O loop turn (`now`: time.monotonic()), with the live sessions."""


class ServerHooks(Protocol):
    """What an observer may ask of the server (the same checks as a client's message apply)."""

    def queue_update(self, session: Session, values: dict[str, Any], transition_frames: int = 0,
                     transition_seconds: float = 0.0, easing: Callable[[float], float] | None = None,
                     source: str = "") -> None:
        """Queue pipeline changes for one session (raises ProtocolError when refused)."""

    def error(self, identity: bytes, code: m.ErrorCode, message: str, field_name: str = "",
              frame_id: int | None = None, session_closed: bool = False) -> None:
        """Send an Error to one peer."""

    def internal(self, session: Session | None, identity: bytes, what: str, exc: BaseException,
                 close: bool = False) -> None:
        """Report a failure of ours while working for one session (logged once, Error INTERNAL)."""

    def send(self, identity: bytes, message: m.Message, payload: object | None = None) -> bool:
        """Send one message to one peer."""


class ObserverSet:
    """The attached observers, called in order; a failing one is reported for its session and skipped."""

    def __init__(self, hooks: ServerHooks) -> None:
        self._hooks = hooks
        self._observers: list[SessionObserver] = []
        self._failing: set[int] = set()  # ids of observers whose tick raised (logged once)

    def attach(self, observer: SessionObserver) -> None:
        """Add an observer (called after the ones already attached)."""
        self._observers.append(observer)

    def __iter__(self) -> Iterator[SessionObserver]:
        return iter(self._observers)

    def __bool__(self) -> bool:
        return bool(self._observers)

    def _each(self, session: Session | None, identity: bytes, what: str,
              call: Callable[[SessionObserver], None]) -> None:
        for observer in self._observers:
            try:
                call(observer)
            except Exception as exc:  # one observer's bug: that session is told, nothing else stops
                self._hooks.internal(session, identity, f"{what} ({type(observer).__name__})", exc)

    def session_opened(self, session: Session) -> None:
        """Tell every observer that `session` opened."""
        self._each(session, session.identity, "opening the session", lambda o: o.session_opened(session))

    def session_closed(self, session: Session) -> None:
        """Tell every observer that `session` ended (the session is already out of the table)."""
        self._each(None, session.identity, "closing the session", lambda o: o.session_closed(session))

    def input_accepted(self, session: Session, message: m.Message, frame: FrameJob | None = None) -> None:
        """Tell every observer that `message` of `session` was accepted."""
        if not self._observers:  # the hot path with nothing attached: no closure, no text
            return
        self._each(session, session.identity, f"noting a {type(message).__name__}",
                   lambda o: o.input_accepted(session, message, frame))

    def result_sent(self, session: Session, result: ResultJob) -> None:
        """Tell every observer that a Result of `session` went out."""
        if not self._observers:
            return
        self._each(session, session.identity, f"noting the result of frame {result.frame_id}",
                   lambda o: o.result_sent(session, result))

    def tick(self, now: float, sessions: Sequence[Session]) -> None:
        """One I/O loop turn for every observer. A failure here is not one session's: logged once until that
        observer's tick works again."""
        for observer in self._observers:
            try:
                observer.tick(now, sessions)
                self._failing.discard(id(observer))
            except Exception:
                if id(observer) not in self._failing:
                    log.exception("%s.tick failed (logged once until it works again)", type(observer).__name__)
                self._failing.add(id(observer))

