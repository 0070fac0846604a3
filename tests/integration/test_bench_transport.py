"""`sdbridge bench transport` runs end to end at a small size. Its figures are never compared with a speed (that
is what the benchmark is for), but each must be a real measurement: finite and positive."""

from __future__ import annotations

import math
import time

import pytest

from sdbridge.bench.transport import Measurement, report
from sdbridge.cli import main

pytestmark = pytest.mark.integration

METHODS = ("raw pyzmq DEALER/ROUTER echo", "BridgeClient -> server -> client", "websocket + JPEG q90")


def _row(out: str, name: str) -> list[float]:
    """The figures of one method's table row: frames/s, p50 ms, p99 ms, dropped (and CPU ms per frame for the
    bridge rows)."""
    line = next(line for line in out.splitlines() if line.startswith(name))
    return [float(v) for v in line[len(name):].split()]


def test_bench_transport_prints_three_methods_with_real_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "transport", "--size", "64", "--frames", "30", "--latency-frames", "20",
                 "--rounds", "1"])
    assert code == 0
    out = capsys.readouterr().out
    for name in (*METHODS, "bridge + R16F depth 64x64", "raw echo + R16F depth 64x64 part"):
        fps, p50, p99, dropped, *cpu = _row(out, name)
        assert all(math.isfinite(v) and v > 0 for v in (fps, p50, p99)), f"{name}: {fps}, {p50}, {p99}"
        assert p50 <= p99 and dropped >= 0
        assert len(cpu) == (0 if name == METHODS[2] else 1) and all(v > 0 for v in cpu), (name, cpu)
    for name in ("full/raw throughput", "added p50 over raw echo", "websocket+JPEG p50 / full p50",
                 "R16F depth 64x64 plane: p50", "  its bytes alone (raw echo with a third part)", "(client "):
        assert name in out


def test_report_ratios_follow_the_figures() -> None:
    """The ratio lines are computed from the measurements (a fixed table, so the expected text is exact)."""
    figures = [Measurement(METHODS[0], 1000.0, 0.5, 0.9), Measurement(METHODS[1], 800.0, 0.6, 1.0),
               Measurement(METHODS[2], 100.0, 9.0, 12.0)]
    lines = report(figures, size=64, window=2, rounds=1)
    assert "full/raw throughput: 80.0% (goal >= 70%: met)" in lines
    assert "added p50 over raw echo: 0.100 ms (goal <= 0.3 ms: met)" in lines
    assert "websocket+JPEG p50 / full p50: 15.0x (goal >= 5x: met)" in lines


def test_report_gives_the_depth_planes_cost_in_round_trip_and_cpu() -> None:
    figures = [Measurement(METHODS[0], 1000.0, 0.5, 0.9), Measurement(METHODS[1], 800.0, 0.6, 1.0, cpu_ms=0.5),
               Measurement(METHODS[2], 100.0, 9.0, 12.0),
               Measurement("bridge + R16F depth 64x64", 640.0, 0.66, 1.1, cpu_ms=0.55)]
    lines = report(figures, size=64, window=2, rounds=1)
    assert ("R16F depth 64x64 plane: p50 round trip +10.0% over the frame alone, frames/s -20.0% (goal: at most "
            "+15%: met); CPU per frame (client + server) 0.550 ms, +10.0% over the frame alone") in lines
    assert any(line.startswith("load average (1, 5, 15 min)") for line in lines)


def test_report_sets_each_plane_against_its_bytes_through_raw_zeromq() -> None:
    """The raw echo row with the plane's bytes is the floor the plane row is read against; CPU per process."""
    figures = [Measurement(METHODS[0], 1000.0, 0.5, 0.9, cpu_ms=0.4, cpu_split=(0.25, 0.15)),
               Measurement(METHODS[1], 800.0, 0.6, 1.0, cpu_ms=0.5, cpu_split=(0.3, 0.2)),
               Measurement(METHODS[2], 100.0, 9.0, 12.0),
               Measurement("bridge + R16F depth 64x64", 640.0, 0.75, 1.1, cpu_ms=0.6, cpu_split=(0.32, 0.28)),
               Measurement("raw echo + R16F depth 64x64 part", 900.0, 0.6, 1.0, cpu_ms=0.44, cpu_split=(0.27, 0.17))]
    lines = report(figures, size=64, window=2, rounds=1)
    assert ("R16F depth 64x64 plane: p50 round trip +25.0% over the frame alone, frames/s -20.0% (goal: at most "
            "+15%: NOT met); CPU per frame (client + server) 0.600 ms, +20.0% over the frame alone (client 0.300 -> "
            "0.320 ms, server 0.200 -> 0.280 ms)") in lines
    assert ("  its bytes alone (raw echo with a third part): p50 round trip +20.0% over the raw echo; CPU per frame "
            "(client + server) 0.440 ms, +10.0% over the frame alone (client 0.250 -> 0.270 ms, server 0.150 -> "
            "0.170 ms)") in lines
    assert sum(line.startswith("raw echo + R16F depth 64x64 part") for line in lines) == 1  # its table row


def test_cpu_per_frame_counts_from_the_mark_not_the_warm_up() -> None:
    """The CPU figures started before the connect and the 20 warm-up round trips, which made a short run's
    frame-alone CPU larger than its with-plane CPU (-70%); now they count from run's mark()."""
    from sdbridge.bench import transport as bench

    class FakeServer:  # the server child's pipe: its CPU clock reads 1 s at the mark and 3 s at the end
        def __init__(self) -> None:
            self.readings = iter([1.0, 3.0])

        def send(self, _what: str) -> None:
            pass

        def recv(self) -> float:
            return next(self.readings)

    def run(mark):
        busy_until = time.process_time() + 0.2  # warm-up CPU that must not count
        while time.process_time() < busy_until:
            pass
        mark()
        return bench.Sample([0.001], 100.0, 0), 1000

    sample = bench._with_cpu(FakeServer(), run)  # type: ignore[arg-type]
    client, served = sample.cpu_split
    assert served == pytest.approx(2.0)  # (3 s - 1 s) / 1000 frames, in ms
    assert client < 0.1  # the 0.2 s of warm-up CPU before the mark is not in it (it would add 0.2 ms)
