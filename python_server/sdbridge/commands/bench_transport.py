"""`sdbridge bench transport`: parses the flags; the measurement is sdbridge.bench.transport."""

from __future__ import annotations

import argparse

NAME = "bench-transport"
HELP = "benchmark the transport: BridgeClient->server vs raw pyzmq echo vs websocket+JPEG (identity model)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the benchmark."""
    parser.add_argument("--size", type=int, default=512, help="frame width and height (default 512)")
    parser.add_argument("--frames", type=int, default=400, help="frames per throughput run (default 400)")
    parser.add_argument("--latency-frames", type=int, default=300,
                        help="sequential round trips for p50/p99 (default 300)")
    parser.add_argument("--window", type=int, default=2,
                        help="frames in flight for throughput; also the server's credits (default 2)")
    parser.add_argument("--jpeg-quality", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the three methods")


def run(args: argparse.Namespace) -> int:
    """Run the three measurements and print the table and the ratios against the goals."""
    from sdbridge.bench.transport import report, run_benchmark

    print(f"running {args.rounds} rounds of raw echo, bridge and websocket+JPEG at {args.size}x{args.size} ...",
          flush=True)
    measurements = run_benchmark(args.size, args.frames, args.latency_frames, args.window, args.jpeg_quality,
                                 args.rounds)
    print("\n".join(report(measurements, args.size, args.window, args.rounds)))
    return 0
