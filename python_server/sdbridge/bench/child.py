"""Start a benchmark helper in a spawned child process that reports back over a pipe once it is ready."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from sdbridge.errors import BridgeError


def spawn_ready(target: Callable[..., None], *args: Any, start_timeout: float = 120.0
                ) -> tuple[mp.Process, Connection, Any]:
    """Run target(conn, *args) in a spawned process; returns (process, our end of the pipe, its first message).

    The child sends one message when it is ready (e.g. its endpoint). A child silent for `start_timeout`
    seconds is killed and RuntimeError names it; a child that exits before it is ready (a bad model or size: its
    traceback is on stderr) raises BridgeError at once instead of being waited for.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child, *args), daemon=True)
    proc.start()
    child.close()  # the child holds its own copy: once it exits, our end reads end-of-file instead of waiting
    if not parent.poll(start_timeout):
        proc.kill()
        raise RuntimeError(f"benchmark helper {target.__name__} did not start within {start_timeout:g} s")
    try:
        return proc, parent, parent.recv()  # type: ignore[return-value]
    except EOFError:
        proc.join(5)
        raise BridgeError(f"benchmark helper {target.__name__} exited (code {proc.exitcode}) before it was ready; "
                          "its error is printed above: fix that option (e.g. --model, --size) and run again") from None
