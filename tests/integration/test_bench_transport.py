"""`sdbridge bench transport` runs end to end at a small size (figures are printed, never asserted)."""

from __future__ import annotations

import pytest

from sdbridge.cli import main

pytestmark = pytest.mark.integration


def test_bench_transport_prints_three_methods_and_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "transport", "--size", "64", "--frames", "30", "--latency-frames", "20",
                 "--rounds", "1"])
    assert code == 0
    out = capsys.readouterr().out
    for name in ("raw pyzmq DEALER/ROUTER echo", "BridgeClient -> server -> client", "websocket + JPEG q90",
                 "full/raw throughput", "added p50 over raw echo", "websocket+JPEG p50 / full p50"):
        assert name in out
