"""Buffers whose structure was verified before: only their field values are new.

A stream sends the same kind of message with the same present fields again and again, so its buffers
differ only in the field values. When every byte the verifier reads (root offset, identifier, both
vtables, both table headers, the union type and the body offset) lies before the first field value,
a buffer of the same size whose bytes up to that value equal a verified one's passes every check the
same way: its values can be read at once, at the same places. Builders write back to front (the body
table first, so it ends up last), which puts the values last in all three languages.
tests/protocol/test_known_structures.py checks that the decoder says the same with and without this.
"""

from __future__ import annotations

import struct
from typing import Any

from sdbridge.protocol._scalar import _HH, _I32, _U32, READERS, SPECS, Reader, read_values
from sdbridge.protocol.messages import MessageType


class _Known:
    """A verified structure: the bytes before its first field value, and where the values are read."""

    __slots__ = ("body", "prefix", "reader", "spec", "tag")

    def __init__(self, tag: MessageType, prefix: bytes, body: int, reader: Reader) -> None:
        self.tag = tag
        self.spec = SPECS[tag]
        self.prefix = prefix
        self.body = body
        self.reader = reader


_KNOWN: dict[int, list[_Known]] = {}  # buffer size -> structures of that size, newest first
_KNOWN_PER_SIZE = 4
_MAX_KNOWN_SIZES = 256  # when more sizes were seen, start over (a miss only costs the full check)


def read_known(view: memoryview) -> tuple[MessageType, tuple[Any, ...]] | None:
    """(message type, values as ``read_scalar`` returns them) of a buffer whose structure was verified
    before, or None.

    Only the bytes before the first field value are compared; the values themselves are checked by the
    caller as for any decoded message (enums, image limits).
    """
    bucket = _KNOWN.get(len(view))
    if bucket is not None:
        for known in bucket:
            if view[:len(known.prefix)] == known.prefix:
                return known.tag, read_values(known.spec, known.reader, view, known.body)
    return None


def remember(view: memoryview, body: int, tag: MessageType) -> None:
    """Record the structure of a buffer that ``envelope_body`` and ``read_scalar`` just accepted.

    Nothing is recorded when a structural byte lies at or after the first field value (a layout some
    other builder may write): such buffers always take the full check.
    """
    spec = SPECS[tag]
    size = len(view)
    root = _U32.unpack_from(view, 0)[0]
    env_vtable = root - _I32.unpack_from(view, root)[0]
    env_vt_size, env_tbl_size = _HH.unpack_from(view, env_vtable)
    vtable = body - _I32.unpack_from(view, body)[0]
    vt_size, tbl_size = _HH.unpack_from(view, vtable)
    nslots = min((vt_size - 4) // 2, len(spec.fields))
    offsets = [off for off in struct.unpack_from(f"<{nslots}H", view, vtable + 4) if off]
    first_value = body + min(offsets) if offsets else size
    structure_end = max(8, env_vtable + env_vt_size, root + env_tbl_size, vtable + vt_size, body + 4)
    if structure_end > first_value:
        return
    reader = READERS.get((tag, bytes(view[vtable:vtable + vt_size]), tbl_size))
    if reader is None:  # read_scalar did not cache it (cache full): no fast path either
        return
    if size not in _KNOWN and len(_KNOWN) >= _MAX_KNOWN_SIZES:
        _KNOWN.clear()
    # a new list, not an edit: another thread may be reading the old one (a replaced list stays whole)
    _KNOWN[size] = [_Known(tag, bytes(view[:first_value]), body, reader), *_KNOWN.get(size, ())][:_KNOWN_PER_SIZE]
