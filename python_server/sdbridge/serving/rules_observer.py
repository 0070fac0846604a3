"""The game-event rules (sdbridge.events, `--rules FILE`) attached to the server as a SessionObserver.

GameEvent and State messages a session accepted go to its rules engine; the pipeline changes the rules decide
are queued through the same checks as a client's Params/Prompt; the rules' problems are reported to that
session's client. A failure of the rules is that session's alone: logged once, reported, and the rules are
switched off for it (the session goes on).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from sdbridge import params as sdparams
from sdbridge.config import ServerConfig
from sdbridge.errors import ProtocolError
from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import FrameJob, ResultJob, Session
from sdbridge.serving.observers import ServerHooks

log = logging.getLogger(__name__)


class RulesObserver:
    """Loads the rules file (a bad one raises, stopping the start) and runs one rules engine per session."""

    def __init__(self, path: str, config: ServerConfig, hooks: ServerHooks) -> None:
        from sdbridge.events.host import RulesHost

        self.path = path
        self.hooks = hooks
        self.host = RulesHost(path, sdparams.live_values(config.pipeline),  # [styles] need the IP-Adapter
                              styles=bool(config.model.ip_adapter.strip()), live_loras=tuple(config.model.live_loras()))
        self._poll_failing = False  # the rules file check raised (logged once until it works again)

    # ------------------------------------------------------------------ SessionObserver

    def session_opened(self, session: Session) -> None:
        """Start this session's rules engine (its initial state may already change the pipeline)."""
        self._step(session, "starting the game-event rules", lambda: self.host.open(session.session_id))

    def session_closed(self, session: Session) -> None:
        """Forget this session's rules engine."""
        self.host.close(session.session_id)

    def input_accepted(self, session: Session, message: m.Message, frame: FrameJob | None) -> None:
        """Feed a GameEvent or State to the rules; before a Frame, end the effects timed in frames."""
        sid = session.session_id
        if frame is not None:  # effects timed in frames end before the frame that reaches their end
            self._step(session, "ending timed rules effects before a Frame",
                       lambda: self.host.tick(sid, time.monotonic(), session.stats.frames_received))
        elif isinstance(message, m.GameEvent):
            self._step(session, "applying a GameEvent to the game-event rules",
                       lambda: self.host.event(sid, message.name, dict(message.payload), time.monotonic(),
                                               session.stats.frames_received), "GameEvent.payload")
        elif isinstance(message, m.State):
            self._step(session, "applying a State to the game-event rules",
                       lambda: self.host.state(sid, dict(message.entries), message.replace_all), "State.entries")

    def result_sent(self, session: Session, result: ResultJob) -> None:
        """Nothing: rules follow inputs, not results."""

    def tick(self, now: float, sessions: Sequence[Session]) -> None:
        """End timed effects and reload the rules file when it changed (I/O thread, every loop turn)."""
        host = self.host
        try:
            reloaded = host.poll(now)
            self._poll_failing = False
        except Exception:  # the previous rules stay in force; logged once until a check works again
            if not self._poll_failing:
                log.exception("checking the rules file %s for changes failed; the previous rules stay in force",
                              self.path)
            self._poll_failing = True
            reloaded = {}
        for session in sessions:
            outcome = reloaded.get(session.session_id)
            if outcome is not None:
                self._step(session, "applying the reloaded rules file", lambda o=outcome: o)
            self._step(session, "ending timed rules effects",  # frames: see input_accepted
                       lambda s=session: host.tick(s.session_id, now))

    # ------------------------------------------------------------------ applying outcomes

    def _step(self, session: Session, what: str, step: Callable[[], Any], field_name: str = "") -> None:
        """Run one rules step of one session and apply its outcome. A failure is that session's alone: it is
        logged once and reported to it, and the rules are switched off for it (the session goes on)."""
        try:
            self._apply(session, step(), field_name)
        except Exception as exc:
            self.host.close(session.session_id)
            self.hooks.internal(session, session.identity,
                                f"{what} (game-event rules are now off for this session)", exc)

    def _apply(self, session: Session, outcome: Any, field_name: str) -> None:
        """Queue the pipeline changes of a rules outcome; report its problems to the session's client."""
        from sdbridge.events.easing import EASINGS

        problems = list(outcome.problems)
        for change in outcome.changes:
            values = dict(change.values)
            if "prompt_interpolation" in values:
                from sdbridge.pipeline import Interpolation

                values["prompt_interpolation"] = Interpolation(values["prompt_interpolation"])
            log.debug("session %d rules: %s -> %s", session.session_id, change.reason, values)
            try:
                self.hooks.queue_update(session, values, change.frames, change.seconds, EASINGS[change.easing],
                                        source="rules: ")
            except ProtocolError as exc:  # e.g. this session's pipeline-update queue is full: this change is lost
                log.warning("session %d: rules change (%s) not applied: %s", session.session_id, change.reason, exc)
                problems.append(f"rules change ({change.reason}) not applied: {exc}")
        # outcome.ignored (State keys that are no variable): RulesHost logs each key once, with a suggestion
        if problems:
            self.hooks.error(session.identity, m.ErrorCode.BAD_PARAM, "; ".join(problems), field_name)
