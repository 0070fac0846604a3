"""`sdbridge bench transport`: parses the flags; the measurement is sdbridge.bench.transport (with --via: what a
balancer adds, sdbridge.bench.balancer)."""

from __future__ import annotations

import argparse

from sdbridge.commands.arg_types import int_at_least
from sdbridge.commands.few_frames import warn_few

NAME = "bench-transport"
HELP = "benchmark the transport: BridgeClient->server vs raw pyzmq echo vs websocket+JPEG (identity model)"
MIN_SAMPLES = 100  # frames, round trips or pairs: below it a sub-millisecond figure is one slow frame's
#: the count flags' defaults (also what the few-samples warning suggests)
FRAMES, LATENCY_FRAMES, PAIRS = 400, 300, 300


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the benchmark."""
    parser.add_argument("--size", type=int_at_least(1, 512), default=512, help="frame width and height (default 512)")
    parser.add_argument("--frames", type=int_at_least(1, FRAMES), default=FRAMES,
                        help="frames per throughput run (default 400)")
    parser.add_argument("--latency-frames", type=int_at_least(1, LATENCY_FRAMES), default=LATENCY_FRAMES,
                        help="sequential round trips for p50/p99 (default 300)")
    parser.add_argument("--window", type=int_at_least(1, 2), default=2,
                        help="frames in flight for throughput; also the server's credits (default 2)")
    parser.add_argument("--jpeg-quality", type=int_at_least(1, 90, 95), default=90,
                        help="JPEG quality of the websocket + JPEG method, 1-95 (default 90)")
    parser.add_argument("--rounds", type=int_at_least(1, 3), default=3,
                        help="alternating rounds of the three methods (default 3)")
    parser.add_argument("--pairs", type=int_at_least(0, PAIRS), default=PAIRS,
                        help="pairs per round of frames alone and with a depth plane, alternating in one session "
                             "(the plane's cost measured under the same load; 0: skip; default 300)")
    parser.add_argument("--via", default=None, metavar="HOST:PORT",
                        help="instead: p50 round trip through this balancer (deploy/haproxy) against --direct")
    parser.add_argument("--direct", default=None, metavar="HOST:PORT",
                        help="with --via: the identity replica behind the balancer, measured straight")


def run(args: argparse.Namespace) -> int:
    """Run the three measurements and print the table and the ratios against the goals (with --via: the
    balancer's added p50)."""
    if args.via is not None or args.direct is not None:
        return _run_via(args)
    from sdbridge.bench.transport import report, run_benchmark

    notes = warn_few([("--frames", args.frames, MIN_SAMPLES, FRAMES),
                      ("--latency-frames", args.latency_frames, MIN_SAMPLES, LATENCY_FRAMES),
                      ("--pairs", args.pairs, MIN_SAMPLES, PAIRS)])
    print(f"running {args.rounds} rounds of raw echo, bridge and websocket+JPEG at {args.size}x{args.size} ...",
          flush=True)
    measurements = run_benchmark(args.size, args.frames, args.latency_frames, args.window, args.jpeg_quality,
                                 args.rounds)
    print("\n".join(report(measurements, args.size, args.window, args.rounds)))
    if args.pairs:
        from sdbridge.bench.transport_paired import report_paired, run_paired

        print(f"running {args.rounds} rounds of {args.pairs} pairs, frames alone and with a depth plane ...",
              flush=True)
        print("\n".join(report_paired(run_paired(args.size, args.pairs, args.rounds), args.rounds)))
    for note in notes:
        print(f"Warning: {note}")
    return 0


def _run_via(args: argparse.Namespace) -> int:
    from sdbridge.bench import balancer
    from sdbridge.errors import ConfigError

    if args.via is None or args.direct is None:
        raise ConfigError("--via and --direct go together: the balancer and the replica behind it, e.g. "
                          "--via 127.0.0.1:5555 --direct 127.0.0.1:5601")
    try:
        via, direct = balancer.endpoint_of(args.via, "--via"), balancer.endpoint_of(args.direct, "--direct")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    notes = warn_few([("--latency-frames", args.latency_frames, MIN_SAMPLES, LATENCY_FRAMES)])
    print(f"running {args.rounds} alternating rounds of {args.latency_frames} round trips, {direct} and {via} ...",
          flush=True)
    paths = balancer.measure(direct, via, args.size, args.latency_frames, args.rounds)
    print("\n".join([*balancer.report(paths, args.size), *(f"Warning: {note}" for note in notes)]))
    return 0
