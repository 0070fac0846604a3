"""Start a benchmark helper in a spawned child process that reports back over a pipe once it is ready.

A helper that fails before it is ready sends its error back instead of printing a traceback: the parent raises
BridgeError with the error's one line, and logs the child's traceback at debug level (shown with `sdbridge -v`).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sdbridge.errors import BridgeError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChildFailure:
    """What a helper that failed before it was ready sends instead of its ready message."""

    message: str  # the exception's text (with its type unless it is one of ours, which name the fix themselves)
    trace: str  # the formatted traceback


class _Watched:
    """The child's end of the pipe, noting whether the helper has sent anything yet (its ready message)."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.sent = conn, False

    def send(self, obj: Any) -> None:
        self.sent = True
        self.conn.send(obj)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def _guarded(conn: Connection, target: Callable[..., None], *args: Any) -> None:
    """Run target(conn, *args); an error before its ready message goes back over the pipe as a ChildFailure (the
    process exits with code 1 and prints nothing). An error after it is raised as usual: a helper crashing mid-run
    is a bug whose traceback must show."""
    watched = _Watched(conn)
    try:
        target(watched, *args)
    except Exception as exc:  # reported to the parent, which raises BridgeError (SystemExit keeps its code)
        if watched.sent:
            raise
        message = str(exc) if isinstance(exc, BridgeError) else f"{type(exc).__name__}: {exc}"
        conn.send(ChildFailure(message, traceback.format_exc()))
        raise SystemExit(1) from None


def spawn_ready(target: Callable[..., None], *args: Any, start_timeout: float = 120.0
                ) -> tuple[mp.Process, Connection, Any]:
    """Run target(conn, *args) in a spawned process; returns (process, our end of the pipe, its first message).

    The child sends one message when it is ready (e.g. its endpoint). A child silent for `start_timeout`
    seconds is killed and RuntimeError names it; a child that fails before it is ready (a bad model or size)
    raises BridgeError at once with its error's one line (its traceback logged at debug level).
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_guarded, args=(child, target, *args), daemon=True)
    proc.start()
    child.close()  # the child holds its own copy: once it exits, our end reads end-of-file instead of waiting
    if not parent.poll(start_timeout):
        proc.kill()
        raise RuntimeError(f"benchmark helper {target.__name__} did not start within {start_timeout:g} s")
    try:
        first = parent.recv()
    except EOFError:
        proc.join(5)
        raise BridgeError(f"benchmark helper {target.__name__} exited (code {proc.exitcode}) before it was ready; "
                          "fix the option it names (e.g. --model, --size) and run again") from None
    if isinstance(first, ChildFailure):
        proc.join(5)
        log.debug("benchmark helper %s failed:\n%s", target.__name__, first.trace)
        raise BridgeError(f"benchmark helper {target.__name__} could not start: {first.message}")
    return proc, parent, first
