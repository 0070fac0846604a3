"""`sdbridge bench pipeline --accel X` report: every configuration on eager and X in one run."""

from __future__ import annotations

import math

from sdbridge.bench.accel_bench import CONFIGS, run_accel_bench
from sdbridge.pipeline import Components


def test_accel_report_has_both_sides(tiny: Components, tiny_ort: Components) -> None:
    report = run_accel_bench(tiny, tiny_ort, "onnxruntime", 64, frames_per_row=2, rounds=1)
    rows = [line for line in report.splitlines() if line.startswith("| stream batch")]
    assert len(rows) == len(CONFIGS)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        eager, ort, ratio = float(cells[1]), float(cells[2]), float(cells[3].rstrip("x"))
        assert all(math.isfinite(v) and v > 0 for v in (eager, ort, ratio))  # (the ratio: unrounded frames/s)
        assert float(cells[6]) < 1e-2  # same-run accuracy: the latent difference column
    assert "onnxruntime / torch eager: min" in report
