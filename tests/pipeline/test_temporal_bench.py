"""`sdbridge bench temporal` (sdbridge.bench.temporal): the scene's motion and depth are exact, and the report has a
row per method."""

from __future__ import annotations

import math

import numpy as np
import torch

from sdbridge.bench.temporal import PanScene, methods, report, warping_error
from sdbridge.pipeline import StreamConfig, temporal_warp


def test_the_scene_motion_is_exact_so_the_input_error_is_zero_without_flicker() -> None:
    scene = PanScene(64, speed=4, flicker=0.0)
    frames = [scene.render(t) for t in range(6)]
    pixels, motions, depths = ([f[i] for f in frames] for i in range(3))
    assert warping_error(pixels, motions, depths) == 0.0
    # the test can fail: with flicker, or with a wrong motion, the error is positive
    flicker = [PanScene(64, speed=4, flicker=0.02).render(t) for t in range(6)]
    assert warping_error([f[0] for f in flicker], motions, depths) > 0
    assert warping_error(pixels, [m * 0 for m in motions], depths) > 0
    # and the near layer's parallax reveals background: some pixels are masked out
    flow = torch.from_numpy(motions[3])[None]
    mask = temporal_warp.disocclusion_mask(flow, torch.from_numpy(depths[3])[None, None],
                                           torch.from_numpy(depths[2])[None, None])
    inside = temporal_warp.warp(flow, flow)[1]
    assert 0 < float((inside - mask).sum()) < 0.2 * mask.numel()


def test_the_report_has_a_row_per_method(tiny) -> None:
    lines = report(tiny, StreamConfig(width=64, height=64, t_index_list=(32, 45)), PanScene(64, speed=2), 3,
                   methods(0.3, 0.6, bank=2, injection=0.5), rounds=1)
    rows = {line[:34].strip(): line[34:].split() for line in lines[3:10]}
    assert list(rows) == ["none", "feedback 0.3", "warping 0.6", "feedback 0.3 + warping 0.6", "cached attention 2",
                          "cached attn 2 + injection 0.5", "feedback + warping + attention"]
    assert rows["none"][-1] == "1.00x"
    assert all(math.isfinite(float(row[0])) and float(row[0]) >= 0 for row in rows.values())  # warping errors
    times = [(float(row[1]), row[2], float(row[3].rstrip("x"))) for row in rows.values()]  # frame time, ratio
    assert all(math.isfinite(ms) and ms > 0 and unit == "ms" and math.isfinite(x) and x > 0 for ms, unit, x in times)
    assert lines[2].startswith("input frames (reference)") and np.isfinite(float(lines[2].split()[-1]))
    assert lines[10].startswith("goal (motion-guided warping gives the lowest error at most 10% slower than none)")
    assert lines[11].startswith("Random weights")


def test_the_goal_line_judges_the_lowest_error_and_its_cost() -> None:
    from sdbridge.bench.temporal import Method, goal_line

    rows = (Method("none", {}), Method("feedback 0.3", {"latent_feedback": 0.3}), Method("warping 0.6",
                                                                                     {"motion_warp": 0.6}))
    errors = {"none": 0.05, "feedback 0.3": 0.04, "warping 0.6": 0.02}
    assert goal_line(rows, errors, {"none": 1.0, "feedback 0.3": 1.0, "warping 0.6": 1.05}).endswith(
        "lowest error warping 0.6 (0.020000, +5.0% frame time): met")
    assert goal_line(rows, errors, {"none": 1.0, "feedback 0.3": 1.0, "warping 0.6": 1.2}).endswith("NOT met")
    errors["feedback 0.3"] = 0.01  # the lowest error without warping: not the goal
    assert goal_line(rows, errors, {"none": 1.0, "feedback 0.3": 1.0, "warping 0.6": 1.0}).endswith(
        "lowest error feedback 0.3 (0.010000, +0.0% frame time): NOT met")


def test_the_bench_warps_at_the_last_step_unless_told() -> None:
    import argparse

    from sdbridge.commands import bench_temporal

    parser = argparse.ArgumentParser()
    bench_temporal.add_arguments(parser)
    assert bench_temporal.bench_config(parser.parse_args([])).motion_warp_step == 1  # t_index_list 32,45
    assert bench_temporal.bench_config(parser.parse_args(["--t-index", "0,16,32,45"])).motion_warp_step == 3
    assert bench_temporal.bench_config(parser.parse_args(["--warp-step", "0"])).motion_warp_step == 0
