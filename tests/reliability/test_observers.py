"""Optional parts follow sessions through one narrow interface (sdbridge.serving.observers.SessionObserver):
an observer attached to the server is told of each session's opening, accepted inputs, sent results, loop
ticks and closing; one that raises hurts only the session it was called for."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import FrameJob, ResultJob, Session
from sdbridge.server import BridgeServer

from .test_budgets import Peer, config, frame, only_session_id

E = m.ErrorCode


class Watcher:
    """Records every call (the I/O thread calls it; the test reads under the lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, int, str]] = []  # (method, session id, detail)
        self.ticks = 0
        self.fail_for: int | None = None  # input_accepted raises for this session id

    def _note(self, method: str, session: Session, detail: str = "") -> None:
        with self.lock:
            self.calls.append((method, session.session_id, detail))

    def session_opened(self, session: Session) -> None:
        self._note("opened", session)

    def session_closed(self, session: Session) -> None:
        self._note("closed", session)

    def input_accepted(self, session: Session, message: m.Message, frame: FrameJob | None) -> None:
        if session.session_id == self.fail_for:
            raise RuntimeError("observer fault")
        self._note("input", session, type(message).__name__ + (f" frame {frame.frame_id}" if frame else ""))

    def result_sent(self, session: Session, result: ResultJob) -> None:
        self._note("result", session, str(result.frame_id))

    def tick(self, now: float, sessions: Sequence[Session]) -> None:
        with self.lock:
            self.ticks += 1

    def of(self, session_id: int) -> list[tuple[str, str]]:
        with self.lock:
            return [(method, detail) for method, sid, detail in self.calls if sid == session_id]


def _server(watcher: Watcher) -> BridgeServer:
    server = BridgeServer(config())
    server.observers.attach(watcher)
    server.start_in_thread()
    return server


def _wait(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_an_observer_sees_a_session_from_hello_to_bye() -> None:
    watcher = Watcher()
    server = _server(watcher)
    peer = Peer(server.endpoint)
    try:
        peer.hello()
        sid = only_session_id(server, 0)
        peer.accepted(m.Prompt(text="a lake"))
        peer.accepted(m.GameEvent(name="hit"))
        head, pixels = frame(5)
        peer.send(head, pixels)
        peer.until(m.ResultHeader)
        refused = peer.error_for(m.Params(guidance_scale=float("nan")))  # a refused message reaches no observer
        assert refused.code is E.BAD_PARAM
        peer.send(m.Bye(reason="done"))
        _wait(lambda: ("closed", "") in watcher.of(sid))
        calls = watcher.of(sid)
        assert calls[0] == ("opened", "")
        inputs = [detail for method, detail in calls if method == "input"]
        assert inputs[:3] == ["Prompt", "Ping", "GameEvent"] and "FrameHeader frame 5" in inputs
        assert "Params" not in inputs
        assert ("result", "5") in calls and calls[-1] == ("closed", "")
        assert watcher.ticks > 0
    finally:
        peer.close()
        server.close()


def test_a_failing_observer_hurts_only_its_session() -> None:
    watcher = Watcher()
    server = _server(watcher)
    victim, other = Peer(server.endpoint), Peer(server.endpoint)
    try:
        victim.hello()
        other.hello()
        watcher.fail_for = only_session_id(server, 0)
        victim.send(m.Prompt(text="a"))
        err = victim.until(m.ErrorMsg)[-1]
        assert isinstance(err, m.ErrorMsg) and err.code is E.INTERNAL and not err.session_closed
        assert "noting a Prompt (Watcher)" in err.message and "observer fault" in err.message
        other.accepted(m.Prompt(text="b"))  # the other session is served and observed
        head, pixels = frame(1)
        other.send(head, pixels)
        other.until(m.ResultHeader)
        assert ("input", "Prompt") in watcher.of(only_session_id(server, 1))
        watcher.fail_for = None
        victim.accepted(m.Prompt(text="c"))  # the victim's session went on
    finally:
        victim.close()
        other.close()
        server.close()
