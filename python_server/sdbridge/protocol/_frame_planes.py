"""Fast path for a Frame with planes (protocol 1.3): its header encoded and read without the Builder / verifier.

A Frame whose ``planes`` vector holds PlaneDesc tables is not scalar-only, so ``_scalar`` leaves it; the
flatbuffers Builder then costs ~0.8 ms per header and the verifier plus the flatc accessors ~0.1 ms, on every
frame of a stream that sends a depth plane. Here, as in ``_scalar``:

- ``encode_frame_planes`` lays the message out once per structure (which fields of the Frame and of each plane
  are present, each plane's name length) exactly as ``flatbuffers.Builder`` does (the names and the planes
  vector first, each table's fields by size descending then id descending, identical vtables shared, the
  Envelope, ``Finish``), and then fills that template with one ``Struct.pack_into`` of the values; the
  bytes are identical to ``codec.encode_with_builder`` (tests/protocol/test_frame_planes_fast_path.py checks
  that on random frames and against the golden files).
- ``read_frame_planes`` reads a Frame with planes with the bounds checks the verifier makes; whenever anything
  is not plainly in bounds it returns None and the caller takes the full verifier, so a malformed message is
  refused with exactly the verifier's error (the tests compare both on mangled buffers).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from operator import ne
from typing import Any

from sdbridge.errors import ProtocolError
from sdbridge.protocol._generated.bridge_schema import TABLES
from sdbridge.protocol._scalar import (
    _I32,
    _U32,
    MAX_CACHED_VTABLE_BYTES,
    MAX_REMEMBERED_BYTES,
    SPECS,
    Reader,
    _BackToFront,
    _Spec,
    _table_reader,
    cache_put,
    read_values,
)
from sdbridge.protocol.messages import ErrorCode, MessageType, PlaneDesc

_FRAME = SPECS[MessageType.FRAME]
#: Frame.planes' field id (a gap among the Frame's scalar ids)
_PLANES_ID = next(f[0] for f in TABLES["Frame"] if f[1] == "planes")
#: PlaneDesc's fields in id order: (id, name, kind, size, struct format); the name (a string) is the last
_PLANE_FIELDS = tuple(f[:5] for f in TABLES["PlaneDesc"])
_PLANE_SCALARS = tuple(f for f in _PLANE_FIELDS if f[2] == "scalar")
_NAME_ID = next(f[0] for f in _PLANE_FIELDS if f[1] == "name")
_PLANE_SLOTS = len(_PLANE_FIELDS)
_FRAME_SLOTS = len(TABLES["Frame"])
#: PlaneDesc's conversions before writing (enums to int, bools, floats; the sizes as given), one definition:
#: codec's Builder encoder uses them too
_CONVERT: dict[str, Any] = {"reversed_z": bool, "motion_y_up": bool, "depth_near": float, "depth_far": float,
                            "width": None, "height": None, "stride": None}
_CONVERTERS = tuple((name, _CONVERT.get(name, int)) for _fid, name, _k, _s, _f in _PLANE_SCALARS)


def plane_values(p: PlaneDesc) -> tuple[Any, ...]:
    """A plane's scalar values in PlaneDesc id order as written on the wire (enums as int, floats, bools)."""
    return tuple(getattr(p, name) if convert is None else convert(getattr(p, name)) for name, convert in _CONVERTERS)


class _Layout:
    """One structure's template bytes and the Struct that packs every value into it at ``offset``."""

    __slots__ = ("consts", "offset", "order", "struct", "template")

    def __init__(self, template: bytes, offset: int, fmt: str, order: tuple[int, ...],
                 consts: tuple[bytes, ...]) -> None:
        self.template = template
        self.offset = offset
        self.struct = struct.Struct(fmt)
        # what each packed item is, lowest address first: i >= 0 the value flat[i], ~i the bytes consts[i] (the
        # structure between two tables' values: a Struct's pad bytes would overwrite it with zeros)
        self.order = order
        self.consts = consts

    def pack(self, flat: Sequence[Any]) -> bytes:
        out = bytearray(self.template)
        consts = self.consts
        self.struct.pack_into(out, self.offset, *[flat[i] if i >= 0 else consts[~i] for i in self.order])
        return bytes(out)


_LAYOUTS: dict[tuple[Any, ...], _Layout] = {}


class _Emulator(_BackToFront):
    """flatbuffers.Builder's steps for strings, tables, offset vectors and Finish, on a back-to-front buffer
    whose field values are left as zeros; records where each value goes (its end, counted from the back)."""

    def __init__(self) -> None:
        super().__init__()
        self.minalign = 1
        self.vtables: dict[tuple[tuple[int, ...], int], int] = {}
        self.values: list[tuple[int, int, str]] = []  # (end from the back, value index, format)

    def prep(self, size: int, extra: int = 0) -> None:
        self.minalign = max(self.minalign, size)
        self.pad(size, extra)

    def value(self, size: int, index: int, fmt: str) -> int:
        self.put(bytes(size))
        self.values.append((self.off, index, fmt))
        return self.off

    def string(self, nbytes: int, index: int) -> int:
        self.prep(4, nbytes + 1)
        self.put(b"\0")
        self.value(nbytes, index, f"{nbytes}s")
        return self.put(_U32.pack(nbytes))

    def uoffset(self, target: int) -> int:
        self.prep(4)
        return self.put(_U32.pack(self.off + 4 - target))

    def table(self, nslots: int, fields: Sequence[tuple[int, int, Any]]) -> int:
        """``fields``: (id, size, (value index, format) or an offset target) in the Builder's add order."""
        start = self.off
        slots = [0] * nslots
        for fid, size, what in fields:
            if isinstance(what, tuple):
                self.prep(size)
                slots[fid] = self.value(size, *what)
            else:
                slots[fid] = self.uoffset(what)
        self.prep(4)
        soffset = self.reserve(4)
        obj = self.off
        n = len(slots)
        while n and not slots[n - 1]:
            n -= 1
        entries = tuple(obj - s if s else 0 for s in slots[:n])
        key = (entries, obj - start)
        vtable = self.vtables.get(key)
        if vtable is None:
            vtable = self.put(struct.pack(f"<{n + 2}H", (n + 2) * 2, obj - start, *entries))
            self.vtables[key] = vtable
        self.fill(soffset, _I32.pack(vtable - obj))
        return obj

    def offset_vector(self, targets: Sequence[int]) -> int:
        self.prep(4, 4 * len(targets))
        for target in reversed(targets):
            self.uoffset(target)
        return self.put(_U32.pack(len(targets)))


def _add_order(fields: Sequence[tuple[int, int, Any]]) -> list[tuple[int, int, Any]]:
    """The canonical add order: size descending, ties by descending id."""
    return sorted(fields, key=lambda f: (-f[1], -f[0]))


def _build(tag: int, frame_present: tuple[bool, ...], planes: tuple[tuple[tuple[bool, ...], int], ...],
           identifier: bytes) -> _Layout:
    """Lay out a Frame with planes as the Builder does; the value indexes follow ``_flat_values``' order."""
    em = _Emulator()
    nframe = len(_FRAME.fields)
    index = nframe
    tables = []
    for present, name_len in planes:
        base, index = index, index + len(_PLANE_SCALARS) + 1
        name = em.string(name_len, base + len(_PLANE_SCALARS)) if name_len else 0
        fields = [(fid, size, (base + i, fmt)) for i, (fid, _n, _k, size, fmt) in enumerate(_PLANE_SCALARS)
                  if present[i]]
        if name:
            fields.append((_NAME_ID, 4, name))
        tables.append(em.table(_PLANE_SLOTS, _add_order(fields)))
    vector = em.offset_vector(tables)
    fields = [(fid, struct.calcsize(fmt), (i, fmt)) for i, (fid, _n, fmt) in enumerate(_FRAME.fields)
              if frame_present[i]]
    body = em.table(_FRAME_SLOTS, _add_order([*fields, (_PLANES_ID, 4, vector)]))
    env = em.table(2, [(1, 4, body), (0, 1, (index, "B"))])
    em.prep(em.minalign, 8)
    em.put(identifier)
    em.uoffset(env)
    total = em.off
    template = em.finished()
    placed = sorted((total - end, i, fmt) for end, i, fmt in em.values)
    first = placed[0][0]
    fmt, cursor = "<", first
    order: list[int] = []
    consts: list[bytes] = []
    for at, i, code in placed:
        gap = template[cursor:at]
        if gap.strip(b"\0"):  # structure between two values: copied as it is
            fmt += f"{len(gap)}s"
            order.append(~len(consts))
            consts.append(gap)
        elif gap:
            fmt += f"{len(gap)}x"
        fmt += code
        order.append(i)
        cursor = at + struct.calcsize("<" + code)
    return _Layout(template, first, fmt, tuple(order), tuple(consts))


def encode_frame_planes(msg: Any, identifier: bytes) -> bytes:
    """A Frame with planes as an Envelope, byte-identical to ``codec.encode_with_builder``."""
    frame_values = _FRAME.get_values(msg)
    planes_flat, planes = _planes_part(msg)
    flat: list[Any] = [*frame_values, *planes_flat, int(MessageType.FRAME)]
    key = (tuple(map(ne, frame_values, (0,) * len(frame_values))), planes, identifier)
    layout = _LAYOUTS.get(key)
    if layout is None:
        layout = _build(int(MessageType.FRAME), key[0], key[1], identifier)
        cache_put(_LAYOUTS, key, layout)
    try:
        return layout.pack(flat)
    except (struct.error, OverflowError, TypeError):
        raise _unfit(frame_values, flat) from None


#: the planes tuple encoded last (held, so compared by identity) and what _planes_part made of it: a client sends
#: the same tuple of immutable PlaneDescs every frame (transport.client_planes), so its values are read once
_LAST_PLANES: tuple[Any, list[Any], tuple[tuple[tuple[bool, ...], int], ...]] | None = None


def _planes_part(msg: Any) -> tuple[list[Any], tuple[tuple[tuple[bool, ...], int], ...]]:
    """The planes' values and names in encoding order, and their structure (which values are set, name length)."""
    global _LAST_PLANES
    last, given = _LAST_PLANES, msg.planes
    if last is not None and last[0] is given:
        return last[1], last[2]
    flat: list[Any] = []
    planes = []
    for p in given:
        try:
            name = _name_bytes(p.name)
            values = plane_values(p)
        except (TypeError, ValueError, AttributeError) as exc:  # worded as codec.encode_with_builder words it
            raise ProtocolError(
                ErrorCode.BAD_PARAM,
                f"cannot encode {type(msg).__name__}: a field has the wrong type or range ({type(exc).__name__}: "
                f"{exc}); check the field types of {type(msg).__name__}",
            ) from exc
        planes.append((tuple(map(ne, values, (0,) * len(values))), len(name)))
        flat += values
        flat.append(name)
    structure = tuple(planes)
    if isinstance(given, tuple):  # immutable (a list could change under the same identity)
        _LAST_PLANES = (given, flat, structure)
    return flat, structure


def _name_bytes(name: Any) -> bytes:
    """A plane name's bytes as ``Builder.CreateString`` takes them (an empty name is not written)."""
    if not name:
        return b""
    if isinstance(name, str):
        return name.encode("utf-8")
    if isinstance(name, bytes):
        return name
    raise TypeError("non-string passed to CreateString")


def _unfit(frame_values: Sequence[Any], flat: Sequence[Any]) -> ProtocolError:
    """The error the Builder raises for the first value that does not fit, in the order it writes them (each
    plane's fields in add order, then the Frame's)."""
    checks: list[tuple[str, str, str, Any]] = []  # (table, field, format, value)
    at = len(frame_values)
    while at < len(flat) - 1:
        values = flat[at:at + len(_PLANE_SCALARS)]
        checks += [("PlaneDesc", _PLANE_SCALARS[i][1], _PLANE_SCALARS[i][4], values[i])
                   for i in _PLANE_ADD_ORDER if values[i] != 0]
        at += len(_PLANE_SCALARS) + 1
    checks += [("Frame", _FRAME.fields[i][1], _FRAME.fields[i][2], frame_values[i])
               for _size, _fid, i, _name, _packer in _FRAME.order if frame_values[i] != 0]
    for table, field, fmt, value in checks:
        try:
            struct.pack("<" + fmt, value)
        except (struct.error, OverflowError, TypeError) as exc:
            return ProtocolError(
                ErrorCode.BAD_PARAM,
                f"cannot encode {table}.{field}={value!r}: it does not fit the wire type ({exc}); "
                "pass a value in the field's range",
            )
    return ProtocolError(ErrorCode.BAD_PARAM, "cannot encode FrameHeader: a field does not fit its wire type")


#: PlaneDesc's scalar indexes in the Builder's add order (size descending, ties by descending id)
_PLANE_ADD_ORDER = tuple(i for i, _f in sorted(enumerate(_PLANE_SCALARS), key=lambda t: (-t[1][3], -t[1][0])))


# ------------------------------------------------------------------------------------------ decode

_PLANE_SPEC = _Spec("PlaneDesc", tuple((fid, name, fmt) for fid, name, _k, _s, fmt in _PLANE_SCALARS), PlaneDesc)
#: (table name, vtable bytes, table size) -> (scalar Reader, offset of the table's vector/string field) or None
#: when the fast path does not read that vtable (the verifier then decides)
_READERS: dict[tuple[str, bytes, int], tuple[Reader, int] | None] = {}
_HH = struct.Struct("<HH")

#: a plane as read: its scalar values in PlaneDesc's field order and its name's bytes (None: no name)
RawPlane = tuple[tuple[Any, ...], bytes | None]


def _reader(view: memoryview, pos: int, spec: _Spec, ref_id: int, need_ref: bool) -> tuple[Reader, int] | None:
    """The cached reader of the table at ``pos`` (None: anything not plainly in bounds, left to the verifier)."""
    size = len(view)
    if pos < 0 or pos + 4 > size:
        return None
    vtable = pos - _I32.unpack_from(view, pos)[0]
    if vtable < 0 or vtable + 4 > size:
        return None
    vt_size, tbl_size = _HH.unpack_from(view, vtable)
    if vt_size < 4 or vt_size % 2 or tbl_size < 4 or vtable + vt_size > size or pos + tbl_size > size:
        return None
    key = (spec.name, bytes(view[vtable:vtable + vt_size]), tbl_size)
    try:
        return _READERS[key]
    except KeyError:
        pass
    vt = key[1]
    ref = struct.unpack_from("<H", vt, 4 + 2 * ref_id)[0] if 4 + 2 * ref_id + 2 <= vt_size else 0
    found: tuple[Reader, int] | None = None
    if (ref or not need_ref) and ref + 4 <= tbl_size:
        try:
            found = (_table_reader(spec, vt, tbl_size), ref)
        except ProtocolError:
            found = None
    if vt_size <= MAX_CACHED_VTABLE_BYTES:
        cache_put(_READERS, key, found)
    return found


def _target(view: memoryview, at: int) -> int:
    """Where the uoffset at ``at`` (in bounds) points; -1 when its target's 4 bytes lie outside the buffer."""
    target = at + _U32.unpack_from(view, at)[0]
    return target if target + 4 <= len(view) else -1


def read_frame_planes(view: memoryview, pos: int,
                      max_items: int) -> tuple[tuple[Any, ...], tuple[RawPlane, ...]] | None:
    """The Frame with planes at ``pos``: its scalar values as ``_scalar.read_scalar`` returns them, and its raw
    planes; None when anything is not plainly in bounds or has more than ``max_items`` planes (the caller then
    runs the verifier, which names the error)."""
    frame = _reader(view, pos, _FRAME, _PLANES_ID, True)
    if frame is None:
        return None
    reader, planes_at = frame
    vector = _target(view, pos + planes_at)
    if vector < 0:
        return None
    count = _U32.unpack_from(view, vector)[0]
    if count > max_items or count * 4 > len(view) - vector - 4:
        return None
    planes = []
    for i in range(count):
        table = _target(view, vector + 4 + 4 * i)
        plane = _read_plane(view, table) if table >= 0 else None
        if plane is None:
            return None
        planes.append(plane)
    return read_values(_FRAME, reader, view, pos), tuple(planes)


def _read_plane(view: memoryview, pos: int) -> RawPlane | None:
    found = _reader(view, pos, _PLANE_SPEC, _NAME_ID, False)
    if found is None:
        return None
    reader, name_at = found
    name = None
    if name_at:
        text = _target(view, pos + name_at)
        if text < 0:
            return None
        length = _U32.unpack_from(view, text)[0]
        end = text + 4 + length
        if end + 1 > len(view) or view[end] != 0:
            return None
        name = bytes(view[text + 4:end])
    return read_values(_PLANE_SPEC, reader, view, pos), name


# ------------------------------------------------------------------------------------------ repeats

class _Seen:
    """An accepted Frame with planes: every byte but its Frame's scalar values, and what those bytes decoded to."""

    __slots__ = ("body", "kept", "limits", "planes", "reader", "struct")

    def __init__(self, kept_fmt: str, kept: tuple[bytes, ...], body: int, reader: Reader, planes: tuple[Any, ...],
                 limits: Any) -> None:
        self.struct = struct.Struct(kept_fmt)  # the buffer's bytes outside the Frame's values, as "Ns" items
        self.kept = kept
        self.body = body
        self.reader = reader
        self.planes = planes
        self.limits = limits


class SeenFrames:
    """Frames with planes accepted before, by buffer size: a buffer equal to one of them in every byte except the
    Frame's own scalar values (frame id, times, sizes...) has the same structure, the same planes and the same
    verdict of every structural check, so only those values are read again (and checked by the caller, as for any
    Frame). A stream sends the same planes every frame, so after its first frame each header skips the verifier, the
    plane tables and their conversion. Bounded like ``_known.KnownStructures``; shared by threads without a lock (a
    size's list is replaced, never edited)."""

    def __init__(self, per_size: int = 4, max_sizes: int = 64) -> None:
        self.per_size = per_size
        self.max_sizes = max_sizes
        self._by_size: dict[int, list[_Seen]] = {}

    def read(self, view: memoryview, limits: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
        """(Frame scalar values as ``read_scalar`` returns them, the accepted PlaneDescs) of a buffer seen before
        under the same ``limits``, or None."""
        bucket = self._by_size.get(len(view))
        if bucket is not None:
            for seen in bucket:
                if seen.limits == limits and seen.struct.unpack_from(view) == seen.kept:
                    return read_values(_FRAME, seen.reader, view, seen.body), seen.planes
        return None

    def remember(self, view: memoryview, body: int, planes: tuple[Any, ...], limits: Any) -> None:
        """Record a buffer whose Frame at ``body`` the fast path just read and the codec accepted with ``planes``
        (not one over MAX_REMEMBERED_BYTES: it always takes the full path)."""
        if len(view) > MAX_REMEMBERED_BYTES:
            return
        found = _reader(view, body, _FRAME, _PLANES_ID, True)
        if found is None:
            return
        vtable = body - _I32.unpack_from(view, body)[0]
        vt_size = _HH.unpack_from(view, vtable)[0]
        nslots = min((vt_size - 4) // 2, _FRAME.nslots)
        offsets = struct.unpack_from(f"<{nslots}H", view, vtable + 4)
        values = sorted((body + offsets[fid], struct.calcsize("<" + _FRAME.fields[i][2]))
                        for fid, i in _FRAME.index_of.items() if fid < nslots and offsets[fid])
        fmt, cursor = "<", 0
        for at, size in values:
            if at < cursor:  # overlapping fields: not what a builder writes; such buffers always take the full path
                return
            fmt += (f"{at - cursor}s" if at > cursor else "") + f"{size}x"
            cursor = at + size
        fmt += f"{len(view) - cursor}s" if len(view) > cursor else ""
        kept_struct = struct.Struct(fmt)
        seen = _Seen(fmt, kept_struct.unpack_from(view), body, found[0], planes, limits)
        size, by_size = len(view), self._by_size
        if size not in by_size and len(by_size) >= self.max_sizes:
            by_size.clear()
        by_size[size] = [seen, *by_size.get(size, ())][:self.per_size]

    def clear(self) -> None:
        """Forget every frame (the next one of each takes the full path again)."""
        self._by_size.clear()


#: the one ``codec.decode`` uses (its ``known=None`` uses and fills none)
SEEN = SeenFrames()
