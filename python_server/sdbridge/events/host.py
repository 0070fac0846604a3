"""Server glue of the rules engine: one `RuleEngine` per session, and hot reload of the rules file.

The server's I/O thread calls every method (no locking). `poll` re-reads the file when its modification
time or size changed; a file that fails to load is reported (`last_error`, an ERROR log line naming the
line and the problem) and the previous rules stay in force. No sockets and no torch here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sdbridge.events.engine import Outcome, RuleEngine
from sdbridge.events.rules import RulesError, RuleSet, Scalar, load_rules

log = logging.getLogger(__name__)


class RulesHost:
    """The loaded rules file and the engines of the live sessions."""

    def __init__(self, path: str | Path, defaults: Mapping[str, Any] | None = None,
                 poll_interval: float = 0.5) -> None:
        """Load `path` (RulesError if it is invalid). `defaults`: the pipeline's starting parameters."""
        self.path = Path(path)
        self._defaults = dict(defaults or {})
        self.poll_interval = poll_interval
        self._stamp = self._stat()
        self.rules: RuleSet = load_rules(self.path)
        self._text = self.rules.text
        self._engines: dict[int, RuleEngine] = {}
        self._next_poll = 0.0
        self.reloads = 0  # successful reloads
        self.failed_reloads = 0
        self.last_error = ""

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    # ------------------------------------------------------------------ sessions

    def open(self, session_id: int) -> Outcome:
        """A new session: its engine starts at the rules' defaults; returns the initial prompt and params."""
        engine = RuleEngine(self.rules, self._defaults)
        self._engines[session_id] = engine
        return engine.start()

    def close(self, session_id: int) -> None:
        """Forget a session's engine."""
        self._engines.pop(session_id, None)

    def engine(self, session_id: int) -> RuleEngine | None:
        """The engine of a session (None when it has none)."""
        return self._engines.get(session_id)

    def event(self, session_id: int, name: str, payload: Mapping[str, Scalar], now: float, frame: int) -> Outcome:
        """A GameEvent of a session."""
        engine = self._engines.get(session_id)
        return engine.on_event(name, payload, now, frame) if engine is not None else Outcome()

    def state(self, session_id: int, entries: Mapping[str, Scalar], replace_all: bool = False) -> Outcome:
        """A State message of a session."""
        engine = self._engines.get(session_id)
        return engine.on_state(entries, replace_all) if engine is not None else Outcome()

    def tick(self, session_id: int, now: float, frame: int | None = None) -> Outcome:
        """Let a session's timed effects end (`frame`: see RuleEngine.tick)."""
        engine = self._engines.get(session_id)
        return engine.tick(now, frame) if engine is not None else Outcome()

    # ------------------------------------------------------------------ hot reload

    def poll(self, now: float) -> dict[int, Outcome]:
        """Every `poll_interval` seconds: reload the file if it changed. Returns each session's changes."""
        if now < self._next_poll:
            return {}
        self._next_poll = now + self.poll_interval
        return self.check()

    def check(self) -> dict[int, Outcome]:
        """Reload the file now if its modification time or size changed (see `poll`)."""
        stamp = self._stat()
        if stamp == self._stamp:
            return {}
        self._stamp = stamp
        try:
            rules = load_rules(self.path)
        except RulesError as exc:
            self.failed_reloads += 1
            self.last_error = str(exc)
            log.error("rules file not reloaded, the previous rules stay in force: %s", exc)
            return {}
        if rules.text == self._text:
            return {}
        self.rules, self._text, self.last_error = rules, rules.text, ""
        self.reloads += 1
        outcomes: dict[int, Outcome] = {}
        for session_id, engine in list(self._engines.items()):
            self._engines[session_id], outcomes[session_id] = engine.reloaded(rules)
        log.info("rules reloaded from %s (%d rules, %d sessions updated)", self.path, len(rules.rules),
                 len(outcomes))
        return outcomes
