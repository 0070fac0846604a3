"""A copy of schemas/bridge.fbs with fields appended to `table Params` and members to `enum ParamsField`, at the
next free field ids and bits, as docs/adding-a-parameter.md step 1 adds them. The Params codegen tests use it so
that the real schema can keep growing: a field or bit written as `{id0}`, `{id1}`, ... / `{bit0}`, `{bit1}`, ... gets
the first, second, ... free id / bit of the schema as it is today."""

from __future__ import annotations

import re

from .conftest import ROOT

SCHEMA = ROOT / "schemas" / "bridge.fbs"


def _block(text: str, opener: str) -> tuple[int, int]:
    """(start, end) of the body of the block that starts with `opener` (end: the index of its closing brace)."""
    start = text.index(opener) + len(opener)
    return start, text.index("\n}", start) + 1


def next_slots(text: str) -> tuple[int, int]:
    """(the next free Params field id, the next free ParamsField bit) of the schema `text`."""
    start, end = _block(text, "table Params {")
    ids = [int(i) for i in re.findall(r"\(id: (\d+)\)", text[start:end])]
    start, end = _block(text, "enum ParamsField : uint (flags) {")
    bits = [int(b) for b in re.findall(r"= (\d+),", text[start:end])]
    return max(ids) + 1, max(bits) * 2


def extended(bits: str, fields: str, text: str | None = None) -> str:
    """bridge.fbs (or `text`) with the ParamsField lines `bits` and the Params lines `fields` appended, their `{idN}`
    and `{bitN}` placeholders filled with the next free ids and bits."""
    text = SCHEMA.read_text(encoding="utf-8") if text is None else text
    next_id, next_bit = next_slots(text)
    slots = {f"id{i}": next_id + i for i in range(4)} | {f"bit{i}": next_bit << i for i in range(4)}
    bits, fields = bits.format(**slots), fields.format(**slots)
    _, end = _block(text, "enum ParamsField : uint (flags) {")
    text = text[:end] + bits + text[end:]
    _, end = _block(text, "table Params {")
    return text[:end] + fields + text[end:]
