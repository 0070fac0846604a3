"""Structural verifier for Envelope buffers (the Python flatbuffers runtime has none).

Before any generated accessor touches a buffer from the network, ``verify_envelope`` walks every
table, vtable, string and vector reachable from the root and checks that each lies inside the buffer,
so that decoding can neither read out of bounds (Python would silently wrap negative offsets) nor loop
over a forged billion-element vector. It mirrors what flatbuffers' C++ Verifier checks (minus
alignment). The layout is built from the table fields schemas/codegen.py generates out of bridge.fbs
(``bridge_schema.TABLES``); tests/protocol/test_codec.py also checks it against the flatc output.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping

from sdbridge.errors import ProtocolError
from sdbridge.protocol._generated.bridge_schema import TABLES
from sdbridge.protocol._generated.bridge_schema import UNION_TABLES as GENERATED_UNION_TABLES
from sdbridge.protocol.messages import ErrorCode


class Kind(enum.Enum):
    """How a field is stored."""

    SCALAR = 1  # inline, arg = size in bytes
    STRING = 2  # offset to a string
    VECTOR = 3  # offset to a vector of scalars, arg = element size
    TABLES = 4  # offset to a vector of tables, arg = table name
    TABLE = 5  # offset to a table, arg = table name
    UNION = 6  # offset to a table whose type is the scalar field id - 1


Field = tuple[int, Kind, int | str]  # (field id, kind, size or table name)

_KINDS: Mapping[str, Kind] = {"scalar": Kind.SCALAR, "string": Kind.STRING, "vector": Kind.VECTOR,
                              "tables": Kind.TABLES, "table": Kind.TABLE}


def _layout(fields: tuple[tuple[int, str, str, int, str, str], ...]) -> tuple[Field, ...]:
    """Verifier fields of one generated table description; a union field also takes its type slot (id - 1)."""
    out: list[Field] = []
    for fid, _name, kind, size, _fmt, ref in fields:
        if kind == "union":
            out += [(fid - 1, Kind.SCALAR, 1), (fid, Kind.UNION, ref)]
        else:
            out.append((fid, _KINDS[kind], ref if kind in ("tables", "table") else size))
    return tuple(out)


#: table name -> fields, from schemas/bridge.fbs.
LAYOUT: Mapping[str, tuple[Field, ...]] = {name: _layout(fields) for name, fields in TABLES.items()}

#: names of the list fields, for error messages (the element-count limit applies to these).
LIST_FIELDS: Mapping[tuple[str, int], str] = {
    (table, fid): f"{table}.{name}"
    for table, fields in TABLES.items() for fid, name, kind, *_ in fields if kind in ("vector", "tables")
}

#: union tag -> table name of Envelope.body.
UNION_TABLES: Mapping[int, str] = GENERATED_UNION_TABLES

_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
MAX_DEPTH = 8  # the schema nests at most Envelope > Notice > Prompt > PromptWeight


class _Verifier:
    def __init__(self, buf: memoryview, max_items: int) -> None:
        self.buf = buf
        self.size = len(buf)
        self.max_items = max_items

    def _count_ok(self, count: int, name: str, fid: int) -> None:
        if count > self.max_items:
            field = LIST_FIELDS.get((name, fid), f"{name} field {fid}")
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"{field} has {count} entries, more than the limit {self.max_items} (limits.max_list_items)",
            )

    def _need(self, pos: int, nbytes: int, what: str) -> None:
        if pos < 0 or pos + nbytes > self.size:
            raise ProtocolError(
                ErrorCode.TRUNCATED,
                f"{what} at byte {pos} (+{nbytes}) lies outside the {self.size}-byte buffer "
                "(truncated or corrupt message)",
            )

    def _u32(self, pos: int, what: str) -> int:
        self._need(pos, 4, what)
        return _U32.unpack_from(self.buf, pos)[0]

    def _offset_target(self, pos: int, what: str) -> int:
        """Follow the uoffset stored at ``pos``; return the absolute position it points to."""
        target = pos + self._u32(pos, what)
        self._need(target, 4, what)
        return target

    def table(self, pos: int, name: str, depth: int, follow_union: bool = True) -> dict[int, int]:
        """Verify the table at ``pos`` and what it references; return {field id: field position}."""
        if depth > MAX_DEPTH:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{name} nested deeper than {MAX_DEPTH} tables")
        self._need(pos, 4, f"{name} table")
        vtable = pos - _I32.unpack_from(self.buf, pos)[0]
        self._need(vtable, 4, f"{name} vtable")
        vt_size = _U16.unpack_from(self.buf, vtable)[0]
        tbl_size = _U16.unpack_from(self.buf, vtable + 2)[0]
        if vt_size < 4 or vt_size % 2:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{name} vtable size {vt_size} is not an even number >= 4")
        self._need(vtable, vt_size, f"{name} vtable")
        if tbl_size < 4:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{name} table size {tbl_size} is < 4")
        self._need(pos, tbl_size, f"{name} table")
        union_type = 0
        present: dict[int, int] = {}
        for fid, kind, arg in LAYOUT[name]:
            slot = 4 + 2 * fid
            if slot + 2 > vt_size:
                continue
            field_off = _U16.unpack_from(self.buf, vtable + slot)[0]
            if field_off == 0:
                continue
            width = arg if kind is Kind.SCALAR else 4
            assert isinstance(width, int)
            if field_off + width > tbl_size:
                raise ProtocolError(
                    ErrorCode.BAD_MESSAGE,
                    f"{name} field {fid} at table offset {field_off} (+{width}) exceeds the table size {tbl_size}",
                )
            at = pos + field_off
            present[fid] = at
            what = f"{name} field {fid}"
            if kind is Kind.SCALAR:
                if name == "Envelope" and fid == 0:
                    union_type = _U8.unpack_from(self.buf, at)[0]
            elif kind is Kind.STRING:
                self.string(self._offset_target(at, what), what)
            elif kind is Kind.VECTOR:
                assert isinstance(arg, int)
                self._count_ok(self.vector(self._offset_target(at, what), arg, what), name, fid)
            elif kind is Kind.TABLES:
                assert isinstance(arg, str)
                start = self._offset_target(at, what)
                count = self.vector(start, 4, what)
                self._count_ok(count, name, fid)
                for i in range(count):
                    elem = start + 4 + 4 * i
                    self.table(self._offset_target(elem, f"{what}[{i}]"), arg, depth + 1)
            elif kind is Kind.TABLE:
                assert isinstance(arg, str)
                self.table(self._offset_target(at, what), arg, depth + 1)
            elif kind is Kind.UNION:
                target = self._offset_target(at, what)
                sub = UNION_TABLES.get(union_type)
                if sub is not None and follow_union:  # unknown tags are reported by the decoder
                    self.table(target, sub, depth + 1)
        return present

    def vector(self, pos: int, elem_size: int, what: str) -> int:
        count = self._u32(pos, what)
        if count * elem_size > self.size - pos - 4:
            raise ProtocolError(
                ErrorCode.TRUNCATED,
                f"{what}: vector of {count} x {elem_size}-byte elements at byte {pos} does not fit the "
                f"{self.size}-byte buffer",
            )
        return count

    def string(self, pos: int, what: str) -> None:
        length = self.vector(pos, 1, what)
        self._need(pos + 4 + length, 1, f"{what} terminator")
        if self.buf[pos + 4 + length] != 0:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{what}: string at byte {pos} is not 0-terminated")


def verify_envelope(buf: memoryview, max_items: int = 1 << 30) -> int:
    """Check the structure of a whole Envelope buffer (identifier already checked); return the root position."""
    verifier = _Verifier(buf, max_items)
    root = verifier._offset_target(0, "root offset")
    verifier.table(root, "Envelope", 0)
    return root


def envelope_body(buf: memoryview) -> tuple[int, int]:
    """Check the root and the Envelope table only; return (body_type, body position, or -1 if absent).

    The body itself is not verified: call :func:`verify_body`, or read it with bounds checks.
    """
    verifier = _Verifier(buf, 0)
    root = verifier._offset_target(0, "root offset")
    present = verifier.table(root, "Envelope", 0, follow_union=False)
    tag = _U8.unpack_from(buf, present[0])[0] if 0 in present else 0
    body = verifier._offset_target(present[1], "Envelope.body") if 1 in present else -1
    return tag, body


def verify_body(buf: memoryview, pos: int, table: str, max_items: int) -> None:
    """Verify the message table ``table`` at ``pos`` and everything it references.

    Lists (vectors) longer than ``max_items`` are refused before their elements are visited.
    """
    _Verifier(buf, max_items).table(pos, table, 1)
