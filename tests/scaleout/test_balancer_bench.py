"""`sdbridge bench transport --via HOST:PORT --direct HOST:PORT` (sdbridge.bench.balancer): round trips through
Debian's haproxy (deploy/haproxy/haproxy.cfg, every server line pointing at one identity replica) against the same
replica straight, in one run; the figures are printed, not held to the 0.1 ms goal on this loaded machine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sdbridge.bench import balancer
from tests.conftest import NO_SKIP, wait_for
from tests.scaleout.failover import Replica, render_haproxy, start_haproxy
from tests.scaleout.helpers import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_endpoint_flags() -> None:
    assert balancer.endpoint_of("127.0.0.1:5555", "--via") == "tcp://127.0.0.1:5555"
    assert balancer.endpoint_of("tcp://h:1", "--via") == "tcp://h:1"
    with pytest.raises(ValueError, match=r"--direct='nohost' must be HOST:PORT"):
        balancer.endpoint_of("nohost", "--direct")
    out = subprocess.run([sys.executable, "-m", "sdbridge", "bench", "transport", "--via", "127.0.0.1:5555"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode != 0 and "--via and --direct go together" in out.stderr + out.stdout


@pytest.mark.timeout(240)
@pytest.mark.skipif(shutil.which("haproxy") is None and not NO_SKIP, reason="haproxy not installed")
def test_balancer_cost_is_measured_in_one_run(tmp_path: Path) -> None:
    replica = Replica.start(grace_s=1.0, max_sessions=4)
    front = free_port()
    haproxy = start_haproxy(render_haproxy([replica] * 3, front, tmp_path / "haproxy.cfg"))
    try:
        wait_for(replica.ready, 30, "the replica to be ready")
        paths = balancer.measure(f"tcp://127.0.0.1:{replica.port}", f"tcp://127.0.0.1:{front}", size=512,
                                 count=100, rounds=2)
    finally:
        haproxy.terminate()
        haproxy.wait(10)
        replica.process.stop()
    print("\n" + "\n".join(balancer.report(paths, 512)))
    assert [len(p.rtts) for p in paths] == [200, 200]
    assert all(p.p(0.5) > 0 for p in paths)
