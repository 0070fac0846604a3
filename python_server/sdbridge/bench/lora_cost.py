"""The cost per frame of a live (unfused) LoRA against the same LoRA fused, for `sdbridge bench pipeline`.

A random rank-`rank` LoRA (peft LoraConfig on the attention projections, like the usual style LoRAs) is added to a
copy of the model's UNet; the same frames then run through StreamPipeline four ways: without LoRA, with the LoRA
live at a fixed weight, live with its weight changed every frame (each change re-sets the adapters' scales:
diffusers' set_adapters walks every module), and fused into the weights. The loaded components are not changed.
"""

from __future__ import annotations

import copy
import dataclasses
import time

import numpy as np
import torch

from sdbridge.pipeline import CfgMode, Components, StreamConfig, StreamPipeline
from sdbridge.pipeline.live_lora import LiveLoras

TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def _fps(comps: Components, config: StreamConfig, frames: list[np.ndarray], warmup: int,
         weights: list[float] | None = None) -> float:
    """Frames/s of one pipeline over `frames` after `warmup` untimed ones; `weights`: one live weight per frame."""
    pipe = StreamPipeline(comps, config)
    pipe.prepare(prompt="a watercolor painting of a castle")
    start = 0.0
    for i, frame in enumerate(frames):
        if i == warmup:
            start = time.perf_counter()
        if weights is not None:
            pipe.update(lora_weights=[("bench", weights[i % len(weights)])])
        pipe(frame)
    return (len(frames) - warmup) / (time.perf_counter() - start)


def lora_cost_report(comps: Components, size: int, frames: list[np.ndarray], rank: int = 16) -> str:
    """The live-vs-fused LoRA section of the report (text); says so when peft is missing."""
    try:
        import peft
    except ImportError:
        return "live LoRA cost: not measured (peft is not installed; pip install peft)"
    warmup = max(1, min(4, len(frames) // 2))
    config = StreamConfig(width=size, height=size, t_index_list=(16, 45), cfg_mode=CfgMode.NONE)
    unet = copy.deepcopy(comps.unet)
    assert unet is not None
    with torch.random.fork_rng():
        torch.manual_seed(0)
        unet.add_adapter(peft.LoraConfig(r=rank, lora_alpha=rank, target_modules=TARGETS, init_lora_weights=False),
                         adapter_name="bench")  # type: ignore[operator]
    live = dataclasses.replace(comps, unet=unet, live_loras=LiveLoras(unet, {"bench": 1.0}))
    fused_unet = copy.deepcopy(unet)
    fused_unet.fuse_lora(lora_scale=1.0, adapter_names=["bench"])  # type: ignore[operator]
    fused_unet.unload_lora()  # type: ignore[operator]
    fused = dataclasses.replace(comps, unet=fused_unet, live_loras=None)
    cases = [("no LoRA", comps, None), ("live LoRA, fixed weight", live, None),
             ("live LoRA, weight changed every frame", live, [0.5, 1.0]), ("LoRA fused", fused, None)]
    # alternating rounds, best of each: a change of the machine's load hits every row alike
    best = [0.0] * len(cases)
    for _ in range(2):
        best = [max(b, _fps(c, config, frames, warmup, w)) for b, (_, c, w) in zip(best, cases, strict=True)]
    rows = [(name, fps) for (name, _, _), fps in zip(cases, best, strict=True)]
    base = rows[-1][1]
    lines = [f"live LoRA cost (rank {rank} on {', '.join(TARGETS)}; 2 steps, cfg none, {size}x{size}):", "",
             "| LoRA | frames/s | ms per frame | frames/s / fused |", "|---|---|---|---|"]
    lines += [f"| {name} | {fps:.2f} | {1000 / fps:.1f} | {fps / base:.2f}x |" for name, fps in rows]
    return "\n".join(lines)
