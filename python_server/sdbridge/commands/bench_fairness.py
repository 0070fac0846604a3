"""`sdbridge bench fairness`: a well-behaved client's frames/s alone and beside a client sending the costliest
valid requests the limits allow (sdbridge.bench.fairness). Prints every run and the ratio; asserts nothing."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sdbridge.commands.arg_types import diffusion_model, float_above, frame_size, int_at_least

if TYPE_CHECKING:
    from sdbridge.config import ServerConfig

NAME = "bench-fairness"
HELP = ("a client's frames/s alone and beside one sending the costliest valid requests (largest prompt and seed "
        "blends, longest t_index_list): the share of the worker it keeps")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the benchmark."""
    parser.add_argument("--model", type=diffusion_model("bench fairness (the attacker's requests cost it nothing)",
                                                        "tiny"), default="tiny", help="tiny | small (default tiny)")
    parser.add_argument("--size", type=frame_size, default=64, help="frame and model width and height (default 64)")
    parser.add_argument("--seconds", type=float_above(0, 4), default=4.0, help="length of each run (default 4)")
    parser.add_argument("--rounds", type=int_at_least(1, 2), default=2,
                        help="ABBA rounds: each has 2 runs of each arm (default 2)")
    parser.add_argument("--text-chars", type=int_at_least(0, 4096), default=0,
                        help="characters of each attacker text (default: limits.max_text_chars)")
    parser.add_argument("--threads", type=int_at_least(1, 1), default=1,
                        help="torch intra-op threads of the server (default 1: on a shared 2-core machine two "
                             "threads measure the machine's contention)")


def run(args: argparse.Namespace) -> int:
    """Start a server in this process, run the ABBA measurement, print the report."""
    import torch

    from sdbridge.bench.fairness import measure
    from sdbridge.config import ServerConfig, with_overrides
    from sdbridge.server import BridgeServer

    torch.set_num_threads(args.threads)
    cfg = with_overrides(ServerConfig(), model={"name": args.model, "width": args.size, "height": args.size},
                         session={"heartbeat_timeout_s": 120.0}, top={"bind": "tcp://127.0.0.1:*"})
    server = BridgeServer(cfg)
    server.start_in_thread()
    try:
        chars = args.text_chars or cfg.limits.max_text_chars
        report = measure(server.endpoint, cfg.limits, size=args.size, seconds=args.seconds, rounds=args.rounds,
                         text_chars=chars)
    finally:
        server.close()
    print(header(args, cfg, chars))
    print(report.summary())
    return 0


def header(args: argparse.Namespace, cfg: ServerConfig, chars: int) -> str:
    """The report's first line: model, size, the dtype the server ran (auto resolved, as `sdbridge serve` logs it;
    on a CPU with bfloat16 support it is not float32), the attacker's requests and the threads."""
    from sdbridge.config import Dtype

    lim = cfg.limits
    dtype, _why = cfg.model.resolved_dtype(cfg.accel.backend.value)
    how = " (dtype auto)" if cfg.model.dtype is Dtype.AUTO else ""
    return (f"fairness ({args.model} {args.size}x{args.size}, {dtype.value}{how} on {cfg.model.device}, attacker: "
            f"prompt blends of {lim.max_prompt_blend} new {chars}-character texts, seed blends of "
            f"{lim.max_seed_blend}, t_index_list of {lim.max_t_index_list} steps; {args.threads} torch thread(s))")
