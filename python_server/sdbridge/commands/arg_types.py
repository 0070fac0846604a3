"""argparse `type=` converters shared by the commands: a bad value is refused while the flags are parsed, before any
model loads or server starts, and argparse's message names the option, the value, the limit and the fix
("argument --frames: 0 must be an integer >= 1, e.g. --frames 20").

Each converter raises `argparse.ArgumentTypeError`; argparse prefixes the option it came from.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sdbridge.config_endpoint import MAX_PORT


def int_at_least(low: int, example: int, high: int | None = None) -> Callable[[str], int]:
    """An integer >= `low` (and <= `high` when given); `example` is a valid value the message suggests."""
    limit = f">= {low}" if high is None else f"in [{low}, {high}]"

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer; give an integer {limit}, e.g. "
                                             f"{example}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} must be an integer {limit}, e.g. {example}")
        return value

    convert.__name__ = f"integer {limit}"
    return convert


def float_above(low: float, example: float, *, inclusive: bool = False) -> Callable[[str], float]:
    """A finite number > `low` (>= `low` with `inclusive`); `example` is a valid value the message suggests."""
    relation = ">=" if inclusive else ">"

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a number {relation} {low:g}, e.g. "
                                             f"{example:g}") from None
        ok = value >= low if inclusive else value > low
        if not ok or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text} must be a finite number {relation} {low:g}, e.g. {example:g}")
        return value

    convert.__name__ = f"number {relation} {low:g}"
    return convert


def port_number(example: int) -> Callable[[str], int]:
    """A TCP port, 0 (any free port) to MAX_PORT; `example` is a valid port the message suggests."""
    return int_at_least(0, example, MAX_PORT)


def frame_size(text: str) -> int:
    """A frame or model side in pixels: a positive multiple of 8 (the VAE's factor)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; give a positive multiple of 8, e.g. "
                                         "256") from None
    if value < 8 or value % 8:
        nearest = max(8, (value + 4) // 8 * 8)
        raise argparse.ArgumentTypeError(f"{value} must be a positive multiple of 8 (the VAE's factor), e.g. "
                                         f"{nearest}")
    return value


def int_list(low: int, example: str) -> Callable[[str], tuple[int, ...]]:
    """A comma-separated list of integers, each >= `low` (e.g. "1,2,4"); `example` is a valid list."""

    def convert(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers, e.g. "
                                             f"{example}") from None
        bad = [v for v in values if v < low]
        if bad:
            raise argparse.ArgumentTypeError(f"{text!r}: {bad[0]} is below {low}; each entry must be >= {low}, "
                                             f"e.g. {example}")
        return values

    convert.__name__ = "comma-separated integers"
    return convert


def device_name(text: str) -> str:
    """A torch device name (cpu, cuda, cuda:1, mps, ...), checked as the server config checks `[model] device`."""
    from sdbridge.config_device import device_problem

    problem = device_problem(text, field=None)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def registry_value(param_name: str, example: str) -> Callable[[str], object]:
    """A value of the live parameter `param_name`, checked against its one range in the registry
    (`sdbridge.params`), as the wire, rules files and `StreamConfig` check it; an INT_LIST is comma-separated.
    `example` is a valid value the message suggests."""
    from sdbridge import params

    param = params.BY_NAME[param_name]

    def convert(text: str) -> object:
        try:
            if param.kind is params.Kind.INT_LIST:
                value: object = tuple(int(part) for part in text.split(","))
            elif param.kind is params.Kind.INT:
                value = int(text)
            else:
                value = float(text)
        except ValueError:
            shape = "a comma-separated list of integers" if param.kind is params.Kind.INT_LIST else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {shape} for {param_name}; e.g. {example}") from None
        try:
            return params.check(param_name, value, "")
        except params.ParamError as error:
            hint = "" if "e.g." in error.problem else f"; e.g. {example}"
            raise argparse.ArgumentTypeError(f"{error.problem}{hint}") from None

    convert.__name__ = param_name
    return convert


def diffusion_model(what: str, example: str) -> Callable[[str], str]:
    """A --model for a benchmark of the diffusion pipeline: any model name but "identity", which has none (frames
    pass through unchanged, prompts and steps are ignored), so `what` would measure nothing; `example` is a valid
    name the message suggests."""

    def convert(text: str) -> str:
        from sdbridge.pipeline.components import IDENTITY  # here: the parser is built for every command

        if text.strip() == IDENTITY:
            raise argparse.ArgumentTypeError(
                f"{IDENTITY!r} has no diffusion model (frames pass through unchanged; prompts, seeds and steps are "
                f"ignored), so {what} would measure nothing; use {example}, small, a Hub id or a folder "
                "(`bench transport` and `bench preview` take identity)")
        return text

    convert.__name__ = "model name"
    return convert
