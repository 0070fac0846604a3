"""Buffers whose structure was verified before: only their field values are new.

A stream sends the same kind of message with the same present fields again and again, so its buffers
differ only in the field values. When every byte the verifier reads (root offset, identifier, both
vtables, both table headers, the union type and the body offset) lies before the first field value,
a buffer of the same size whose bytes up to that value equal a verified one's passes every check the
same way: its values can be read at once, at the same places. Builders write back to front (the body
table first, so it ends up last), which puts the values last in all three languages.
tests/protocol/test_known_structures.py checks that the decoder says the same with and without this.

`KnownStructures` is that cache, bounded by its constructor's arguments; `KNOWN` is the one `codec.decode`
uses by default, with the bounds declared here (KNOWN_PER_SIZE, MAX_KNOWN_SIZES).
"""

from __future__ import annotations

import struct
from typing import Any

from sdbridge.errors import ConfigError
from sdbridge.protocol._scalar import _HH, _I32, _U32, MAX_REMEMBERED_BYTES, READERS, SPECS, Reader, read_values
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


#: The bounds of the default cache (`KNOWN`), declared once: structures kept per buffer size, and buffer sizes
#: kept before the cache starts over (a miss only costs the full check).
KNOWN_PER_SIZE = 4
MAX_KNOWN_SIZES = 256


class KnownStructures:
    """Verified structures by buffer size (newest first), at most `per_size` per size and `max_sizes` sizes.

    Shared by threads without a lock: a size's list is replaced, never edited, so a reader holding the old one
    sees it whole (two threads remembering at once can only lose an entry, and a miss costs the full check).
    `codec.decode` uses the module's `KNOWN`; pass another instance (or None: every check runs, nothing is
    remembered) as its `known` argument.
    """

    def __init__(self, per_size: int = KNOWN_PER_SIZE, max_sizes: int = MAX_KNOWN_SIZES) -> None:
        """`per_size` >= 1 structures kept per buffer size; `max_sizes` >= 1 sizes before starting over."""
        for name, value in (("per_size", per_size), ("max_sizes", max_sizes)):
            if value < 1:
                raise ConfigError(f"KnownStructures {name}={value} must be >= 1; for a decode that remembers "
                                  f"nothing pass known=None to codec.decode")
        self.per_size = per_size
        self.max_sizes = max_sizes
        self._by_size: dict[int, list[_Known]] = {}

    def read(self, view: memoryview) -> tuple[MessageType, tuple[Any, ...]] | None:
        """(message type, values as ``read_scalar`` returns them) of a buffer whose structure was verified
        before, or None.

        Only the bytes before the first field value are compared; the values themselves are checked by the
        caller as for any decoded message (enums, image limits).
        """
        bucket = self._by_size.get(len(view))
        if bucket is not None:
            for known in bucket:
                if view[:len(known.prefix)] == known.prefix:
                    return known.tag, read_values(known.spec, known.reader, view, known.body)
        return None

    def remember(self, view: memoryview, body: int, tag: MessageType) -> None:
        """Record the structure of a buffer that ``envelope_body`` and ``read_scalar`` just accepted.

        Nothing is recorded when a structural byte lies at or after the first field value (a layout some
        other builder may write), or for a buffer over MAX_REMEMBERED_BYTES: such buffers always take the full check.
        """
        if len(view) > MAX_REMEMBERED_BYTES:
            return
        known = _structure(view, body, tag)
        if known is None:
            return
        size, by_size = len(view), self._by_size
        if size not in by_size and len(by_size) >= self.max_sizes:
            by_size.clear()
        # a new list, not an edit: another thread may be reading the old one (a replaced list stays whole)
        by_size[size] = [known, *by_size.get(size, ())][:self.per_size]

    def held(self) -> dict[int, int]:
        """Buffer size -> structures remembered for it (a copy: for reports and tests)."""
        return {size: len(bucket) for size, bucket in dict(self._by_size).items()}  # a copy: others may write

    def clear(self) -> None:
        """Forget every structure (the next buffer of each takes the full check again)."""
        self._by_size.clear()


def _structure(view: memoryview, body: int, tag: MessageType) -> _Known | None:
    """The structure of an accepted buffer, or None when a structural byte lies at or after the first value
    (or read_scalar cached no reader for it)."""
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
        return None
    reader = READERS.get((tag, bytes(view[vtable:vtable + vt_size]), tbl_size))
    if reader is None:  # read_scalar did not cache it (cache full): no fast path either
        return None
    return _Known(tag, bytes(view[:first_value]), body, reader)


#: The cache `codec.decode` uses unless told otherwise.
KNOWN = KnownStructures()
