"""The one percentile helper: server statistics, the preview page's figures and the benchmarks all use it."""

from __future__ import annotations

from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float:
    """The `q` quantile (0..1) of `values` by nearest rank (no interpolation: always a value that occurred);
    0.0 when there are none. Raises ValueError naming `q` outside [0, 1]."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"percentile q={q!r} is outside [0, 1] (0.5 is the median, 0.99 the 99th percentile)")
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return float(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))])


def percentile_us(seconds: Iterable[float], q: float) -> int:
    """The `q` quantile of durations given in seconds, in whole microseconds (0 when there are none)."""
    return int(percentile(seconds, q) * 1e6)
