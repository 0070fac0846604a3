"""`sdbridge bench pipeline`: parses the flags; the measurement is sdbridge.bench.pipeline_bench (and accel_bench)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sdbridge.commands.arg_types import diffusion_model, frame_size, int_at_least, int_list
from sdbridge.commands.few_frames import warn_few
from sdbridge.commands.output_paths import output_file

NAME = "bench-pipeline"
HELP = "frames/s and ms per stage of pipeline configurations vs sequential, full CFG, diffusers, the original"
MIN_FRAMES = 10  # fewer timed frames per configuration: one slow frame (a page fault, a GC) sways the ratios
FRAMES = 20  # --frames' default (also what the few-frames warning suggests)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `sdbridge bench pipeline`."""
    parser.add_argument("--model", type=diffusion_model("bench pipeline", "tiny"), default="small",
                        help="components to measure (default small)")
    parser.add_argument("--size", type=frame_size, default=256,
                        help="frame width and height, a multiple of 8 (default 256)")
    parser.add_argument("--frames", type=int_at_least(1, FRAMES), default=FRAMES,
                        help=f"timed frames per configuration (default {FRAMES}; under {MIN_FRAMES} the "
                             "ratios are noise)")
    parser.add_argument("--no-original", action="store_true", help="skip the original StreamDiffusion column")
    parser.add_argument("--no-diffusers", action="store_true", help="skip the diffusers img2img comparison")
    parser.add_argument("--threads", type=int_at_least(0, 2), default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report to this file")
    parser.add_argument("--accel", default="eager", choices=["eager", "compile", "onnxruntime", "tensorrt"],
                        help="compare torch eager with this backend on the same configurations (default: eager, "
                             "the full pipeline benchmark)")
    parser.add_argument("--engines-dir", type=Path, default=Path("engines"), help="engine cache (default engines/)")
    parser.add_argument("--host-time", action="store_true",
                        help="only the host time per frame outside the model calls (zero-cost UNet/VAE, 512x512 and "
                             "1920x1080 client frames): the pixel conversion and the pipeline's glue")
    parser.add_argument("--controlnet", action="store_true",
                        help="only the ControlNet section: frame time with 0, 1 and 2 ControlNets, planes into "
                             "conditioning at 512x512 against the server's Canny")
    parser.add_argument("--steps", default=None, type=int_list(1, "1,2,4"),
                        help="real-shaped models only: the step counts to measure, e.g. 1 or 1,2,4 (default 1,2,4)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                        help="dtype of the components (default float32; bfloat16: fast on CPUs with AMX; see "
                             "`sdbridge check`)")


def check_flags(args: argparse.Namespace) -> None:
    """Refuse flags that the chosen run would ignore, naming them and the fix (each was dropped without a word:
    --controlnet beside --host-time, --steps for a model that is not real-shaped, --accel beside either section),
    and --accel tensorrt, which needs a CUDA GPU while this benchmark loads the model on the CPU."""
    from sdbridge.errors import ConfigError
    from sdbridge.pipeline.shaped_presets import SHAPED_PRESETS

    shaped = ", ".join(sorted(SHAPED_PRESETS))
    if args.host_time and args.controlnet:
        raise ConfigError("--host-time and --controlnet each run one section alone; give one of them (or neither: "
                          "the full run ends with both sections)")
    section = "--host-time" if args.host_time else "--controlnet" if args.controlnet else ""
    if section and args.accel != "eager":
        raise ConfigError(f"--accel {args.accel} is not used by {section} (that section runs torch eager); drop "
                          f"{section} to compare eager with {args.accel}, or drop --accel")
    if args.steps is not None and (args.model not in SHAPED_PRESETS or section or args.accel != "eager"):
        raise ConfigError(f"--steps {','.join(map(str, args.steps))} applies to the real-shaped models ({shaped}) "
                          f"in the eager run only; --model {args.model} measures 1, 2 and 4 steps in its own table: "
                          "drop --steps")
    if args.accel == "onnxruntime" and args.dtype == "bfloat16":
        from sdbridge.commands.serve_checks import ORT_BFLOAT16

        raise ConfigError(ORT_BFLOAT16.format(flag="--dtype bfloat16"))
    if args.accel == "tensorrt":
        raise ConfigError("--accel tensorrt needs a CUDA GPU, and `sdbridge bench pipeline` loads the model on the "
                          "CPU; compare eager with --accel onnxruntime or --accel compile here (TensorRT engines: "
                          "`sdbridge build-engines`, engines/README.md)")


def run(args: argparse.Namespace) -> int:
    """Run and print the report (and write it to --out), in a process whose heap is tuned as `sdbridge serve` tunes
    its own (sdbridge.runtime.host_heap: freed frame-sized buffers are reused instead of unmapped and faulted in
    again), so per-frame host costs are those of the server."""
    from sdbridge.bench.pipeline_bench import pipeline_report
    from sdbridge.runtime.host_heap import keep_freed_buffers

    check_flags(args)
    keep_freed_buffers()
    if args.out:  # checked before the benchmark runs, not after
        output_file(args.out, "--out")

    notes = warn_few([("--frames", args.frames, MIN_FRAMES, FRAMES)])
    report = pipeline_report(args.model, args.dtype, args.size, args.frames, threads=args.threads, accel=args.accel,
                             engines_dir=args.engines_dir, with_original=not args.no_original,
                             with_diffusers=not args.no_diffusers, host_time_only=args.host_time, steps=args.steps,
                             controlnet_only=args.controlnet)
    report += "".join(f"\n\nWarning: {note}" for note in notes)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n", encoding="utf-8")
    return 0
