"""`sdbridge bench temporal`: parses the flags; the measurement is sdbridge.bench.temporal."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from sdbridge import params
from sdbridge.commands.arg_types import device_name, diffusion_model, frame_size, int_at_least, registry_value

if TYPE_CHECKING:
    from sdbridge.pipeline.config import StreamConfig

log = logging.getLogger(__name__)

#: Below this --size the bench's pan read as a scene cut at the default threshold (tiny model: every frame at 64x64,
#: none at 128x128), so every blend was gated off and each method printed the error of none.
SMALL_SIZE = 128

NAME = "bench-temporal"
HELP = ("temporal warping error (Lai et al. 2018) and frame time of none / latent feedback / motion-guided warping "
        "/ cached attention (with feature injection) / their combination on a panning procedural scene with exact "
        "motion vectors")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the benchmark."""
    parser.add_argument("--model", type=diffusion_model("bench temporal", "tiny"), default="small",
                        help="components (default small; a hub id or folder for a real model, e.g. "
                             "stabilityai/sd-turbo)")
    parser.add_argument("--size", type=frame_size, default=256,
                        help="frame width and height, a multiple of 8 (default 256)")
    parser.add_argument("--frames", type=int_at_least(2, 16), default=16, help="frames per method (default 16)")
    parser.add_argument("--speed", type=int, default=8, help="camera pan in pixels per frame (default 8: one latent "
                                                             "cell)")
    parser.add_argument("--t-index", type=registry_value("t_index_list", "32,45"), default=(32, 45),
                        help="t_index_list, comma-separated (default 32,45)")
    parser.add_argument("--feedback", type=registry_value("latent_feedback", "0.3"), default=0.3,
                        help="latent_feedback of the feedback rows, in [0, 0.5] (default 0.3)")
    parser.add_argument("--warp", type=registry_value("motion_warp", "0.6"), default=0.6,
                        help="motion_warp of the warping rows, in [0, 1] (default 0.6)")
    parser.add_argument("--warp-step", type=registry_value("motion_warp_step", "1"), default=None,
                        help="motion_warp_step (default: the last step, whose source is the previous output and whose "
                             "blend is nearest the output the error is measured on; docs/benchmarks.md)")
    parser.add_argument("--bank", type=registry_value("attention_bank", "2"), default=2,
                        help="attention_bank of the cached-attention rows, in [0, 8] (default 2)")
    parser.add_argument("--injection", type=registry_value("feature_injection", "0.5"), default=0.5,
                        help="feature_injection of the injection rows, in [0, 1] (default 0.5)")
    parser.add_argument("--injection-threshold", type=registry_value("feature_injection_threshold", "0.9"),
                        default=0.9, help="feature_injection_threshold, in [0, 1] (default 0.9)")
    parser.add_argument("--rounds", type=int_at_least(1, 3), default=3,
                        help="interleaved rounds; each method's fastest counts (default 3)")
    parser.add_argument("--scene-cut-threshold", type=registry_value("scene_cut_threshold", "0.5"), default=None,
                        help="scene_cut_threshold of every row (default: the server's 0.5 from --size "
                             f"{SMALL_SIZE} up, 0 = off below: there the pan reads as a cut and no blend is applied)")
    parser.add_argument("--device", type=device_name, default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                        help="dtype of the components (default float32; float16 on a GPU)")


def bench_config(args: argparse.Namespace) -> StreamConfig:
    """The bench's StreamConfig: size, t_index_list, motion_warp_step (no --warp-step: the last step) and
    scene_cut_threshold (no --scene-cut-threshold: the registry's default, or 0 below SMALL_SIZE)."""
    from sdbridge.pipeline.config import StreamConfig

    t_index = tuple(args.t_index)
    warp_step = len(t_index) - 1 if args.warp_step is None else args.warp_step
    cut = args.scene_cut_threshold
    if cut is None:
        cut = params.BY_NAME["scene_cut_threshold"].default if args.size >= SMALL_SIZE else 0.0
        if args.size < SMALL_SIZE:
            log.info("scene_cut_threshold 0 (off) at %dx%d: the panning scene's frames, pooled to %dx%d latent "
                     "cells, correlate below the default 0.5, which would gate every blend as a scene cut "
                     "(--scene-cut-threshold sets it)", args.size, args.size, args.size // 8, args.size // 8)
    return StreamConfig(width=args.size, height=args.size, t_index_list=t_index, motion_warp_step=warp_step,
                        scene_cut_threshold=cut)


def run(args: argparse.Namespace) -> int:
    """Run every method on the same frames and print the table."""
    import torch

    from sdbridge.bench.temporal import PanScene, methods, report
    from sdbridge.errors import ConfigError
    from sdbridge.pipeline.components import load_components

    if args.dtype == "float16" and args.device.split(":")[0] == "cpu":
        raise ConfigError("--dtype float16 on --device cpu: torch runs float16 convolutions on a CPU with slow "
                          "fallback kernels (a convolution ran about 200x slower than in float32 on the project's "
                          "test CPU), so the frame times would measure those; use --dtype float32 or bfloat16 on a "
                          "CPU, or float16 with --device cuda")

    components = load_components(args.model, device=args.device, dtype=getattr(torch, args.dtype))
    config = bench_config(args)
    rows = methods(args.feedback, args.warp, args.bank, args.injection, args.injection_threshold)
    lines = report(components, config, PanScene(args.size, args.speed), args.frames, rows, args.rounds)
    print("\n".join(lines))
    return 0
