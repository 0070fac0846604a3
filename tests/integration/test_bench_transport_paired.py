"""sdbridge.bench.transport_paired: frames alone and with a depth plane alternating in one session."""

from __future__ import annotations

import math
import re

import pytest

from sdbridge.bench import transport_paired
from sdbridge.bench.transport_paired import WARMUP_PAIRS, Paired, report_paired
from sdbridge.cli import main


def test_pairs_alternate_their_order_and_keep_each_kind_apart() -> None:
    calls: list[tuple[int, bool]] = []

    def round_trip(i: int, with_plane: bool) -> float:
        calls.append((i, with_plane))
        return (2.0 if with_plane else 1.0) + i * 1e-3  # each kind recognisable, each call distinct

    alone, with_plane = transport_paired._pairs(round_trip, 4)
    assert [w for _i, w in calls[:4]] == [False, True, True, False]  # plain first, then the plane first
    assert len(calls) == 2 * (4 + WARMUP_PAIRS) and len(alone) == len(with_plane) == 4
    assert all(1.0 <= a < 2.0 for a in alone) and all(p >= 2.0 for p in with_plane)
    first = 2 * WARMUP_PAIRS  # the warm-up pairs are left out, the rest kept in call order within its kind
    assert alone[0] == pytest.approx(1.0 + first * 1e-3) and with_plane[0] == pytest.approx(2.0 + (first + 1) * 1e-3)
    assert alone[1] == pytest.approx(1.0 + (first + 3) * 1e-3)  # an odd pair: the plane went first


def test_report_reads_the_median_paired_difference_against_the_goal() -> None:
    lines = report_paired([Paired("bridge + R16F depth 64x64", 0.5, 0.6, 0.05, 100),
                           Paired("raw echo + R16F depth 64x64", 0.4, 0.44, 0.04, 100),
                           Paired("bridge + R16F depth 32x32", 0.5, 0.6, 0.1, 100)], rounds=2)
    assert lines[0] == "paired in one session (frames alone and with the plane alternating, 2 rounds pooled):"
    assert lines[1] == ("  bridge + R16F depth 64x64: frame alone p50 0.500 ms, with the plane 0.600 ms; median paired "
                        "difference +0.050 ms = +10.0% of the frame alone over 100 pairs (goal: at most +15%: met)")
    assert lines[2].endswith("+10.0% of the frame alone over 100 pairs (the bytes alone)")
    assert lines[3].endswith("+20.0% of the frame alone over 100 pairs (goal: at most +15%: NOT met)")


@pytest.mark.integration
def test_bench_transport_prints_the_paired_lines_with_real_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "transport", "--size", "64", "--frames", "20", "--latency-frames", "10", "--rounds", "1",
                 "--pairs", "10"]) == 0
    out = capsys.readouterr().out
    for name in ("bridge + R16F depth 64x64", "raw echo + R16F depth 64x64", "bridge + R16F depth 32x32",
                 "raw echo + R16F depth 32x32"):
        found = re.search(rf"  {re.escape(name)}: frame alone p50 ([\d.]+) ms, with the plane ([\d.]+) ms; median "
                          r"paired difference ([+-][\d.]+) ms = [+-][\d.]+% of the frame alone over 10 pairs", out)
        assert found is not None, out
        alone, plane, diff = (float(v) for v in found.groups())
        assert all(math.isfinite(v) for v in (alone, plane, diff)) and alone > 0 and plane > 0


def test_no_pairs_skips_the_paired_run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from sdbridge.bench import transport

    monkeypatch.setattr(transport, "run_benchmark", lambda *a, **k: [
        transport.Measurement(n, 1.0, 1.0, 1.0) for n in ("raw", "bridge", "ws")])
    monkeypatch.setattr(transport_paired, "run_paired", lambda *a: pytest.fail("--pairs 0 ran the pairs"))
    assert main(["bench", "transport", "--size", "64", "--pairs", "0"]) == 0
    assert "paired in one session" not in capsys.readouterr().out
