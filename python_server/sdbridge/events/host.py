"""Server glue of the rules engine: one `RuleEngine` per session, and hot reload of the rules file.

The server's I/O thread calls every method (no locking). `poll` re-reads the file when its modification
time or size changed; a file that fails to load is reported (`last_error`, an ERROR log line naming the
line and the problem) and the previous rules stay in force. The re-read and validation run on a short-lived
thread of their own and a later `poll` applies the result, so a large file never stalls the I/O thread
(the file itself is bounded: rules.MAX_FILE_BYTES, rules.MAX_RULES). No sockets and no torch here.
"""

from __future__ import annotations

import concurrent.futures
import difflib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sdbridge.events.engine import Outcome, RuleEngine
from sdbridge.events.rules import RulesError, RuleSet, Scalar, load_rules

log = logging.getLogger(__name__)

#: Event names that no rule listens for are logged once each, at most this many per rules file (a client sending
#: ever new names cannot flood the log).
MAX_UNHEARD_NAMES = 32


class RulesHost:
    """The loaded rules file and the engines of the live sessions."""

    def __init__(self, path: str | Path, defaults: Mapping[str, Any] | None = None,
                 poll_interval: float = 0.5, styles: bool = True, live_loras: Sequence[str] | None = None) -> None:
        """Load `path` (RulesError if it is invalid). `defaults`: the pipeline's starting parameters. `styles`:
        False when the server has no IP-Adapter (a file declaring [styles] is then refused, at start and reload).
        `live_loras`: the live LoRA adapters the server loads (a file whose lora_weights names another is refused,
        at start and reload); None: not known here, the server refuses such a change when a rule makes it."""
        self.path = Path(path)
        self._defaults = dict(defaults or {})
        self.poll_interval = poll_interval
        self._styles = styles
        self._live_loras = None if live_loras is None else tuple(live_loras)
        self._stamp = self._stat()
        self.rules: RuleSet = self._load()
        self._text = self.rules.text
        self._engines: dict[int, RuleEngine] = {}
        self._next_poll = 0.0
        self._loading: concurrent.futures.Future[RuleSet] | None = None  # a reload running on its own thread
        self.reloads = 0  # successful reloads
        self.failed_reloads = 0
        self.last_error = ""
        self._unheard: set[str] = set()  # event names logged as heard by no rule, since the rules in force loaded
        self._undeclared: set[str] = set()  # State keys logged as no variable, since the rules in force loaded
        log.info("rules file %s: %d rules on events %s; reloaded when it changes (checked every %g s)", self.path,
                 len(self.rules.rules), ", ".join(self.rules.event_names()) or "(none by name)", poll_interval)

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
        if engine is None:
            return Outcome()
        if not self.rules.listens_for(name):
            self._log_unheard(session_id, name)
        return engine.on_event(name, payload, now, frame)

    def _log_undeclared(self, session_id: int, key: str) -> None:
        """Log once per key (at most MAX_UNHEARD_NAMES) that a State key is no variable of the rules file: it is kept
        on the session but no template or condition reads it, so a misspelt key otherwise changes nothing, silently."""
        _log_once(self._undeclared, key, sorted(self.rules.variables), "further undeclared keys are not logged",
                  "State key %r (session %d) is no variable of %s: kept, but no rule or template reads it (its "
                  "variables: %s)", key[:200], session_id, self.path)

    def _log_unheard(self, session_id: int, name: str) -> None:
        """Log once per name (at most MAX_UNHEARD_NAMES) that no rule listens for event `name`: a typo in the
        rules file or the game's code otherwise does nothing, silently."""
        _log_once(self._unheard, name, list(self.rules.event_names()), "further unknown names are not logged",
                  "GameEvent %r (session %d) runs no rule: %s has no rule with event = %r (its events: %s)",
                  name[:200], session_id, self.path, name[:200])

    def state(self, session_id: int, entries: Mapping[str, Scalar], replace_all: bool = False) -> Outcome:
        """A State message of a session."""
        engine = self._engines.get(session_id)
        if engine is None:
            return Outcome()
        outcome = engine.on_state(entries, replace_all)
        for key in outcome.ignored:
            self._log_undeclared(session_id, key)
        return outcome

    def tick(self, session_id: int, now: float, frame: int | None = None) -> Outcome:
        """Let a session's timed effects end (`frame`: see RuleEngine.tick)."""
        engine = self._engines.get(session_id)
        return engine.tick(now, frame) if engine is not None else Outcome()

    # ------------------------------------------------------------------ hot reload

    def poll(self, now: float) -> dict[int, Outcome]:
        """Every `poll_interval` seconds: start a reload on a thread of its own if the file changed; apply a
        finished one. Returns each session's changes (empty until the reload has finished)."""
        loading = self._loading
        if loading is not None:
            if not loading.done():
                return {}
            self._loading = None
            return self._apply(loading)
        if now < self._next_poll:
            return {}
        self._next_poll = now + self.poll_interval
        if not self._changed():
            return {}
        future: concurrent.futures.Future[RuleSet] = concurrent.futures.Future()
        self._loading = future
        threading.Thread(target=self._load_into, args=(future,), name="sdbridge-rules-reload", daemon=True).start()
        return {}

    def check(self) -> dict[int, Outcome]:
        """Reload now, on the calling thread, if the file's modification time or size changed (see `poll`)."""
        if not self._changed():
            return {}
        future: concurrent.futures.Future[RuleSet] = concurrent.futures.Future()
        self._load_into(future)
        return self._apply(future)

    def _changed(self) -> bool:
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        return True

    def _load(self) -> RuleSet:
        rules = load_rules(self.path)
        if rules.styles is not None and not self._styles:
            raise RulesError(f"{self.path}: [styles] declares style images {list(rules.styles.names)}, but this server "
                             "has no IP-Adapter to use them; start it with --ip-adapter SOURCE (e.g. tiny) or remove "
                             "[styles]")
        if not self._styles:
            self._warn_without_adapter(rules)
        self._check_lora_names(rules)
        return rules

    def _check_lora_names(self, rules: RuleSet) -> None:
        """Every adapter a lora_weights of the file names is one the server loads (RulesError naming where)."""
        if self._live_loras is None:
            return
        for where, values in _param_places(rules):
            for key, value in values:
                unknown = [name for name, _ in (value if key == "lora_weights" else ()) if name not in self._live_loras]
                if unknown:
                    loaded = ", ".join(self._live_loras) or "none"
                    raise RulesError(f"{self.path}: {where} sets lora_weights for {unknown[0]!r}, which this server "
                                     f"does not load as a live LoRA (it loads: {loaded}); start it with --lora "
                                     f"SOURCE=SCALE:live naming that adapter, or fix the name")

    def _warn_without_adapter(self, rules: RuleSet) -> None:
        """ip_adapter_scale in a file served without an IP-Adapter changes nothing: say so (it was taken silently)."""
        where = [place for place, values in _param_places(rules) if any(key == "ip_adapter_scale" for key, _ in values)]
        if where:
            log.warning("%s: ip_adapter_scale is set by %s, but this server has no IP-Adapter, so it changes nothing; "
                        "start the server with --ip-adapter SOURCE (e.g. tiny) or drop the key", self.path,
                        ", ".join(where[:5]) + (f" and {len(where) - 5} more" if len(where) > 5 else ""))

    def _load_into(self, future: concurrent.futures.Future[RuleSet]) -> None:
        try:
            future.set_result(self._load())
        except BaseException as exc:  # RulesError, or a bug of ours: reported by _apply on the I/O thread
            future.set_exception(exc)

    def _apply(self, loaded: concurrent.futures.Future[RuleSet]) -> dict[int, Outcome]:
        exc = loaded.exception()
        if exc is not None:
            self.failed_reloads += 1
            self.last_error = str(exc) if isinstance(exc, RulesError) else f"{type(exc).__name__}: {exc}"
            log.error("rules file not reloaded, the previous rules stay in force: %s", self.last_error)
            return {}
        rules = loaded.result()
        if rules.text == self._text:  # e.g. a broken edit undone: the rules in force are the file's again
            if self.last_error:
                self.last_error = ""
                log.info("rules file %s loads again, the same as the rules in force (nothing to update)", self.path)
            return {}
        self.rules, self._text, self.last_error = rules, rules.text, ""
        self._unheard.clear()
        self._undeclared.clear()
        self.reloads += 1
        outcomes: dict[int, Outcome] = {}
        for session_id, engine in list(self._engines.items()):
            self._engines[session_id], outcomes[session_id] = engine.reloaded(rules)
        log.info("rules reloaded from %s (%d rules, %d sessions updated)", self.path, len(rules.rules),
                 len(outcomes))
        return outcomes


def _param_places(rules: RuleSet) -> list[tuple[str, Sequence[tuple[str, Any]]]]:
    """(where, its (key, value) params) of the file's [params] and of each rule, `where` as errors name it."""
    return [("[params]", rules.params)] + [(f"rule {r.name!r} (line {r.line})", r.params) for r in rules.rules]


def _log_once(seen: set[str], name: str, known: list[str], capped: str, message: str, *args: Any) -> None:
    """Log `message` % args at INFO once per `name` (at most MAX_UNHEARD_NAMES names in `seen`), followed by
    `known` (what the file has), the closest of them to `name` when one is close, and `capped` at the cap."""
    if name in seen or len(seen) > MAX_UNHEARD_NAMES:
        return
    seen.add(name)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    log.info(message + "%s%s", *args, ", ".join(known) or "none", hint,
             f"; {capped}" if len(seen) > MAX_UNHEARD_NAMES else "")
