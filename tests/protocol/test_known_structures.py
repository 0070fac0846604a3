"""The decoder's shortcut for buffers whose structure it verified before agrees with the full check."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings

from sdbridge.errors import ConfigError, ProtocolError
from sdbridge.protocol import _known, _scalar, _verify
from sdbridge.protocol._known import KnownStructures
from sdbridge.protocol.codec import decode, encode
from sdbridge.protocol.messages import FrameHeader, MessageType, PixelFormat, ResultHeader, RowOrder

from .test_scalar_fast_path import MESSAGES


@pytest.fixture
def known() -> KnownStructures:
    """A cache of this test's own (the decoder's default one, `_known.KNOWN`, is left alone)."""
    return KnownStructures()


def _outcome(buf: bytes, known: KnownStructures | None) -> Any:
    """What decode says with `known` (None: every check runs, nothing remembered): the message, or the
    ProtocolError code."""
    try:
        return decode(buf, known=known)
    except ProtocolError as exc:
        return ("refused", exc.code)


def _full_check(buf: bytes) -> Any:
    """What decode says with nothing remembered (every check runs)."""
    return _outcome(buf, None)


def _result(**changes: Any) -> ResultHeader:
    values: dict[str, Any] = dict(frame_id=41, width=512, height=256, stride=2048, pixel_format=PixelFormat.RGBA8,
                                  row_order=RowOrder.TOP_DOWN, session_id=3, capture_time_us=1_700_000_000_000_000,
                                  queue_wait_us=12, inference_us=900, source_frame_id=39, credits_granted=1)
    values.update(changes)
    return ResultHeader(**values)


def test_a_second_buffer_of_the_same_structure_takes_the_shortcut_and_decodes_the_same(
        known: KnownStructures) -> None:
    first, second = encode(_result()), encode(_result(frame_id=42, inference_us=1234, capture_time_us=5))
    assert len(first) == len(second)
    assert known.read(memoryview(second)) is None  # nothing verified yet
    assert decode(first, known=known) == _result()
    assert known.read(memoryview(second)) is not None  # same structure: the shortcut applies
    assert decode(second, known=known) == _result(frame_id=42, inference_us=1234, capture_time_us=5) \
        == _full_check(second)
    assert decode(first, known=None) == _result() and known.held() == {len(first): 1}  # None remembers nothing


@settings(max_examples=300, deadline=None)
@given(MESSAGES, MESSAGES)
def test_any_two_scalar_messages_decode_as_the_full_check_says(first: Any, second: Any) -> None:
    """Whatever was remembered from the first, the second decodes exactly as with nothing remembered."""
    known = KnownStructures()  # one per example (hypothesis runs many examples in one call of the test)
    a, b = encode(first), encode(second)
    assert _outcome(a, known) == _full_check(a)
    assert _outcome(b, known) == _full_check(b)
    assert _outcome(a, known) == _full_check(a)  # and again, now that both are remembered


def test_every_single_byte_change_decodes_as_the_full_check_says() -> None:
    """Flip each byte of a remembered Result in turn (structure and values): the shortcut never accepts
    what the full check refuses, nor reads other values than it does."""
    good = encode(_result())
    taken = 0
    for at in range(len(good)):
        for flip in (0x01, 0x80, 0xFF):
            known = KnownStructures()
            decode(good, known=known)  # remembered, and nothing else
            bad = bytearray(good)
            bad[at] ^= flip
            bad = bytes(bad)
            taken += known.read(memoryview(bad)) is not None
            assert _outcome(bad, known) == _full_check(bad), (at, flip)
    assert taken > 0  # changes inside the values did take the shortcut


def _with_vtable_at_the_end(buf: bytes) -> bytes:
    """The same Frame with its vtable moved behind the table (legal FlatBuffers, not what builders write)."""
    view = memoryview(buf)
    _tag, body = _verify.envelope_body(view)
    vtable = body - struct.unpack_from("<i", buf, body)[0]
    vt_size = struct.unpack_from("<H", buf, vtable)[0]
    moved = bytearray(buf) + b"\0" * (-len(buf) % 2)
    new_vtable = len(moved)
    moved += buf[vtable:vtable + vt_size]
    struct.pack_into("<i", moved, body, body - new_vtable)
    return bytes(moved)


def test_a_structure_behind_the_values_is_never_taken_as_known(known: KnownStructures) -> None:
    """When the vtable sits after the values, equal leading bytes say nothing about it: no shortcut."""
    header = FrameHeader(frame_id=7, width=64, height=32, stride=256, pixel_format=PixelFormat.RGBA8,
                         row_order=RowOrder.TOP_DOWN, session_id=2)
    moved = _with_vtable_at_the_end(encode(header))
    assert decode(encode(header), known=known) == header  # a builder's layout is remembered ...
    assert known.held() == {len(encode(header)): 1}
    assert decode(moved, known=known) == header  # ... the moved one is not
    assert known.read(memoryview(moved)) is None and len(moved) not in known.held()
    # a different height slot in that trailing vtable: only the full check reads it, and it does
    changed = bytearray(moved)
    _tag, body = _verify.envelope_body(memoryview(moved))
    vtable = body - struct.unpack_from("<i", moved, body)[0]
    width_slot, height_slot = vtable + 4 + 2 * 3, vtable + 4 + 2 * 4
    changed[height_slot:height_slot + 2] = changed[width_slot:width_slot + 2]
    got = decode(bytes(changed), known=known)
    assert isinstance(got, FrameHeader) and got.height == 64 == got.width


def test_the_cache_stays_bounded() -> None:
    small = KnownStructures(per_size=2, max_sizes=3)
    optional = ("session_id", "capture_time_us", "queue_wait_us", "inference_us", "source_frame_id", "credits_granted")
    sizes, fullest = set(), 0
    for mask in range(1 << len(optional)):  # each set of present fields is its own structure
        buf = encode(_result(**{name: 0 for i, name in enumerate(optional) if mask >> i & 1}))
        sizes.add(len(buf))
        assert decode(buf, known=small) == _full_check(buf)
        held = small.held()
        assert len(held) <= 3 and all(count <= 2 for count in held.values())
        fullest = max(fullest, *held.values())
    assert len(sizes) > 3  # the bound on sizes was reached and the cache started over
    assert fullest == 2  # and the bound per size was reached too
    assert _known.KNOWN.per_size == _known.KNOWN_PER_SIZE and _known.KNOWN.max_sizes == _known.MAX_KNOWN_SIZES
    for bad in ({"per_size": 0}, {"max_sizes": 0}):
        with pytest.raises(ConfigError, match=f"{next(iter(bad))}=0 must be >= 1; .* pass known=None"):
            KnownStructures(**bad)


def test_image_header_enums_sit_at_the_same_places_in_frame_and_result() -> None:
    import dataclasses

    frame = [f.name for f in dataclasses.fields(FrameHeader)]
    result = [f.name for f in dataclasses.fields(ResultHeader)]
    assert frame[-1] == "planes"  # not a scalar: last, so the fast path builds a header positionally without it
    common = frame.index("send_time_us") + 1  # Frame.scene_cut (protocol 1.4) follows the fields both headers have
    assert result[:common] == frame[:common]  # the decoder maps the enums of both by the same positions
    assert MessageType.FRAME in _scalar.CLASSES and _scalar.CLASSES[MessageType.RESULT] is ResultHeader


def _padded(buf: bytes, extra: int) -> bytes:
    """`buf` with `extra` junk bytes between its 8-byte preamble and its tables (the root offset moved past them):
    the same message, a buffer whose bytes before the first value (what the caches copy) are mostly junk."""
    root = struct.unpack_from("<I", buf, 0)[0]
    return struct.pack("<I", root + extra) + buf[4:8] + bytes(extra) + buf[8:]


def test_a_buffer_over_the_remembered_size_decodes_but_is_not_kept(known: KnownStructures) -> None:
    """Each remembered layout holds a copy of most of its buffer: a client sending padded headers of many sizes kept
    up to 256 sizes x 4 x 256 KiB alive. Over MAX_REMEMBERED_BYTES a buffer always takes the full check."""
    header = FrameHeader(frame_id=7, width=64, height=32, stride=256, pixel_format=PixelFormat.RGBA8)
    small = _padded(encode(header), 64)
    assert decode(small, known=known) == header and len(small) in known.held()  # padding alone is remembered
    large = _padded(encode(header), _scalar.MAX_REMEMBERED_BYTES)
    assert decode(large, known=known) == header
    assert len(large) not in known.held() and decode(large, known=known) == header
