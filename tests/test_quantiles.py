"""sdbridge.quantiles: the one percentile helper (nearest rank) used by the server's Stats, the preview page and
the benchmarks."""

from __future__ import annotations

import pytest

from sdbridge.quantiles import percentile, percentile_us


def test_nearest_rank_returns_values_that_occurred() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0.0) == 1.0 and percentile(values, 1.0) == 5.0
    assert percentile(values, 0.5) == 3.0
    assert percentile(range(100), 0.99) == 98.0  # round(0.99 * 99) = 98
    assert percentile([], 0.5) == 0.0


def test_microseconds_and_bad_q() -> None:
    assert percentile_us([0.001, 0.002, 0.003], 0.5) == 2000
    assert percentile_us([], 0.99) == 0
    with pytest.raises(ValueError, match=r"q=1.5 is outside \[0, 1\]"):
        percentile([1.0], 1.5)
