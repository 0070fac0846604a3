"""The ControlNet section of `sdbridge bench pipeline` (sdbridge.bench.controlnet_cost) on tiny components: the
rows with 0, 1 and 2 ControlNets and the plane conversions against Canny carry finite, positive figures; the
`--controlnet` flag runs that section alone. Nothing here asserts on time."""

from __future__ import annotations

import argparse
import math
import re

import pytest

from sdbridge.bench.controlnet_cost import controlnet_cost_report
from sdbridge.scene import SceneRenderer


def _cells(report: str, prefix: str) -> list[list[str]]:
    return [re.split(r"\s*\|\s*", line)[1:-1] for line in report.splitlines() if line.startswith(prefix)]


def test_the_section_reports_every_row(tiny) -> None:
    scene = SceneRenderer(64, 64)
    report = controlnet_cost_report(tiny, 64, [scene.render(i) for i in range(4)], repeats=2)
    rows = _cells(report, "| no ControlNet") + _cells(report, "| 1 ControlNet") + _cells(report, "| 2 ControlNets")
    assert [r[0] for r in rows] == ["no ControlNet", "1 ControlNet (depth)", "2 ControlNets (depth, canny)"]
    assert all(math.isfinite(float(r[1])) and float(r[1]) > 0 for r in rows), rows
    assert rows[0][3] == "+0.0"
    conversions = [r for r in _cells(report, "| ") if "->" in r[0]]
    assert [r[0].split(" ")[0] for r in conversions] == ["depth", "normals", "segmentation", "colour"]
    assert all(float(cell) > 0 for r in conversions for cell in r[1:3]), conversions
    assert conversions[-1][3] == "1.0x"  # Canny against itself
    assert "Planes into conditioning at 512x512 on cpu" in report


def test_the_controlnet_flag_runs_only_that_section(monkeypatch: pytest.MonkeyPatch) -> None:
    from sdbridge.bench import pipeline_bench
    from sdbridge.commands import bench_pipeline

    monkeypatch.setattr(pipeline_bench, "run_pipeline_bench", lambda *a, **k: pytest.fail("the full benchmark ran"))
    monkeypatch.setattr(pipeline_bench, "controlnet_cost_report",
                        lambda comps, size, frames: f"controlnet {comps.name} {size} {len(frames)}")
    parser = argparse.ArgumentParser()
    bench_pipeline.add_arguments(parser)
    printed: list[str] = []
    monkeypatch.setattr("builtins.print", printed.append)
    assert bench_pipeline.run(parser.parse_args(["--model", "tiny", "--size", "64", "--frames", "10",
                                                 "--controlnet"])) == 0  # 10: no few-frames warning below it
    assert printed == ["controlnet tiny 64 14"]


def test_bench_transport_measures_the_depth_plane(capsys: pytest.CaptureFixture[str]) -> None:
    """`sdbridge bench transport` has rows with an R16F depth plane in every Frame, of the frame's size and of half
    of it (finite, positive figures), and lines comparing each with the frame alone, computed from the figures."""
    from sdbridge.bench.transport import Measurement, depth_plane, report
    from sdbridge.cli import main

    assert depth_plane(64).dtype.name == "float16" and depth_plane(64).shape == (64, 64)
    assert main(["bench", "transport", "--size", "64", "--frames", "30", "--latency-frames", "20",
                 "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for name in ("bridge + R16F depth 64x64", "bridge + R16F depth 32x32"):
        line = next(line for line in out.splitlines() if line.startswith(name))
        fps, p50, p99, dropped = (float(v) for v in line[len(name):].split()[:4])  # then the CPU per frame
        assert all(math.isfinite(v) and v > 0 for v in (fps, p50, p99)) and p50 <= p99 and dropped >= 0
        assert f"{name.removeprefix('bridge + ')} plane: p50 round trip" in out
    figures = [Measurement("raw", 1000.0, 0.5, 0.9), Measurement("bridge", 800.0, 0.6, 1.0),
               Measurement("ws", 100.0, 9.0, 12.0), Measurement("bridge + R16F depth 64x64", 700.0, 0.66, 1.1),
               Measurement("bridge + R16F depth 32x32", 400.0, 0.9, 1.1)]
    lines = report(figures, size=64, window=2, rounds=1)
    assert ("R16F depth 64x64 plane: p50 round trip +10.0% over the frame alone, frames/s -12.5% (goal: at most "
            "+15%: met)") in lines
    assert "R16F depth 32x32 plane: p50 round trip +50.0% over the frame alone, frames/s -50.0% (goal: at most " \
           "+15%: NOT met)" in lines
