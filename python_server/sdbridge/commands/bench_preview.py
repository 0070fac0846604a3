"""`sdbridge bench preview`: parses the flags; the measurement is sdbridge.bench.preview."""

from __future__ import annotations

import argparse

from sdbridge.commands.arg_types import float_above, frame_size, int_at_least

NAME = "bench-preview"
HELP = "stream frames/s with and without a preview page watching (interleaved runs, server in a child process)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the benchmark."""
    parser.add_argument("--model", default="identity", help="identity | tiny | small (default identity: the "
                                                            "transport-bound worst case)")
    parser.add_argument("--size", type=frame_size, default=512, help="frame width and height (default 512)")
    parser.add_argument("--seconds", type=float_above(0, 5), default=5.0, help="length of each run (default 5)")
    parser.add_argument("--rounds", type=int_at_least(1, 3), default=3,
                        help="ABBA rounds: each has 2 runs of each arm (default 3)")
    parser.add_argument("--window", type=int_at_least(1, 2), default=2,
                        help="frames in flight (the server's credits; default 2)")
    parser.add_argument("--fps", type=float_above(0, 10), default=10.0,
                        help="preview images per second and view (default 10)")
    parser.add_argument("--viewer", choices=["ws", "chromium"], default="ws",
                        help="the page: a websocket client process (default ws), or headless Chromium (needs selenium)")


def run(args: argparse.Namespace) -> int:
    """Run the interleaved measurement and print the report."""
    from sdbridge.bench.preview import PreviewOptions, measure, report

    options = PreviewOptions(model=args.model, size=args.size, seconds=args.seconds, rounds=args.rounds,
                             window=args.window, fps=args.fps, viewer=args.viewer)
    print("\n".join(report(options, measure(options))))
    return 0
