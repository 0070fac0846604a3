"""`sdbridge bench pipeline --model sd-turbo-shaped|sdxl-turbo-shaped`: the real model's cost, and how close to the
compute limit each configuration runs.

A real-shaped model (sdbridge.pipeline.shaped_presets) is too large on a CPU for the full configuration matrix of
sdbridge.bench.pipeline_bench, so this measures only what the model is used with: 1 step (turbo: no guidance) and
Stream Batch at 2 and 4 steps with RCFG self (`steps` picks among them), then the compute table of
sdbridge.bench.compute. For each configuration it prints the compute limit of a frame, the frame's
multiply-accumulates (one VAE encode, one UNet sample per step, one VAE decode; RCFG self adds no UNet sample) at
the measured matrix peak, and the limit as a share of the measured frame time: the "close to the limit" figure.
The load average is printed beside it: on a shared machine, other processes' turns on the cores count too.
"""

from __future__ import annotations

import logging
import os

import torch

from sdbridge.bench.compute import compute_table, matmul_peak_gflops, stage_compute
from sdbridge.bench.pipeline_bench import STAGES, T_INDEX, _config, measure_ours
from sdbridge.pipeline import CfgMode, Components
from sdbridge.scene import SceneRenderer

log = logging.getLogger(__name__)
SHAPED_STEPS = (1, 2, 4)
WARMUP = 2


def _mode(steps: int) -> CfgMode:
    return CfgMode.NONE if steps == 1 else CfgMode.SELF


def shaped_bench(comps: Components, size: int, frames: int, steps: tuple[int, ...] = SHAPED_STEPS) -> str:
    """Measure `steps` configurations on `frames` timed frames each and return the report as text."""
    bad = [n for n in steps if n not in T_INDEX]
    if bad:
        raise ValueError(f"steps={bad}: the benchmark measures {sorted(T_INDEX)} steps; pick among them")
    scene = SceneRenderer(size, size)
    inputs = [scene.render(i) for i in range(frames + WARMUP + max(steps))]
    peak = matmul_peak_gflops(comps.dtype)
    stages = stage_compute(comps, size, repeats=3)
    gmac = {s.name: s.gmac for s in stages}
    lines = [f"model {comps.describe()}, {size}x{size}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
             f"load average {os.getloadavg()[0]:.1f} at the start", "",
             "| configuration | frames/s | ms per frame | " + " | ".join(f"{s} ms" for s in STAGES)
             + " | GMAC per frame | compute limit ms | limit / measured |", "|---" * (len(STAGES) + 6) + "|"]
    for n in steps:
        name = f"stream batch, {n} step{'s' * (n > 1)}, cfg {_mode(n).value}"
        row = measure_ours(comps, _config(size, n, _mode(n)), inputs[:frames + WARMUP + n - 1], WARMUP + n - 1)
        frame_gmac = gmac["VAE encode"] + n * gmac["UNet, batch 1"] + gmac["VAE decode"]
        limit_ms = 2000 * frame_gmac / peak  # 2 FLOPs per MAC; GMAC / (GFLOP/s) is seconds
        ms = 1000 / row.fps
        log.info("%s: %.3f frames/s, limit %.0f ms of %.0f ms", name, row.fps, limit_ms, ms)
        lines.append(f"| {name} | {row.fps:.3f} | {ms:.0f} | " + " | ".join(f"{row.stages_ms[s]:.0f}" for s in STAGES)
                     + f" | {frame_gmac:.4g} | {limit_ms:.4g} | {limit_ms / ms:.1%} |")
    lines += ["", compute_table(stages, peak, comps.dtype)]
    return "\n".join(lines)
