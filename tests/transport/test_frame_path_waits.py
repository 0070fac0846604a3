"""The frame path waits only on events: no timed wait of a millisecond or so runs out between a frame and its result.

`sdbridge bench transport` and plain client loops sometimes ran at about 1,000 frames/s instead of about 2,200
(512x512, identity). A poll or condition timeout of ~1 ms in the frame path would give exactly that; this counts
every wait of the client and of the server (identity model, answered on the I/O thread, and the worker path) while
frames stream with every credit in use: no wait with a timeout under 50 ms runs it out, nothing sleeps, and the
polls per frame are few (no busy loop). The one short wait is the worker path's hand-over (Worker.hand_over: at most
2 ms for an idle worker to take the frame, woken by the take; on a loaded machine the worker may not run in time, so
it is seen but not held to that). What the count leaves, measured in RELIABILITY.md: client and server need about
0.45 ms of CPU each per 512x512 frame, so when the two take turns on one core of this 2-core machine (the other
busy with other work) a frame costs their sum, ~0.9 ms.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import zmq

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

FRAMES = 300
SHORT_S = 0.05  # a timed wait shorter than this in the frame path would be a quantum
HAND_OVER_S = 0.002  # Worker.hand_over's bound


class Waits:
    """Every zmq poll, sleep and condition wait made while installed: its timeout (seconds) and whether it ran out."""

    def __init__(self) -> None:
        self.polls: list[tuple[float | None, bool]] = []
        self.sleeps: list[float] = []
        self.conditions: list[tuple[float | None, bool]] = []
        self.lock = threading.Lock()

    def short(self, ran_out: bool = True) -> list[tuple[str, float]]:
        """The waits with a timeout under SHORT_S (a zero timeout is a check, not a wait) that ran it out (or, with
        ran_out=False, all of them)."""
        found = [("sleep", t) for t in self.sleeps]
        for kind, made in (("poll", self.polls), ("condition", self.conditions)):
            found += [(kind, t) for t, out in made if t is not None and 0 < t < SHORT_S and (out or not ran_out)]
        return found


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Waits]:
    record = Waits()
    poll, sleep, wait = zmq.Poller.poll, time.sleep, threading.Condition.wait

    def counted_poll(self: zmq.Poller, timeout: int | None = None) -> Any:
        events = poll(self, timeout)
        with record.lock:
            record.polls.append((None if timeout is None or timeout < 0 else timeout / 1000, not events))
        return events

    def counted_sleep(seconds: float) -> None:
        with record.lock:
            record.sleeps.append(seconds)
        sleep(seconds)

    def counted_wait(self: threading.Condition, timeout: float | None = None) -> bool:
        woken = wait(self, timeout)
        with record.lock:
            record.conditions.append((timeout, not woken))
        return woken

    monkeypatch.setattr(zmq.Poller, "poll", counted_poll)
    monkeypatch.setattr(time, "sleep", counted_sleep)
    monkeypatch.setattr(threading.Condition, "wait", counted_wait)
    yield record


def _stream(endpoint: str, frames: int, deadline_s: float = 120.0) -> int:
    """Stream 512x512 RGBA frames with every credit in use until `frames` results came back; returns the results
    received. A frame the server drops (the worker's latest-wins slot replaces it under load) returns its credit
    and no result, so frames are sent until enough results came, not exactly `frames` of them; a deadline ends it
    (the caller's assertion then fails) instead of waiting forever."""
    image = np.random.default_rng(0).integers(0, 256, (512, 512, 4), dtype=np.uint8)
    received = 0
    end = time.monotonic() + deadline_s
    with BridgeClient(endpoint, name="waits") as client:
        client.connect(timeout=30)
        while received < frames and time.monotonic() < end:
            while client.credits > 0:
                client.submit(image)
            if client.receive(timeout=10) is not None:
                received += 1
    return received


@pytest.mark.parametrize("inline", [True, False], ids=["identity-on-io-thread", "worker-path"])
def test_no_short_timed_wait_between_a_frame_and_its_result(waits: Waits, inline: bool) -> None:
    cfg = with_overrides(ServerConfig(), model={"name": "identity", "identity_inline": inline},
                         top={"bind": "tcp://127.0.0.1:*"})
    server = BridgeServer(cfg)
    server.start_in_thread()
    try:
        warm = _stream(server.endpoint, 20)
        with waits.lock:  # count the streaming only (not the start and the handshake's own polls)
            waits.polls.clear()
            waits.sleeps.clear()
            waits.conditions.clear()
        assert warm == 20 and _stream(server.endpoint, FRAMES) == FRAMES
    finally:
        server.close()
    assert waits.polls, "the counting hook saw no poll: it would not see a short one either"
    assert len(waits.polls) <= 6 * FRAMES, f"{len(waits.polls)} polls for {FRAMES} frames: a busy loop"
    short = waits.short()
    if not inline:  # the hand-over's short waits are seen (so another short wait would be), then left out
        assert len(waits.short(ran_out=False)) >= FRAMES // 2
        short = [w for w in short if w != ("condition", HAND_OVER_S)]
    assert short == [], short[:10]
