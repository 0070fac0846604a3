"""README.md's "Limits and budgets" table has a row for every `[limits]` key with its default (max_planes and
max_style_images had none, and the text said every key must be >= 1, which 0 for those two contradicts)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from sdbridge.config import LimitsConfig

README = Path(__file__).resolve().parents[2] / "README.md"


def _rows() -> dict[str, str]:
    section = README.read_text(encoding="utf-8").split("\n### Limits and budgets\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for names, default in re.findall(r"^\| ((?:`[a-z_]+`(?:, )?)+) \| ([^|]+) \|", section, flags=re.MULTILINE):
        for name in re.findall(r"`([a-z_]+)`", names):
            rows[name] = default.strip()
    return rows


def test_every_limit_has_a_row_with_its_default() -> None:
    rows = _rows()
    for f in dataclasses.fields(LimitsConfig):
        assert f.name in rows, f"README's limits table has no row for {f.name}"
        assert rows[f.name] == str(f.default), (f.name, rows[f.name], f.default)
    assert set(rows) == {f.name for f in dataclasses.fields(LimitsConfig)}
