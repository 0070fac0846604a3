"""`sdbridge bench pipeline --accel X`: the same pipeline configurations on torch eager and on backend X.

Both run in one process on the same components, frames and settings. Rounds alternate eager / X and each
side keeps its best round, so slow drift of a shared machine (other processes) hits both sides alike.
Besides frames/s it prints the largest latent difference between the two (a same-run accuracy check).
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch

from sdbridge.bench.pipeline_bench import NEGATIVE, PROMPT, STAGES, _config
from sdbridge.pipeline import CfgMode, Components, StreamConfig, StreamPipeline
from sdbridge.scene import SceneRenderer

log = logging.getLogger(__name__)
CONFIGS: tuple[tuple[str, int, CfgMode], ...] = (
    ("stream batch, 1 step, cfg none", 1, CfgMode.NONE),
    ("stream batch, 2 steps, cfg none", 2, CfgMode.NONE),
    ("stream batch, 4 steps, cfg self", 4, CfgMode.SELF),
    ("stream batch, 4 steps, cfg full", 4, CfgMode.FULL),
)


@dataclass
class Side:
    """One backend's best round on one configuration."""

    fps: float
    stages_ms: dict[str, float]
    latents: torch.Tensor | None  # of the last output that is not a warm-up (None: all were warm-up)


def _round(comps: Components, config: StreamConfig, frames: list[np.ndarray], warmup: int) -> Side:
    pipe = StreamPipeline(comps, config)
    pipe.prepare(prompt=PROMPT, negative_prompt=NEGATIVE)
    for frame in frames[:warmup]:
        pipe(frame)
    results, start = [], time.perf_counter()
    for frame in frames[warmup:]:
        results.append(pipe(frame))
    fps = (len(frames) - warmup) / (time.perf_counter() - start)
    stages = {s: 1000 * statistics.fmean(r.timings.get(s, 0.0) for r in results) for s in STAGES}
    real = [r for r in results if not r.is_warmup]
    return Side(fps, stages, real[-1].latents if real else None)


def run_accel_bench(eager: Components, accelerated: Components, label: str, size: int, frames_per_row: int,
                    rounds: int = 2) -> str:
    """Measure CONFIGS on `eager` and `accelerated` (backend `label`) and return the report as text."""
    scene = SceneRenderer(size, size)
    warmup = 2  # first-call costs (ONNX Runtime plans memory per new shape); the stream fills while timed alike
    frames = [scene.render(i) for i in range(frames_per_row + warmup)]
    lines = [f"model {eager.describe()}, {size}x{size}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
             f"torch eager vs {label}, {frames_per_row} timed frames per round, best of {rounds} alternating rounds",
             "", f"| configuration | eager frames/s | {label} frames/s | {label} / eager | eager ms ("
             + "/".join(s.replace("vae_", "") for s in STAGES) + f") | {label} ms (same) | max latent diff |",
             "|---|---|---|---|---|---|---|"]
    ratios = []
    for name, steps, mode in CONFIGS:
        config = _config(size, steps, mode)
        sides: dict[str, list[Side]] = {"eager": [], label: []}
        for _ in range(rounds):
            sides["eager"].append(_round(eager, config, frames, warmup))
            sides[label].append(_round(accelerated, config, frames, warmup))
        a, b = (max(sides[k], key=lambda s: s.fps) for k in ("eager", label))
        diff = "warm-up only" if a.latents is None or b.latents is None else \
            f"{(a.latents.float() - b.latents.float()).abs().max().item():.1e}"
        ratios.append(b.fps / a.fps)
        lines.append(f"| {name} | {a.fps:.2f} | {b.fps:.2f} | {b.fps / a.fps:.2f}x | "
                     + "/".join(f"{a.stages_ms[s]:.0f}" for s in STAGES) + " | "
                     + "/".join(f"{b.stages_ms[s]:.0f}" for s in STAGES) + f" | {diff} |")
        log.info("%s: eager %.2f, %s %.2f frames/s", name, a.fps, label, b.fps)
    lines += ["", f"{label} / torch eager: min {min(ratios):.2f}x, max {max(ratios):.2f}x, "
              f"geometric mean {float(np.exp(np.mean(np.log(ratios)))):.2f}x over {len(ratios)} configurations"]
    return "\n".join(lines)
