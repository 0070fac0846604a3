"""Failover on loopback: Debian's haproxy with deploy/haproxy/haproxy.cfg in front of 3 identity replicas (real
`sdbridge serve` processes, worker path), 12 Python clients through it. One replica is killed (SIGKILL), then
another drained (SIGTERM, --drain-grace): every client streams again within 2 s of each, every result is the
client's own frame, exact, and the frames lost are counted and printed."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import NO_SKIP, wait_for
from tests.scaleout.failover import (
    Replica,
    Streamer,
    haproxy_down_servers,
    render_haproxy,
    start_haproxy,
    tear_down,
)
from tests.scaleout.helpers import free_port

pytestmark = pytest.mark.integration

if shutil.which("haproxy") is None and not NO_SKIP:
    pytest.skip("haproxy not installed (bash scripts/install_tools.sh scaleout)", allow_module_level=True)

CLIENTS = 12
BACK_WITHIN_S = 2.0
WINDOW_S = 4.0  # the gaps in each client's results are measured over this long after each fault


def _after(moment: float) -> bool:
    return time.monotonic() > moment + WINDOW_S


@pytest.mark.timeout(300)
def test_kill_and_drain_behind_haproxy(tmp_path: Path) -> None:
    replicas = [Replica.start(grace_s=10.0, max_sessions=CLIENTS) for _ in range(3)]
    front = free_port()
    haproxy = start_haproxy(render_haproxy(replicas, front, tmp_path / "haproxy.cfg"))
    streamers = [Streamer(f"tcp://127.0.0.1:{front}", i) for i in range(CLIENTS)]
    threads = []
    try:
        wait_for(lambda: all(r.ready() for r in replicas), 60, "3 ready replicas")
        threads = [s.start() for s in streamers]
        wait_for(lambda: all(len(s.results_at) >= 10 for s in streamers), 60, "every client streaming")
        replicas[0].process.stop(kill=True)  # SIGKILL
        killed_at = time.monotonic()
        wait_for(lambda: _after(killed_at), WINDOW_S + 5, "the window after the kill")
        replicas[1].process.proc.send_signal(signal.SIGTERM)
        drained_at = time.monotonic()
        drain_exit = replicas[1].process.proc.wait(15)
        drain_took = time.monotonic() - drained_at
        wait_for(lambda: _after(drained_at), WINDOW_S + 5, "the window after the drain")
        down = sorted(haproxy_down_servers(tmp_path / "haproxy.log"))
    finally:
        tear_down(streamers, threads, haproxy, [r.process for r in replicas])
    gaps_kill = [s.longest_gap(killed_at, killed_at + WINDOW_S) for s in streamers]
    gaps_drain = [s.longest_gap(drained_at, drained_at + WINDOW_S) for s in streamers]
    moved = [sum(1 for s in streamers if any(a <= t < a + WINDOW_S for t in s.moves)) for a in (killed_at, drained_at)]
    lost = [sum(s.lost_between(a - 1.0, a + WINDOW_S) for s in streamers) for a in (killed_at, drained_at)]
    print(f"\nfailover, {CLIENTS} clients through haproxy, 3 identity replicas: SIGKILL moved {moved[0]} clients, "
          f"longest gap in any client's results {max(gaps_kill):.3f} s, {lost[0]} frames lost; SIGTERM drain moved "
          f"{moved[1]} clients, longest gap {max(gaps_drain):.3f} s, {lost[1]} frames lost, the replica exited "
          f"{drain_exit} after {drain_took:.2f} s; {sum(s.sent for s in streamers)} frames sent in all; haproxy "
          f"marked down: {down}")
    assert not [w for s in streamers for w in s.wrong], [s.wrong[:3] for s in streamers if s.wrong]
    assert moved[0] >= 1 and moved[1] >= 1, moved  # each fault hit clients (the balancer spread them)
    assert max(gaps_kill) <= BACK_WITHIN_S, gaps_kill
    assert max(gaps_drain) <= BACK_WITHIN_S, gaps_drain
    assert drain_exit == 0 and drain_took < 10.0
    assert not [e for s in streamers for e in s.errors], [s.errors[:2] for s in streamers if s.errors]
