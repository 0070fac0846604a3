"""The `sdbridge` command line: parse arguments, then call one command module's `run`.

Each subcommand lives in `sdbridge.commands.<module>` and exposes `NAME`, `HELP`,
`add_arguments(parser)` and `run(args) -> int`. Modules are imported only when the CLI starts,
never at package import.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from sdbridge import __version__
from sdbridge.errors import BridgeError

COMMAND_MODULES: tuple[str, ...] = (
    "sdbridge.commands.demo",
    "sdbridge.commands.bench",
    "sdbridge.commands.serve",
    "sdbridge.commands.check",
    "sdbridge.commands.build_engines",
    "sdbridge.commands.keys",
    "sdbridge.commands.replay",
    "sdbridge.commands.drain",
)

log = logging.getLogger("sdbridge")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one subparser per command module."""
    parser = argparse.ArgumentParser(prog="sdbridge", description="StreamDiffusion Bridge")
    parser.add_argument("--version", action="version", version=f"sdbridge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        # `sdbridge serve -v` too, not only `sdbridge -v serve` (SUPPRESS: absent, the top-level value stands)
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sdbridge` console script. Returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args))
    except BridgeError as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:  # a path or port the user named; the traceback only with -v
        log.error("%s%s", exc, "" if args.verbose else " (sdbridge -v ... shows where it came from)",
                  exc_info=args.verbose)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
