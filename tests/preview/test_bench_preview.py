"""`sdbridge bench preview` runs end to end. Its figures are never compared with a speed (that is what the
benchmark is for), but each must be a real measurement: finite and positive."""

from __future__ import annotations

import math

import pytest

from sdbridge.bench.preview import PreviewOptions, bootstrap_median_interval, measure, report
from sdbridge.cli import main

pytestmark = pytest.mark.integration


def _real(value: float) -> bool:
    return math.isfinite(value) and value > 0


def test_bench_preview_figures_are_real_measurements() -> None:
    options = PreviewOptions(size=64, seconds=1.0, rounds=1)
    figures = measure(options)
    for arm in ("no page", "page open"):
        assert len(figures.fps[arm]) == 2 and all(_real(v) for v in figures.fps[arm]), figures.fps
        for per_frame in (figures.server_cpu, figures.stream_cpu, figures.client_cpu):
            assert all(_real(v) for v in per_frame[arm]), (arm, per_frame)
        # the preview thread and the viewer process may use less than one clock tick (10 ms) in a 1 s run
        assert all(math.isfinite(v) and v >= 0 for v in figures.preview_cpu[arm])
    assert len(figures.ratios) == 1 and _real(figures.ratios[0])
    assert figures.viewer_cpu and all(math.isfinite(v) and v >= 0 for v in figures.viewer_cpu)
    assert figures.shown and all(_real(v) for v in figures.shown)  # the page really got previews
    assert figures.images_sent > 0
    lines = report(options, figures)
    text = "\n".join(lines)
    for heading in ("no page    median", "page open  median", "median of per-round ratios", "90% bootstrap interval",
                    "preview thread CPU", "websocket page process CPU", "game client process CPU",
                    "goal (an open page costs under 5% of throughput): "):
        assert heading in text


def test_the_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "preview", "--size", "32", "--seconds", "0.5", "--rounds", "1"]) == 0
    received = float(capsys.readouterr().out.split("the websocket page received ")[1].split(" ")[0])
    assert _real(received)


def test_bootstrap_interval_brackets_the_median_and_narrows_with_more_rounds() -> None:
    import random

    rng = random.Random(1)
    few = [rng.gauss(0.96, 0.05) for _ in range(8)]
    many = few + [rng.gauss(0.96, 0.05) for _ in range(120)]
    for values in (few, many):
        low, high = bootstrap_median_interval(values)
        assert low <= sorted(values)[len(values) // 2] <= high
    assert bootstrap_median_interval(many)[1] - bootstrap_median_interval(many)[0] < \
        bootstrap_median_interval(few)[1] - bootstrap_median_interval(few)[0]
    assert bootstrap_median_interval(many) == bootstrap_median_interval(many)  # seeded: repeats exactly
    assert bootstrap_median_interval([0.9]) == (0.9, 0.9)


def test_the_goal_is_judged_on_the_whole_interval() -> None:
    """The report gave the cost and its interval but not the 5% goal's verdict."""
    from sdbridge.bench.preview import _verdict

    assert _verdict(0.035, 0.033, 0.044).startswith("met")
    assert _verdict(0.10, 0.067, 0.138).startswith("NOT met")
    assert _verdict(0.045, 0.02, 0.07).startswith("not resolved (+4.5%")
