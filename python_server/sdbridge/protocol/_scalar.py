"""Fast path for messages whose table holds only scalars (Frame, Result, Stats, Credit, Ping, ...).

A Frame with planes (protocol 1.3, a vector of tables) is not scalar-only: ``read_scalar`` returns None for it and
the codec reads and writes it with ``_frame_planes`` (the same approach extended to the planes vector, built on this
module's layout helpers); a Frame without planes stays here.

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

#: Non-scalar fields a table of this path may also have (protocol 1.3: Frame.planes). Its messages without them
#: take the fast path; one that has them is not read here (``read_scalar`` returns None) and the codec encodes
#: it with the Builder. Their slots are gaps in the fast path's field ids (protocol 1.4's Frame.scene_cut, id 13,
#: follows planes, id 12): a field's index among the scalars and its id differ after such a gap.
OPTIONAL_NON_SCALAR: Mapping[str, frozenset[str]] = {"Frame": frozenset({"planes"})}

#: message type -> (table name, scalar fields in id order) for every message table holding only scalars (no
#: strings, vectors or sub-tables) besides its OPTIONAL_NON_SCALAR fields, from schemas/bridge.fbs.
SCALAR_TABLES: Mapping[MessageType, tuple[str, tuple[ScalarField, ...]]] = {
    MessageType(tag): (name, tuple((fid, field, fmt) for fid, field, kind, _size, fmt, _ref in TABLES[name]
                                   if kind == "scalar"))
    for tag, name in UNION_TABLES.items()
    if all(kind == "scalar" or field in OPTIONAL_NON_SCALAR.get(name, ())
           for _fid, field, kind, *_ in TABLES[name])
}


class _Spec:
    """Precomputed packers for one scalar table."""

    __slots__ = ("class_order", "defaults", "fields", "get_values", "index_of", "name", "names", "nslots",
                 "optional_ids", "order", "readers")

    def __init__(self, name: str, fields: Sequence[ScalarField], cls: type) -> None:
        self.name = name
        optional = OPTIONAL_NON_SCALAR.get(name, frozenset())
        self.optional_ids = tuple(f[0] for f in TABLES[name] if f[1] in optional)  # their slots: not this path
        self.fields = tuple(fields)
        self.index_of = {f[0]: i for i, f in enumerate(fields)}  # field id -> index among the scalar fields
        self.nslots = max((f[0] for f in TABLES[name]), default=-1) + 1  # vtable slots of the whole table
        self.names = tuple(f[1] for f in fields)
        self.get_values = _tuple_getter(attrgetter, self.names)  # message -> its values in field id order
        # the readers return values in the order of the message class's fields (its positional arguments)
        # (a class field that is no scalar field, Frame's planes, comes last and keeps its default)
        self.class_order = tuple(self.names.index(f.name) for f in dataclasses.fields(cls) if f.name in self.names)
        packers = [struct.Struct("<" + f[2]) for f in fields]
        # canonical add order: size descending, ties in descending field id; (size, id, index, name, packer)
        self.order = tuple(sorted(((p.size, f[0], i, f[1], p) for i, (f, p) in enumerate(zip(fields, packers,
                                                                                               strict=True))),
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

#: The largest buffer the decoder's caches of verified layouts keep (``_known.KNOWN``, ``_frame_planes.SEEN``): each
#: entry holds a copy of most of its buffer, so without this bound a client sending padded or plane-heavy headers
#: of many sizes kept up to 256 sizes x 4 x 256 KiB alive. Real headers are a few hundred bytes; larger buffers
#: always take the full check.
MAX_REMEMBERED_BYTES = 8192
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


class _BackToFront:
    """A buffer written back to front, as flatbuffers.Builder writes it: ``off`` counts the bytes written so far,
    i.e. an object's distance from the end of the finished buffer."""

    __slots__ = ("off", "parts")

    def __init__(self) -> None:
        self.parts: list[bytes] = []  # in the order written (last to first in the buffer)
        self.off = 0

    def pad(self, align: int, extra: int = 0) -> None:
        """Zero bytes so that ``off + extra`` is a multiple of ``align`` (a power of two)."""
        pad = -(self.off + extra) & (align - 1)
        if pad:
            self.parts.append(_ZEROS[pad])
            self.off += pad

    def put(self, data: bytes) -> int:
        """Write ``data``; returns ``off`` after it (where it starts, counted from the end)."""
        self.parts.append(data)
        self.off += len(data)
        return self.off

    def reserve(self, size: int) -> int:
        """Leave ``size`` bytes to ``fill`` later (a soffset whose target is not written yet); returns its index."""
        self.parts.append(b"")
        self.off += size
        return len(self.parts) - 1

    def fill(self, index: int, data: bytes) -> None:
        self.parts[index] = data

    def finished(self) -> bytes:
        return b"".join(reversed(self.parts))


def _build_layout(tag: MessageType, spec: _Spec, present: tuple[bool, ...], identifier: bytes) -> _Layout:
    """Lay out the message as flatbuffers.Builder does (back to front) for the fields marked present."""
    back = _BackToFront()
    slots, placed, minalign = _add_fields(back, spec, present)
    body, body_vtable, body_key = _add_body_vtable(back, slots)
    env = _add_envelope(back, tag, body, body_vtable, body_key)
    # Finish(root, identifier): align for minalign with 8 more bytes, identifier, root offset
    back.pad(minalign, extra=8)
    back.put(identifier)
    back.put(_U32.pack(back.off + 4 - env))
    first, fmt, order = _value_format(back.off, placed)
    return _Layout(back.finished(), first, fmt, order)


def _add_fields(back: _BackToFront, spec: _Spec,
                present: tuple[bool, ...]) -> tuple[list[int], list[tuple[int, int, str]], int]:
    """Room (zeros) for each present field in the canonical add order, each aligned to its size.

    Returns each vtable slot's offset from the end after its field (0: absent), the placed fields as (that
    offset, field index, format character), and the largest alignment seen (at least 4).
    """
    minalign = 4
    slots = [0] * spec.nslots
    placed: list[tuple[int, int, str]] = []
    for size, fid, index, _field, packer in spec.order:
        if not present[index]:
            continue
        back.pad(size)
        slots[fid] = back.put(bytes(size))
        placed.append((slots[fid], index, packer.format[-1]))
        minalign = max(minalign, size)
    return slots, placed, minalign


def _add_body_vtable(back: _BackToFront, slots: list[int]) -> tuple[int, int, tuple[tuple[int, ...], int]]:
    """The body table's soffset to its vtable, then the vtable in front of it (trailing absent fields omitted).

    Returns the body table's and its vtable's offsets from the end, and the key under which the Builder would
    reuse that vtable: (field entries, object size).
    """
    back.pad(4)
    soffset = back.reserve(4)
    body = back.off
    n = len(slots)
    while n and not slots[n - 1]:
        n -= 1
    body_entries = tuple(body - s if s else 0 for s in slots[:n])
    body_vtable = back.put(struct.pack(f"<{n + 2}H", (n + 2) * 2, body, *body_entries))
    back.fill(soffset, _I32.pack(body_vtable - body))
    return body, body_vtable, (body_entries, body)  # object size = body - 0 (the body is the first object built)


def _add_envelope(back: _BackToFront, tag: MessageType, body: int, body_vtable: int,
                  body_key: tuple[tuple[int, ...], int]) -> int:
    """Envelope { body_type (id 0, ubyte), body (id 1, offset) }: body added first (4 bytes > 1 byte); its
    vtable, or the body's when identical (the Builder reuses an identical earlier vtable). Returns its offset."""
    env_end = back.off
    back.pad(4)
    slot_body = back.put(_U32.pack(back.off + 4 - body))
    slot_type = back.put(bytes((int(tag),)))
    back.pad(4)
    soffset = back.reserve(4)
    env = back.off
    env_entries = (env - slot_type, env - slot_body)
    if (env_entries, env - env_end) == body_key:
        back.fill(soffset, _I32.pack(body_vtable - env))
    else:
        back.fill(soffset, _I32.pack(back.put(struct.pack("<4H", 8, env - env_end, *env_entries)) - env))
    return env


def _value_format(total: int, placed: list[tuple[int, int, str]]) -> tuple[int, str, tuple[int, ...]]:
    """Where the field values start in a ``total``-byte message, the Struct format packing them from there
    (lowest address first: the last field added sits first; gaps are zero pad bytes), and their field indexes
    in that order."""
    values_at = sorted((total - end_from_back, index, code) for end_from_back, index, code in placed)
    first = values_at[0][0] if values_at else 0
    fmt = "<"
    cursor = first
    for at, _index, code in values_at:
        if at > cursor:
            fmt += f"{at - cursor}x"
        fmt += code
        cursor = at + struct.calcsize("<" + code)
    return first, fmt, tuple(index for _, index, _ in values_at)


def encode_scalar(tag: MessageType, msg: Any, identifier: bytes) -> bytes:
    """Encode ``msg`` (attributes named as the schema fields) as an Envelope, byte-identical to Builder."""
    spec = SPECS[tag]
    values = spec.get_values(msg)  # in field id order
    present = tuple(map(ne, values, repeat(0)))  # a default (0) is not written; NaN != 0 is written like Builder
    key = (tag, present, identifier)
    layout = _LAYOUTS.get(key)
    if layout is None:
        layout = _build_layout(tag, spec, present, identifier)
        cache_put(_LAYOUTS, key, layout)
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
#: vtable -> its Reader, or None for a vtable with an OPTIONAL_NON_SCALAR field present (not read here)
READERS: dict[tuple[MessageType, bytes, int], Reader | None] = {}
#: The longest vtable whose reader the decoder keeps: 4 bytes and 2 per field slot. The schema's tables have under
#: 40 fields, so 128 slots leave room for a newer minor's; a longer vtable (a hostile one may be 64 KiB, and it is
#: part of the cache key) is read without being kept.
MAX_CACHED_VTABLE_BYTES = 4 + 2 * 128


def cache_put(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Keep ``value`` under ``key`` in one of the decoder's bounded caches: a full cache (_MAX_LAYOUTS entries) starts
    over, so entries made from a hostile client's buffers can never hold it full for good (a miss costs speed only).
    Shared by threads without a lock: each step is one dict operation."""
    if len(cache) >= _MAX_LAYOUTS:
        cache.clear()
    cache[key] = value


def read_scalar(view: memoryview, pos: int, tag: MessageType) -> tuple[Any, ...] | None:
    """Read a scalar-only table at ``pos`` with bounds checks.

    Returns the values in the order of the message class's fields (``CLASSES[tag](*values)`` builds it);
    absent fields have their default. None when the table has one of its OPTIONAL_NON_SCALAR fields (a Frame
    with planes): the caller reads it with the full verifier.
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
    try:
        reader = READERS[key]
    except KeyError:
        reader = None if _has_optional(spec, key[1]) else _table_reader(spec, key[1], tbl_size)
        if vt_size <= MAX_CACHED_VTABLE_BYTES:
            cache_put(READERS, key, reader)
    return None if reader is None else read_values(spec, reader, view, pos)


def _has_optional(spec: _Spec, vtable: bytes) -> bool:
    """Whether a vtable has one of the table's OPTIONAL_NON_SCALAR fields present (fields of a newer minor
    beyond them are ignored, as everywhere)."""
    nslots = (len(vtable) - 4) // 2
    return any(fid < nslots and struct.unpack_from("<H", vtable, 4 + 2 * fid)[0] for fid in spec.optional_ids)


def read_values(spec: _Spec, reader: Reader, view: memoryview, pos: int) -> tuple[Any, ...]:
    """The values of the table at ``pos`` in class field order, read with ``reader`` (absent: default)."""
    unpack, pick = reader
    return pick(unpack.unpack_from(view, pos) + spec.defaults)


def _table_reader(spec: _Spec, vtable: bytes, tbl_size: int) -> Reader:
    """A Struct reading every present field of a table with this vtable (checked against the table size)."""
    nslots = min((len(vtable) - 4) // 2, spec.nslots)
    offsets = struct.unpack_from(f"<{nslots}H", vtable, 4)
    fields: list[tuple[int, int]] = []  # (table offset, field index)
    for fid in range(nslots):
        field_off = offsets[fid]
        i = spec.index_of.get(fid, -1)  # -1: an OPTIONAL_NON_SCALAR slot (absent here: _has_optional)
        if field_off and i >= 0:
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
