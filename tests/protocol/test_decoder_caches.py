"""The decoder's caches keyed by what a client sends stay bounded in entries and in bytes.

The readers of scalar tables and of Frame planes are cached by vtable bytes. A vtable may be up to 64 KiB long,
and a hostile client can send thousands of distinct ones: 5000 distinct 32 KB vtables kept 154 MB (4096 entries)
for good, and a full cache locked every later layout out of it. Now a vtable longer than MAX_CACHED_VTABLE_BYTES is
read without being kept (the same 5000 keep nothing), and a full cache starts over."""

from __future__ import annotations

import struct

from sdbridge.protocol import _scalar
from sdbridge.protocol.messages import MessageType


def _table_with_vtable(slots: int, tbl_size: int = 4) -> tuple[memoryview, int]:
    """A buffer holding a vtable of `slots` absent fields at byte 0 and a table after it; (view, table position)."""
    vt_size = 4 + 2 * slots
    pos = vt_size + (-vt_size % 4)
    buf = bytearray(pos + tbl_size)
    struct.pack_into("<HH", buf, 0, vt_size, tbl_size)
    struct.pack_into("<i", buf, pos, pos)  # soffset from the table back to its vtable
    return memoryview(bytes(buf)), pos


def test_a_long_vtable_is_read_but_not_kept() -> None:
    view, pos = _table_with_vtable(slots=20_000)  # a 40 KB vtable: all fields absent
    before = dict(_scalar.READERS)
    values = _scalar.read_scalar(view, pos, MessageType.FRAME)
    assert values is not None  # read: every field at its default
    assert all(len(key[1]) <= _scalar.MAX_CACHED_VTABLE_BYTES for key in _scalar.READERS)
    assert _scalar.READERS.keys() == before.keys()
    short, short_pos = _table_with_vtable(slots=8)
    assert _scalar.read_scalar(short, short_pos, MessageType.FRAME) == values
    assert len(_scalar.READERS) == len(before) + 1  # a short one is kept


def test_a_full_cache_starts_over() -> None:
    cache: dict[int, int] = {}
    for i in range(_scalar._MAX_LAYOUTS):
        _scalar.cache_put(cache, i, i)
    assert len(cache) == _scalar._MAX_LAYOUTS
    _scalar.cache_put(cache, -1, -1)
    assert cache == {-1: -1}


def test_many_distinct_vtables_keep_the_cache_bounded_in_bytes() -> None:
    for slots in range(1, 6000):  # 6000 distinct vtables from 6 bytes to 12 KB
        view, pos = _table_with_vtable(slots)
        _scalar.read_scalar(view, pos, MessageType.FRAME)
    assert len(_scalar.READERS) <= _scalar._MAX_LAYOUTS
    assert sum(len(key[1]) for key in _scalar.READERS) <= _scalar._MAX_LAYOUTS * _scalar.MAX_CACHED_VTABLE_BYTES
