"""The `sdbridge` command line: parse arguments, then call one command module's `run`.

Each subcommand lives in `sdbridge.commands.<module>` and exposes `NAME`, `HELP`,
`add_arguments(parser)` and `run(args) -> int`. Modules are imported only when the CLI starts,
never at package import.

Run as the console program (`main()` without argv), the process ends as soon as the command has returned and the
exit handlers have run, without the interpreter's teardown: freeing the thousands of modules and objects of
torch, diffusers and transformers took 1.3-3 s of CPU after `sdbridge serve` had already shut down cleanly on Ctrl-C
(measured on the 2-core development machine). Called with argv (tests), `main` returns the exit code.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import difflib
import importlib
import logging
import os
import sys
import threading
from collections.abc import Sequence

from sdbridge import __version__
from sdbridge.commands.library_logs import quiet_libraries
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
    modules = [importlib.import_module(module_name) for module_name in COMMAND_MODULES]
    # the command names, not a placeholder, in the usage and in "the following arguments are required: ..."
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{" + ",".join(module.NAME for module in modules) + "}")
    for module in modules:
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP,
                                 epilog=getattr(module, "EPILOG", None))
        # `sdbridge serve -v` too, not only `sdbridge -v serve` (SUPPRESS: absent, the top-level value stands)
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sdbridge` console script. Returns the process exit code (argv given), or, as the console
    program (argv None), ends the process with it once the command is done (`exit_without_teardown`)."""
    code = _run(argv)
    if argv is None:
        exit_without_teardown(code)
    return code


def exit_without_teardown(code: int) -> None:
    """End the process with `code` after the exit handlers (atexit: logging's flush, multiprocessing's joins, ...)
    and a flush of stdout and stderr, skipping the interpreter's teardown of every module. Returns (the normal exit
    follows) while a non-daemon thread still runs: the interpreter would wait for it."""
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing more can be written
            stream.flush()
    os._exit(code)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line; an unknown argument is refused by the (sub)command's own parser, so the error shows
    that command's usage and, for a misspelt option, the one meant (the top-level parser showed its own usage)."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        chosen = _chosen_parser(parser, args)
        options = [o for action in chosen._actions for o in action.option_strings if o.startswith("--")]
        meant = [m for extra in extras if extra.startswith("-")
                 for m in difflib.get_close_matches(extra.split("=", 1)[0], options, n=1, cutoff=0.7)]
        hint = f" (did you mean {', '.join(meant)}? see {chosen.prog} --help)" if meant else \
            f" (see {chosen.prog} --help)"
        chosen.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
    return args


def _chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the (sub-sub)command `args` chose."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        if not subs or name not in subs[0].choices:
            return parser
        parser = subs[0].choices[name]


def _run(argv: Sequence[str] | None) -> int:
    args = parse(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_libraries(args.verbose)  # diffusers/transformers warnings and loading bars only with -v
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
