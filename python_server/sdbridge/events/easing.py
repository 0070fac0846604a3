"""Easing curves for timed prompt blends: map the raw progress t in [0, 1] to a blend position in [0, 1].

Every curve maps 0 to 0 and 1 to exactly 1, so a blend always ends on its target.
"""

from __future__ import annotations

from collections.abc import Callable

Easing = Callable[[float], float]


def linear(t: float) -> float:
    """Constant speed."""
    return t


def ease_in(t: float) -> float:
    """Starts slowly, ends fast (quadratic)."""
    return t * t


def ease_out(t: float) -> float:
    """Starts fast, ends slowly (quadratic)."""
    return 1.0 - (1.0 - t) * (1.0 - t)


def ease_in_out(t: float) -> float:
    """Slow at both ends (cubic)."""
    if t < 0.5:
        return 4.0 * t * t * t
    u = -2.0 * t + 2.0
    return 1.0 - u * u * u / 2.0


def smoothstep(t: float) -> float:
    """Hermite smoothstep 3t^2 - 2t^3."""
    return t * t * (3.0 - 2.0 * t)


def step(t: float) -> float:
    """Holds the old prompt until the duration has passed, then switches."""
    return 1.0 if t >= 1.0 else 0.0


#: Easing name (as written in a rules file) -> curve.
EASINGS: dict[str, Easing] = {
    "linear": linear,
    "ease_in": ease_in,
    "ease_out": ease_out,
    "ease_in_out": ease_in_out,
    "smoothstep": smoothstep,
    "step": step,
}
