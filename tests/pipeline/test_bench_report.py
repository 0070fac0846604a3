"""`sdbridge bench pipeline` runs end to end on tiny components and reports every configuration of issue 2."""

from __future__ import annotations

import re

from sdbridge.bench.pipeline_bench import run_pipeline_bench


def test_report_has_every_configuration(tiny):
    report = run_pipeline_bench(tiny, 64, frames_per_row=4, with_original=False, with_diffusers=False)
    for name in ("stream batch, 1 step, cfg none", "sequential,   4 steps, cfg none", "stream batch, 4 steps, cfg self",
                 "stream batch, 4 steps, cfg initialize", "stream batch, 4 steps, cfg full",
                 "similarity filter, static input"):
        assert name in report
    for line in ("stream batch / sequential at 4 steps", "RCFG self / full CFG at 4 steps", "a skipped frame costs",
                 "4 sessions (2 steps, cfg self"):
        assert line in report
    # every table row carries measured positive frames/s
    rows = [r for r in report.splitlines() if r.startswith("| stream") or r.startswith("| sequential")]
    assert len(rows) == 10
    assert all(float(re.split(r"\s*\|\s*", r)[2]) > 0 for r in rows)
