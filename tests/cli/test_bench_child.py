"""A benchmark's helper process that dies before it is ready is reported at once, not waited for."""

from __future__ import annotations

import time
from multiprocessing.connection import Connection

import pytest

from sdbridge.bench.child import spawn_ready
from sdbridge.errors import BridgeError


def _dies(conn: Connection, code: int) -> None:
    raise SystemExit(code)


def _ready(conn: Connection, answer: str) -> None:
    conn.send(answer)
    conn.recv()


def test_a_helper_that_exits_before_it_is_ready_raises_naming_it() -> None:
    start = time.monotonic()
    with pytest.raises(BridgeError, match=r"_dies exited \(code 3\) before it was ready"):
        spawn_ready(_dies, 3, start_timeout=120)
    assert time.monotonic() - start < 60  # before: it waited the whole start_timeout, then a RuntimeError


def test_a_helper_that_is_ready_answers() -> None:
    proc, conn, first = spawn_ready(_ready, "endpoint", start_timeout=120)
    try:
        assert first == "endpoint"
    finally:
        conn.send("stop")
        proc.join(30)
    assert proc.exitcode == 0
