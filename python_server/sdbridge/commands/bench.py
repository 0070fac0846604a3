"""`sdbridge bench pipeline|transport`: benchmarks that print ratios against same-run baselines."""

from __future__ import annotations

import argparse
import importlib

NAME = "bench"
HELP = ("benchmarks: `bench pipeline` (pipeline configurations), `bench transport` (wire path), `bench preview`, "
        "`bench fairness` (share of the worker), `bench temporal` (flicker of the temporal methods)")
# Each module exposes NAME ("bench-<what>"), HELP, add_arguments(parser) and run(args).
BENCH_MODULES = ("sdbridge.commands.bench_pipeline", "sdbridge.commands.bench_transport",
                 "sdbridge.commands.bench_preview", "sdbridge.commands.bench_fairness",
                 "sdbridge.commands.bench_temporal")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One sub-subcommand per benchmark module."""
    modules = [importlib.import_module(name) for name in BENCH_MODULES]
    names = [module.NAME.removeprefix("bench-") for module in modules]
    # the names, not a placeholder, in the usage and in "the following arguments are required: ..."
    sub = parser.add_subparsers(dest="benchmark", required=True, metavar="{" + ",".join(names) + "}")
    for module in modules:
        child = sub.add_parser(module.NAME.removeprefix("bench-"), help=module.HELP, description=module.HELP)
        module.add_arguments(child)
        child.set_defaults(_bench_run=module.run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark."""
    return int(args._bench_run(args))
