"""`sdbridge demo`: run the pipeline on a generated moving scene, show frames/s, write PNG pairs.

This is the pipeline-only demo; it needs no server. (The client-server demo replaces it once the
server lands; the flags stay the same.)
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

NAME = "demo"
HELP = "stylize a generated moving scene with the pipeline; print frames/s; write input/output PNGs"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `sdbridge demo`."""
    parser.add_argument("--model", default="tiny", help="tiny | small | identity | Hub id | folder (default tiny)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | mps")
    parser.add_argument("--size", type=int, default=256, help="frame width and height (multiple of 8)")
    parser.add_argument("--frames", type=int, default=60, help="frames to run")
    parser.add_argument("--prompt", default="a watercolor painting of a castle on green hills")
    parser.add_argument("--negative-prompt", default="blurry, low quality")
    parser.add_argument("--t-index", type=int, nargs="+", default=[32, 45], help="t_index_list (strength)")
    parser.add_argument("--cfg", default="self", choices=["none", "full", "self", "initialize"])
    parser.add_argument("--guidance", type=float, default=1.4)
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for PNG pairs")
    parser.add_argument("--save-every", type=int, default=10, help="write a PNG pair every N frames")


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns 0."""
    import torch
    from PIL import Image
    from tqdm import tqdm

    from sdbridge.pipeline import CfgMode, StreamConfig, build_pipeline, load_components
    from sdbridge.scene import SceneRenderer

    comps = load_components(args.model, device=args.device, dtype=torch.float32)
    config = StreamConfig(width=args.size, height=args.size, t_index_list=args.t_index,
                          cfg_mode=CfgMode(args.cfg), guidance_scale=args.guidance)
    pipe = build_pipeline(comps, config)
    pipe.prepare(prompt=args.prompt, negative_prompt=args.negative_prompt)
    scene = SceneRenderer(args.size, args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"model {comps.describe()}; latency {pipe.latency_frames} frames; writing PNGs to {args.out}")
    inputs: list[np.ndarray] = []
    start, written = time.perf_counter(), 0
    bar = tqdm(range(args.frames), unit="frame")
    for index in bar:
        frame = scene.render(index)
        inputs.append(frame)
        result = pipe(frame)
        source = inputs[max(0, index - pipe.latency_frames)]  # the input this output belongs to
        inputs = inputs[-(pipe.latency_frames + 1):]
        bar.set_postfix(fps=f"{(index + 1) / (time.perf_counter() - start):.1f}",
                        warmup=result.is_warmup, skipped=result.skipped)
        if not result.is_warmup and (index % args.save_every == 0 or index == args.frames - 1):
            pair = np.concatenate([source, result.image], axis=1)
            Image.fromarray(pair).save(args.out / f"pair_{index:05d}.png")
            written += 1
    elapsed = time.perf_counter() - start
    print(f"{args.frames} frames in {elapsed:.2f} s: {args.frames / elapsed:.2f} frames/s; "
          f"{written} input|output PNG pairs in {args.out}")
    return 0
