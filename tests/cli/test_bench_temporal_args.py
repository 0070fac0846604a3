"""`sdbridge bench temporal` at a small --size: the methods' rows differ from none's (at 64x64 the default scene-cut
threshold read the pan as a cut on every frame, gated every blend, and each row printed none's warping error)."""

from __future__ import annotations

import argparse

import pytest
import torch

from sdbridge.bench.temporal import PanScene, methods, report
from sdbridge.commands import bench_temporal
from sdbridge.pipeline.components import load_components


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_temporal.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_threshold_is_the_servers_from_128_up_and_off_below() -> None:
    assert bench_temporal.bench_config(_args("--size", "256")).scene_cut_threshold == 0.5
    assert bench_temporal.bench_config(_args("--size", "128")).scene_cut_threshold == 0.5
    assert bench_temporal.bench_config(_args("--size", "64")).scene_cut_threshold == 0.0
    assert bench_temporal.bench_config(_args("--size", "64", "--scene-cut-threshold", "0.3")).scene_cut_threshold == 0.3


def _errors(components: object, config_args: argparse.Namespace) -> dict[str, float]:
    config = bench_temporal.bench_config(config_args)
    rows = methods(0.3, 0.6, 2, 0.5, 0.9)[:3]  # none, feedback, warping
    lines = report(components, config, PanScene(64, 8), 4, rows, 1)
    return {line[:34].strip(): float(line[34:49]) for line in lines if line.startswith(("none", "feedback", "warping"))}


@pytest.mark.slow  # 2 x 3 methods x 4 frames: 10-40 s on a loaded 2-core machine
def test_at_64_the_methods_change_the_error() -> None:
    components = load_components("tiny", device="cpu", dtype=torch.float32)
    gated = _errors(components, _args("--size", "64", "--scene-cut-threshold", "0.5"))
    assert gated["feedback 0.3"] == pytest.approx(gated["none"])  # the old default: nothing blended
    errors = _errors(components, _args("--size", "64"))
    assert errors["feedback 0.3"] != pytest.approx(errors["none"]) and errors["warping 0.6"] < errors["none"]
