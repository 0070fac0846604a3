"""scripts/hop_floor.py: the floor under a balancer's cost (a plain 1 MiB TCP echo, straight and through minimal
C forwarders and HAProxy with the deploy tuning). The figures are printed, not held to a goal: the test checks that
every path this host can run is measured and that HAProxy runs with the deploy config's tuning."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import NO_SKIP
from tests.protocol.conftest import load_module

ROOT = Path(__file__).resolve().parents[2]
hop_floor = load_module(ROOT / "scripts" / "hop_floor.py", "hop_floor_under_test")

pytestmark = pytest.mark.integration


def test_haproxy_runs_with_the_deploy_tuning() -> None:
    deploy = (ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    tuning = deploy.split("\nfrontend", 1)[0]
    config = hop_floor.haproxy_config(7001, 7002)
    assert config.startswith(tuning)
    assert "tune.bufsize" in config and "splice" in config
    assert "bind 127.0.0.1:7001" in config and "server echo 127.0.0.1:7002" in config
    assert "server r1" not in config and "backend replicas" not in config  # the deploy replicas are left out


@pytest.mark.timeout(120)
def test_every_path_is_measured() -> None:
    results = hop_floor.measure(rounds=2, trips=5)
    expected = {"straight"}
    if shutil.which("cc") or shutil.which("gcc") or NO_SKIP:
        expected |= {"C read/write", "C splice"}
    if shutil.which("haproxy") or NO_SKIP:
        expected.add("HAProxy (deploy tuning)")
    assert set(results) == expected
    assert all(len(p50s) == 2 and all(p > 0 for p in p50s) for p50s in results.values())
    lines = hop_floor.report(results, 5)
    print("\n" + "\n".join(lines))
    assert len(lines) == 2 + len(expected) and "+" in lines[-1]


def test_bad_flags_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        hop_floor.main(["--rounds", "0"])
    assert "--rounds=0 must be at least 1" in capsys.readouterr().err
