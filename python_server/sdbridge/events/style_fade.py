"""A timed change of the IP-Adapter style blend (`style_blend`) decided by the rules (a rule's `style` with its
`transition`, or an effect's `revert`): the rules engine moves the pipeline's blend from the one shown to the target
one frame at a time. Timed like a prompt transition (sdbridge.events.rules.Timing: seconds or frames, an easing curve
from sdbridge.events.easing); pure (no torch, no clock of its own: the engine passes the time and the frame).

At position p the blend sent is (1 - p) * start + p * target, each side's weights first scaled to sum 1 (the pipeline
normalises a blend's weights the same way, so this is the weighted average of the two sides' embeddings). A side with
no style (no weight above 0) cannot be mixed by weights: when the rules set `ip_adapter_scale` (its [params] or the
rule's), the fade ramps that scale instead (from 0 up to it when a style appears, down to 0 when it goes); otherwise
the style appears at the start of the fade and goes at its end.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdbridge.events.easing import EASINGS
from sdbridge.events.rules import Timing

Blend = tuple[tuple[str, float], ...]


def _normalised(blend: Blend) -> dict[str, float] | None:
    total = sum(w for _, w in blend if w > 0)
    return {n: w / total for n, w in blend if w > 0} if total > 0 else None


@dataclass
class StyleFade:
    """One style blend on its way from `start` to `target` (see the module docstring)."""

    start: Blend
    target: Blend
    timing: Timing
    started_s: float
    started_frame: int | None
    scale: float | None = None  # the rules' ip_adapter_scale, ramped for a side without style; None: not set
    start_scale: float | None = None  # the scale shown at the start (an interrupted fade's); None: `scale`
    position: float = 0.0  # the eased position of the last values sent

    def advance(self, now: float, frame: int | None) -> bool:
        """Move to `now` / `frame` (a fade in frames moves only with frames); True when the target is reached."""
        if self.timing.frames:
            if frame is None or self.started_frame is None:
                return self.position >= 1.0
            raw = (frame - self.started_frame + 1) / self.timing.frames  # frame: the one about to be processed,
            # counted like a prompt transition's (the first frame after the event is 1/n of the way)
        else:
            raw = (now - self.started_s) / self.timing.seconds if self.timing.seconds > 0 else 1.0
        raw = min(1.0, max(0.0, raw))
        self.position = 1.0 if raw >= 1.0 else min(1.0, max(0.0, EASINGS[self.timing.easing](raw)))
        return self.position >= 1.0

    def values(self) -> dict[str, object]:
        """The pipeline values at the current position (the target exactly at 1)."""
        p = self.position
        if p >= 1.0:
            return {"style_blend": self.target, **({"ip_adapter_scale": self.scale} if self.scale is not None else {})}
        start, target = _normalised(self.start), _normalised(self.target)
        if start is not None and target is not None:
            names = list(dict.fromkeys([*(n for n, _ in self.target), *(n for n, _ in self.start)]))
            out: dict[str, object] = {
                "style_blend": tuple((n, (1 - p) * start.get(n, 0.0) + p * target.get(n, 0.0)) for n in names)}
        elif self.scale is None:  # no scale to ramp: the style is on for the whole fade
            return {"style_blend": self.target if target is not None else self.start}
        else:
            out = {"style_blend": self.target if target is not None else self.start}
        scale = self.shown_scale()
        return out if scale is None else {**out, "ip_adapter_scale": scale}

    def shown_scale(self) -> float | None:
        """The ip_adapter_scale at the current position (None: the fade does not set it)."""
        if self.scale is None:
            return None
        p, begin = self.position, self.scale if self.start_scale is None else self.start_scale
        if p >= 1.0:
            return self.scale
        if _normalised(self.start) is None:  # a style appears: the scale rises from 0
            return p * self.scale
        if _normalised(self.target) is None:  # the style goes: the scale falls to 0, then is the rules' again
            return (1 - p) * begin
        return begin + p * (self.scale - begin)

    def shown(self) -> Blend:
        """The blend the pipeline shows now (where a fade that interrupts this one starts)."""
        return self.values()["style_blend"]  # type: ignore[return-value]
