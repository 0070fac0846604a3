"""Line numbers in TOML text, for errors that name `file:line` (the config loader and the rules loader)."""

from __future__ import annotations

import re
from typing import TypeAlias

KeyPath: TypeAlias = tuple[str | int, ...]


class TomlLines:
    """The line of each key path in TOML text, found by scanning `[table]` / `[[array]]` headers and `key =`
    lines (tomllib gives no line numbers). Paths index arrays of tables: ("rule", 2, "when")."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")

    def __init__(self, text: str) -> None:
        self.entries: dict[KeyPath, int] = {}  # first line of each key path (one dict lookup per query)
        arrays: dict[tuple[str, ...], int] = {}
        context: KeyPath = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                names = tuple(_unquote(p) for p in header.group(2).split("."))
                path = self._with_indices(names, arrays)
                if header.group(1) == "[[":
                    arrays[names] = arrays.get(names, -1) + 1
                    path = self._with_indices(names, arrays)
                context = path
                self.entries.setdefault(path, number)
                continue
            key = self._KEY.match(line)
            if key and not line.lstrip().startswith("#"):
                parts = tuple(_unquote(p) for p in key.group(1).split("."))
                self.entries.setdefault(context + parts, number)

    @staticmethod
    def _with_indices(names: tuple[str, ...], arrays: dict[tuple[str, ...], int]) -> KeyPath:
        path: list[str | int] = []
        for i, name in enumerate(names):
            path.append(name)
            count = arrays.get(names[: i + 1])
            if count is not None:
                path.append(count)
        return tuple(path)

    def line(self, path: KeyPath) -> int | None:
        """The line of the longest prefix of `path` that appears in the text (None if nothing does).

        At most len(path) dict lookups: loading a file asks once per rule, so a scan of every entry
        here made loading quadratic in the number of rules.
        """
        for n in range(len(path), 0, -1):
            number = self.entries.get(path[:n])
            if number is not None:
                return number
        return None


def _unquote(part: str) -> str:
    return part.strip().strip("\"'")
