"""`sdbridge bench pipeline` runs end to end on tiny components and reports every configuration of
docs/benchmarks.md; every figure it reports is finite and positive."""

from __future__ import annotations

import argparse
import math
import re

import pytest
import torch

from sdbridge.bench.pipeline_bench import pipeline_report, run_pipeline_bench

#: the shared report runs the whole benchmark (every section) once: far more than the default 300 s on a loaded
#: 2-core machine
pytestmark = pytest.mark.timeout(1200)


def _real(cell: str) -> bool:
    value = float(cell)
    return math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def report(tiny) -> str:
    """One run of the whole benchmark on tiny components (minutes on a loaded 2-core machine), shared."""
    return run_pipeline_bench(tiny, 64, frames_per_row=4, with_original=False, with_diffusers=False)


def test_report_has_every_configuration(report):
    for name in ("stream batch, 1 step, cfg none", "sequential,   4 steps, cfg none", "stream batch, 4 steps, cfg self",
                 "stream batch, 4 steps, cfg initialize", "stream batch, 4 steps, cfg full",
                 "similarity filter, static input"):
        assert name in report
    for line in ("stream batch / sequential at 4 steps", "RCFG self / full CFG at 4 steps", "a skipped frame costs",
                 "4 sessions (2 steps, cfg self", "Host time per frame outside the model calls"):
        assert line in report
    # every table row carries measured frames/s (finite, positive) and per-stage milliseconds (finite; a stage
    # such as preprocess can print 0.0 at one decimal)
    rows = [re.split(r"\s*\|\s*", r) for r in report.splitlines() if r.startswith(("| stream", "| sequential"))]
    assert len(rows) == 10
    assert all(_real(cells[2]) for cells in rows), rows
    assert all(math.isfinite(float(ms)) and float(ms) >= 0 for cells in rows for ms in cells[3:8]), rows


def test_report_has_the_compute_section(report):
    assert "Compute per stage" in report
    rows = [r for r in report.splitlines() if r.startswith(("| VAE encode", "| UNet, batch 1", "| VAE decode"))]
    assert len(rows) == 3
    assert all(_real(re.split(r"\s*\|\s*", r)[2]) for r in rows)  # GMAC counted


def test_the_command_loads_the_model_in_its_dtype_and_passes_the_flags(monkeypatch):
    """`sdbridge bench pipeline` goes through pipeline_report; the full run is the test above (minutes on a loaded
    2-core machine), so here the measurement itself is replaced and only the wiring is checked."""
    import torch

    from sdbridge.bench import pipeline_bench

    seen = {}

    def fake(comps, size, frames, *, with_original, with_diffusers):
        seen.update(dtype=comps.dtype, size=size, frames=frames, original=with_original, diffusers=with_diffusers)
        return "report"

    monkeypatch.setattr(pipeline_bench, "run_pipeline_bench", fake)
    assert pipeline_report("tiny", "bfloat16", 48, 3, with_original=False, with_diffusers=True) == "report"
    assert seen == {"dtype": torch.bfloat16, "size": 48, "frames": 3, "original": False, "diffusers": True}


def test_host_time_figures_are_finite_and_positive(tiny):
    """The host-time section (zero-cost model): both paths, both client sizes, every figure finite and > 0."""
    from sdbridge.bench.host_time import host_time_report

    report = host_time_report(tiny, frames=2, size=64)
    rows = [re.split(r"\s*\|\s*", r) for r in report.splitlines() if r.startswith(("| 512x512", "| 1920x1080"))]
    assert [cells[1] for cells in rows] == ["512x512 -> 64x64 -> 512x512", "1920x1080 -> 64x64 -> 1920x1080"]
    assert all(_real(cell) for cells in rows for cell in cells[2:6]), rows  # wall and CPU ms of both paths


def test_the_host_time_flag_runs_only_that_section(monkeypatch):
    """`sdbridge bench pipeline --host-time` reaches host_time_report and nothing else."""
    from sdbridge.bench import pipeline_bench
    from sdbridge.commands import bench_pipeline

    monkeypatch.setattr(pipeline_bench, "run_pipeline_bench", lambda *a, **k: pytest.fail("the full benchmark ran"))
    monkeypatch.setattr(pipeline_bench, "host_time_report", lambda comps, frames: f"host {comps.name} {frames}")
    parser = argparse.ArgumentParser()
    bench_pipeline.add_arguments(parser)
    args = parser.parse_args(["--model", "tiny", "--frames", "10", "--host-time"])  # 10: no few-frames warning
    printed = []
    monkeypatch.setattr("builtins.print", printed.append)
    assert bench_pipeline.run(args) == 0
    assert printed == ["host tiny 10"]


def test_mac_count_matches_a_hand_count():
    import torch

    from sdbridge.bench.compute import _count_macs

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Conv2d(8, 8, 3, padding=1, groups=2),
                              torch.nn.Flatten(), torch.nn.Linear(8 * 5 * 5, 10))
    x = torch.randn(2, 3, 5, 5)
    # conv 3->8: 2*8*5*5 outputs x 3*3*3; grouped conv: 2*8*5*5 outputs x (8/2)*3*3; linear: 2*10 outputs x 200
    want = 2 * 8 * 25 * 27 + 2 * 8 * 25 * 36 + 2 * 10 * 200
    with torch.inference_mode():
        assert _count_macs([net], lambda: net(x)) == want


def test_stage_compute_of_the_sdxl_family(tiny_sdxl):
    from sdbridge.bench.compute import stage_compute

    stages = stage_compute(tiny_sdxl, 64, repeats=1)
    assert [s.name for s in stages] == ["VAE encode", "UNet, batch 1", "VAE decode"]
    assert all(math.isfinite(s.gmac) and s.gmac > 0 and math.isfinite(s.ms) and s.ms > 0 for s in stages)


def test_report_has_the_live_lora_cost_section(report):
    """Live (unfused) LoRA against the same LoRA fused: four measured rows, the fused one the 1.00x reference."""
    pytest.importorskip("peft", reason="peft is in the [dev] extra")
    assert "live LoRA cost (rank 16" in report
    rows = [re.split(r"\s*\|\s*", r) for r in report.splitlines()
            if r.startswith(("| no LoRA", "| live LoRA", "| LoRA fused"))]
    assert [cells[1] for cells in rows] == ["no LoRA", "live LoRA, fixed weight",
                                            "live LoRA, weight changed every frame", "LoRA fused"]
    assert all(_real(cells[2]) and _real(cells[3]) for cells in rows), rows
    assert rows[-1][4] == "1.00x"


def test_the_live_lora_bench_leaves_the_loaded_components_alone(tiny):
    pytest.importorskip("peft", reason="peft is in the [dev] extra")
    from sdbridge.bench.lora_cost import lora_cost_report
    from sdbridge.scene import SceneRenderer

    before = {n: p.clone() for n, p in tiny.unet.named_parameters()}
    scene = SceneRenderer(64, 64)
    assert "| LoRA fused |" in lora_cost_report(tiny, 64, [scene.render(i) for i in range(3)], rank=4)
    after = dict(tiny.unet.named_parameters())
    assert before.keys() == after.keys() and all(torch.equal(before[n], after[n]) for n in before)
    assert tiny.live_loras is None


def test_similarity_line_without_a_skipped_or_processed_frame_prints_no_nan():
    """tiny at 64x64 can skip every static frame: the line printed 'nan ms = nan%'."""
    from sdbridge.bench.pipeline_bench import Row, _similarity_line

    all_skipped = _similarity_line(Row(name="s", fps=1.0, stages_ms={}, skip_rate=1.0, skipped_ms=0.2))
    assert "nan" not in all_skipped and "no frame was processed" in all_skipped
    none_skipped = _similarity_line(Row(name="s", fps=1.0, stages_ms={}, skip_rate=0.0, processed_ms=3.0))
    assert "nan" not in none_skipped and "no frame was skipped" in none_skipped
    both = _similarity_line(Row(name="s", fps=1.0, stages_ms={}, skip_rate=0.5, skipped_ms=0.3, processed_ms=3.0))
    assert "0.30 ms = 10.0% of a processed frame (3.0 ms)" in both
