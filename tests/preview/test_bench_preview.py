"""`sdbridge bench preview` runs end to end (a smoke run: figures are printed, never asserted on)."""

from __future__ import annotations

import pytest

from sdbridge.cli import main

pytestmark = pytest.mark.integration


def test_bench_preview_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "preview", "--size", "64", "--seconds", "1", "--rounds", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "no page    median" in out and "page open  median" in out and "median of per-round ratios" in out
    assert "preview thread CPU" in out and "websocket page process CPU" in out and "game client process CPU" in out
    assert "90% bootstrap interval" in out
    received = float(out.split("the websocket page received ")[1].split(" ")[0])
    assert received > 0  # the page really got previews while the stream ran


def test_bootstrap_interval_brackets_the_median_and_narrows_with_more_rounds() -> None:
    import random

    from sdbridge.commands.bench_preview import bootstrap_median_interval

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
