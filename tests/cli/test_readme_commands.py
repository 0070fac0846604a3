"""README.md's "Commands" table names every command and benchmark `sdbridge --help` lists, and nothing else."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sdbridge.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _cli_commands() -> set[str]:
    names = set()
    for name, sub in _choices(build_parser()).items():
        names |= {f"bench {b}" for b in _choices(sub)} if name == "bench" else {name}
    return names


def _table_commands() -> set[str]:
    section = README.read_text(encoding="utf-8").split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    found = set()
    for cell in re.findall(r"^\| `sdbridge ([a-z-]+(?: [a-z]+)?)", section, flags=re.MULTILINE):
        words = cell.split()
        found.add(" ".join(words[:2]) if words[0] == "bench" else words[0])
    return found


def test_the_commands_table_lists_every_command() -> None:
    table = _table_commands()
    assert _cli_commands() - table == set()  # before: keys and bench temporal were missing
    assert table - _cli_commands() == set()
