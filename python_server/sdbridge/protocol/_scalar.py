"""Fast path for messages whose table holds only scalars (Frame, Result, Stats, Credit, Ping, ...).

The Python flatbuffers Builder costs ~30-100 us per header on this CPU, which matters on the per-frame
hot path. For scalar-only tables inside an Envelope the builder's output is simple enough to produce
with a few ``struct.pack`` calls; this module does exactly what ``flatbuffers.Builder`` does for such a
message (same padding, same vtable, same field order: size descending, ties by descending id), so the
bytes are identical. tests/protocol/test_scalar_fast_path.py checks that against the Builder on random
values and against the golden files; the reader does the verifier's bounds checks inline. Which tables take
this path, and their fields, come from the table descriptions schemas/codegen.py generates out of bridge.fbs.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from operator import attrgetter, itemgetter, ne
from typing import Any

from sdbridge.errors import ProtocolError
from sdbridge.protocol._generated.bridge_schema import TABLES, UNION_TABLES
from sdbridge.protocol.messages import (
    Credit,
    ErrorCode,
    FrameHeader,
    MessageType,
    Ping,
    Pong,
    ResultHeader,
    Stats,
    StatsRequest,
)

#: (field id, field name, struct format character)
ScalarField = tuple[int, str, str]

#: message type -> (table name, fields in id order) for every message table holding only scalars (no strings,
#: vectors or sub-tables), from schemas/bridge.fbs.
SCALAR_TABLES: Mapping[MessageType, tuple[str, tuple[ScalarField, ...]]] = {
    MessageType(tag): (name, tuple((fid, field, fmt) for fid, field, _kind, _size, fmt, _ref in TABLES[name]))
    for tag, name in UNION_TABLES.items()
    if all(kind == "scalar" for _fid, _field, kind, *_ in TABLES[name])
}


class _Spec:
    """Precomputed packers for one scalar table."""

    __slots__ = ("class_order", "defaults", "fields", "get_values", "name", "names", "order", "readers")

    def __init__(self, name: str, fields: Sequence[ScalarField], cls: type) -> None:
        self.name = name
        self.fields = tuple(fields)
        self.names = tuple(f[1] for f in fields)
        self.get_values = _tuple_getter(attrgetter, self.names)  # message -> its values in field id order
        # the readers return values in the order of the message class's fields (its positional arguments)
        self.class_order = tuple(self.names.index(f.name) for f in dataclasses.fields(cls))
        packers = [struct.Struct("<" + f[2]) for f in fields]
        # canonical add order: size descending, ties in descending field id
        self.order = tuple(sorted(((p.size, f[0], f[1], p) for f, p in zip(fields, packers, strict=True)),
                                  key=lambda t: (-t[0], -t[1])))
        self.readers = tuple(packers)
        self.defaults = tuple(False if f[2] == "?" else (0.0 if f[2] == "f" else 0) for f in fields)


def _tuple_getter(factory: Callable[..., Callable[[Any], Any]],
                  keys: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """``factory(*keys)`` (an itemgetter or attrgetter: one C call), returning a tuple even for 0 or 1 key."""
    if len(keys) == 1:
        one = factory(keys[0])
        return lambda obj: (one(obj),)
    if not keys:
        return lambda obj: ()
    return factory(*keys)  # type: ignore[no-any-return]


#: message type -> the dataclass a scalar table decodes to
CLASSES: Mapping[MessageType, type] = {
    MessageType.FRAME: FrameHeader, MessageType.RESULT: ResultHeader, MessageType.STATS_REQUEST: StatsRequest,
    MessageType.STATS: Stats, MessageType.CREDIT: Credit, MessageType.PING: Ping, MessageType.PONG: Pong,
}
SPECS: Mapping[MessageType, _Spec] = {tag: _Spec(name, fields, CLASSES[tag])
                                      for tag, (name, fields) in SCALAR_TABLES.items()}

_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_HH = struct.Struct("<HH")
_ZEROS = tuple(bytes(n) for n in range(8))


class _Layout:
    """The bytes of one scalar message whose present (non-default) fields are known, values left as zeros.

    Every byte but the field values depends only on which fields are present, so a message is this template
    with one ``Struct.pack_into`` of the values at ``offset`` (pad bytes inside are zeros, as the Builder's).
    """

    __slots__ = ("offset", "pick", "present", "struct", "template")

    def __init__(self, template: bytes, offset: int, fmt: str, present: tuple[int, ...]) -> None:
        self.template = template
        self.offset = offset
        self.struct = struct.Struct(fmt)
        self.present = present  # field indexes (id order) in the order their values are packed
        self.pick = _tuple_getter(itemgetter, present)  # all values -> the packed ones, in that order


_LAYOUTS: dict[tuple[MessageType, tuple[bool, ...], bytes], _Layout] = {}
_MAX_LAYOUTS = 4096  # at most 2^fields per type; bounded anyway (a cache miss only costs speed)


def _build_layout(tag: MessageType, spec: _Spec, present: tuple[bool, ...], identifier: bytes) -> _Layout:
    """Lay out the message as flatbuffers.Builder does (back to front) for the fields marked present."""
    parts: list[bytes] = []
    off = 0
    minalign = 4
    slots = [0] * len(spec.fields)
    placed: list[tuple[int, int, str]] = []  # (offset from the end after the field, field index, format)
    for size, fid, _field, packer in spec.order:
        if not present[fid]:
            continue
        pad = -off & (size - 1)
        if pad:
            parts.append(_ZEROS[pad])
            off += pad
        parts.append(bytes(size))
        off += size
        slots[fid] = off
        placed.append((off, fid, packer.format[-1]))
        if size > minalign:
            minalign = size
    # --- body table: soffset to its vtable, then the vtable in front of it
    pad = -off & 3
    if pad:
        parts.append(_ZEROS[pad])
        off += pad
    soffset_index = len(parts)
    parts.append(b"")
    off += 4
    body = off
    n = len(slots)
    while n and not slots[n - 1]:
        n -= 1
    body_entries = tuple(body - s if s else 0 for s in slots[:n])
    body_key = (body_entries, body)  # object size = body - 0 (the body is the first object built)
    parts.append(struct.pack(f"<{n + 2}H", (n + 2) * 2, body, *body_entries))
    off += (n + 2) * 2
    body_vtable = off
    parts[soffset_index] = _I32.pack(body_vtable - body)
    # --- Envelope { body_type (id 0, ubyte), body (id 1, offset) }: body added first (4 bytes > 1 byte)
    env_end = off
    pad = -off & 3
    if pad:
        parts.append(_ZEROS[pad])
        off += pad
    off += 4
    parts.append(_U32.pack(off - body))
    slot_body = off
    parts.append(bytes((int(tag),)))
    off += 1
    slot_type = off
    pad = -off & 3
    if pad:
        parts.append(_ZEROS[pad])
        off += pad
    soffset_index = len(parts)
    parts.append(b"")
    off += 4
    env = off
    env_entries = (env - slot_type, env - slot_body)
    if (env_entries, env - env_end) == body_key:  # Builder reuses an identical earlier vtable
        parts[soffset_index] = _I32.pack(body_vtable - env)
    else:
        parts.append(struct.pack("<4H", 8, env - env_end, *env_entries))
        off += 8
        parts[soffset_index] = _I32.pack(off - env)
    # --- Finish(root, identifier): align for minalign with 8 more bytes, identifier, root offset
    pad = -(off + 8) & (minalign - 1)
    if pad:
        parts.append(_ZEROS[pad])
        off += pad
    parts.append(identifier)
    off += 4
    off += 4
    parts.append(_U32.pack(off - env))
    parts.reverse()
    # field values, lowest address first (the last field added sits first); gaps are zero pad bytes
    values_at = sorted((off - end_from_back, fid, code) for end_from_back, fid, code in placed)
    first = values_at[0][0] if values_at else 0
    fmt = "<"
    cursor = first
    for at, _fid, code in values_at:
        if at > cursor:
            fmt += f"{at - cursor}x"
        fmt += code
        cursor = at + struct.calcsize("<" + code)
    return _Layout(b"".join(parts), first, fmt, tuple(fid for _, fid, _ in values_at))


def encode_scalar(tag: MessageType, msg: Any, identifier: bytes) -> bytes:
    """Encode ``msg`` (attributes named as the schema fields) as an Envelope, byte-identical to Builder."""
    spec = SPECS[tag]
    values = spec.get_values(msg)  # in field id order
    present = tuple(map(ne, values, repeat(0)))  # a default (0) is not written; NaN != 0 is written like Builder
    key = (tag, present, identifier)
    layout = _LAYOUTS.get(key)
    if layout is None:
        layout = _build_layout(tag, spec, present, identifier)
        if len(_LAYOUTS) < _MAX_LAYOUTS:
            _LAYOUTS[key] = layout
    out = bytearray(layout.template)
    try:
        layout.struct.pack_into(out, layout.offset, *layout.pick(values))
    except (struct.error, OverflowError, TypeError) as exc:
        bad = next((spec.fields[i] for i in layout.present if not _fits(spec, i, values[i])), None)
        field = bad[1] if bad is not None else "?"
        value = values[bad[0]] if bad is not None else None
        raise ProtocolError(
            ErrorCode.BAD_PARAM,
            f"cannot encode {spec.name}.{field}={value!r}: it does not fit the wire type ({exc}); "
            "pass a value in the field's range",
        ) from exc
    return bytes(out)


def _fits(spec: _Spec, index: int, value: Any) -> bool:
    try:
        spec.readers[index].pack(value)
    except (struct.error, OverflowError, TypeError):
        return False
    return True


#: (Struct or _OverlapReader reading the present fields, picker putting them in field order with defaults)
Reader = tuple[Any, Callable[[tuple[Any, ...]], tuple[Any, ...]]]
READERS: dict[tuple[MessageType, bytes, int], Reader] = {}


def read_scalar(view: memoryview, pos: int, tag: MessageType) -> tuple[Any, ...]:
    """Read a scalar-only table at ``pos`` with bounds checks.

    Returns the values in the order of the message class's fields (``CLASSES[tag](*values)`` builds it);
    absent fields have their default.
    """
    spec = SPECS[tag]
    size = len(view)
    name = spec.name
    if pos < 0 or pos + 4 > size:
        raise ProtocolError(ErrorCode.TRUNCATED, f"{name} table at byte {pos} lies outside the {size}-byte buffer")
    vtable = pos - _I32.unpack_from(view, pos)[0]
    if vtable < 0 or vtable + 4 > size:
        raise ProtocolError(ErrorCode.TRUNCATED, f"{name} vtable at byte {vtable} lies outside the {size}-byte buffer")
    vt_size, tbl_size = _HH.unpack_from(view, vtable)
    if vt_size < 4 or vt_size % 2 or tbl_size < 4:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{name} vtable sizes {vt_size}/{tbl_size} are invalid")
    if vtable + vt_size > size or pos + tbl_size > size:
        raise ProtocolError(ErrorCode.TRUNCATED, f"{name} table or vtable runs past the end of the {size}-byte buffer")
    # The vtable alone decides where each field sits and whether it fits the table: one Struct per vtable.
    key = (tag, bytes(view[vtable:vtable + vt_size]), tbl_size)
    reader = READERS.get(key)
    if reader is None:
        reader = _table_reader(spec, key[1], tbl_size)
        if len(READERS) < _MAX_LAYOUTS:
            READERS[key] = reader
    return read_values(spec, reader, view, pos)


def read_values(spec: _Spec, reader: Reader, view: memoryview, pos: int) -> tuple[Any, ...]:
    """The values of the table at ``pos`` in class field order, read with ``reader`` (absent: default)."""
    unpack, pick = reader
    return pick(unpack.unpack_from(view, pos) + spec.defaults)


def _table_reader(spec: _Spec, vtable: bytes, tbl_size: int) -> Reader:
    """A Struct reading every present field of a table with this vtable (checked against the table size)."""
    nslots = min((len(vtable) - 4) // 2, len(spec.fields))
    offsets = struct.unpack_from(f"<{nslots}H", vtable, 4)
    fields: list[tuple[int, int]] = []  # (table offset, field index)
    for i in range(nslots):
        field_off = offsets[i]
        if field_off:
            if field_off + spec.readers[i].size > tbl_size:
                raise ProtocolError(
                    ErrorCode.BAD_MESSAGE,
                    f"{spec.name}.{spec.names[i]} at table offset {field_off} exceeds the table size {tbl_size}",
                )
            fields.append((field_off, i))
    fields.sort()
    pick = _picker(tuple(i for _, i in fields), spec.class_order)
    fmt = "<"
    cursor = 0
    for field_off, i in fields:
        if field_off < cursor:  # overlapping fields: not what a Builder writes, but legal to read
            return _OverlapReader(spec, tuple(fields)), pick
        if field_off > cursor:
            fmt += f"{field_off - cursor}x"
        fmt += spec.fields[i][2]
        cursor = field_off + spec.readers[i].size
    return struct.Struct(fmt), pick


def _picker(where: tuple[int, ...], class_order: tuple[int, ...]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """Orders (values read, in table order) + (every field's default) into class field order, in one C call.

    ``where[j]`` is the field index of the j-th value read; a field not read takes its default, found at
    ``len(where) + field index`` in the concatenated tuple.
    """
    source = {field: j for j, field in enumerate(where)}
    return _tuple_getter(itemgetter, [source.get(i, len(where) + i) for i in class_order])


class _OverlapReader:
    """Reads fields one by one (a vtable whose fields overlap cannot be one Struct)."""

    def __init__(self, spec: _Spec, fields: tuple[tuple[int, int], ...]) -> None:
        self._fields = tuple((off, spec.readers[i]) for off, i in fields)

    def unpack_from(self, view: Any, pos: int) -> tuple[Any, ...]:
        return tuple(reader.unpack_from(view, pos + off)[0] for off, reader in self._fields)
