"""The fix a config type error names: how to write the key so it has its type (a quoted number or true/false
without its quotes, a single value in brackets, else the key's default as an example), in TOML."""

from __future__ import annotations

from enum import Enum
from typing import Any


def toml_text(value: Any) -> str:
    """`value` as it is written in a TOML file (a default shown as the example of a fix)."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    return repr(value)


def type_fix(value: Any, hint: Any, name: str, example: Any) -> str:
    """How to write `name` so it has type `hint`: a quoted number or true/false without its quotes, else the
    field's default as an example (e.g. "; write it without quotes: width = 512", "; e.g. width = 64 (the
    default)")."""
    if isinstance(value, str) and hint in (int, float, bool):
        text = value.strip()
        parses = text in ("true", "false") if hint is bool else _number_text(text, integer=hint is int)
        if parses:
            return f"; write it without quotes: {name} = {text}"
    if example is None:
        return ""
    what = "true or false, no quotes" if hint is bool else "the default"
    return f"; e.g. {name} = {toml_text(example)} ({what})"


def _number_text(text: str, *, integer: bool) -> bool:
    try:
        int(text) if integer else float(text)
    except ValueError:
        return False
    return True
