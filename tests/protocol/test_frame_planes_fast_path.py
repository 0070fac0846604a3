"""The fast path for Frames with planes (_frame_planes) is byte-identical to flatbuffers.Builder, reads what the
verifier and the flatc accessors read, and refuses every mangled buffer with the verifier's own error."""

from __future__ import annotations

import dataclasses
import glob
import inspect
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdbridge.errors import ProtocolError
from sdbridge.protocol import _frame_planes, _scalar, _verify, codec
from sdbridge.protocol._generated import bridge_generated as fb
from sdbridge.protocol._generated.bridge_schema import TABLES
from sdbridge.protocol.messages import (
    DepthEncoding,
    ErrorCode,
    FrameHeader,
    MessageType,
    MotionTarget,
    MotionUnits,
    NormalEncoding,
    NormalSpace,
    PixelFormat,
    PlaneDesc,
    PlaneFormat,
    PlaneKind,
    RowOrder,
)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_PLANES = sorted(p for p in glob.glob(str(ROOT / "schemas/golden/frame_*plane*.bin"))
                       if ".plane" not in Path(p).name and ".pixels" not in Path(p).name)
_FORMAT_OF_PREPEND = {"Bool": "?", "Uint8": "B", "Uint32": "I", "Float32": "f"}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def test_golden_files_with_planes_are_found() -> None:
    assert len(GOLDEN_PLANES) >= 7 and any("scene_cut_planes" in p for p in GOLDEN_PLANES)


def test_plane_values_follow_the_generated_code() -> None:
    """plane_values' order is PlaneDesc's id order with the generated Add functions' wire types."""
    scalars = [f for f in TABLES["PlaneDesc"] if f[2] == "scalar"]
    plane = PlaneDesc(kind=PlaneKind.DEPTH, format=PlaneFormat.R16_F, width=1, height=2, stride=3, depth_near=0.5)
    assert len(_frame_planes.plane_values(plane)) == len(scalars)
    for (fid, name, _kind, _size, fmt, _ref), value in zip(scalars, _frame_planes.plane_values(plane), strict=True):
        src = inspect.getsource(getattr(fb, f"PlaneDescAdd{_camel(name)}"))
        m = re.search(r"Prepend(\w+?)Slot\((\d+),", src)
        assert m is not None and int(m.group(2)) == fid and _FORMAT_OF_PREPEND[m.group(1)] == fmt, name
        assert value == getattr(plane, name)


@pytest.mark.parametrize("path", GOLDEN_PLANES, ids=lambda p: Path(p).stem)
def test_golden_frames_with_planes_take_the_fast_paths_and_keep_their_bytes(path: str) -> None:
    raw = Path(path).read_bytes()
    view = memoryview(raw)
    _tag, body = _verify.envelope_body(view)
    assert _frame_planes.read_frame_planes(view, body, codec.DEFAULT_LIMITS.max_list_items) is not None
    msg = codec.decode(raw)
    assert isinstance(msg, FrameHeader) and msg.planes
    assert msg == codec.decode_verified(view, body, MessageType.FRAME, codec.DEFAULT_LIMITS)
    assert _frame_planes.encode_frame_planes(msg, codec.FILE_IDENTIFIER) == raw
    assert codec.encode(msg) == raw == codec.encode_with_builder(msg, MessageType.FRAME)


def _maybe_zero(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(0), strategy)  # zeros are left out of the buffer: exercise every layout


U32 = _maybe_zero(st.integers(1, 2**32 - 1))
U64 = _maybe_zero(st.integers(1, 2**64 - 1))
F32 = st.one_of(st.just(0.0), st.just(-0.0), st.integers(-(2**20), 2**20).map(lambda i: i / 8.0))
NAMES = st.one_of(st.just(""), st.text(max_size=9), st.sampled_from(["pose", "canny", "héllo", "深度"]))


ANY_KIND = st.sampled_from(list(PlaneKind))
ANY_FORMAT = st.sampled_from(list(PlaneFormat))


def _plane(kinds: st.SearchStrategy[Any] = ANY_KIND,
           formats: st.SearchStrategy[Any] = ANY_FORMAT) -> st.SearchStrategy[PlaneDesc]:
    return st.builds(
        PlaneDesc, kind=kinds, format=formats, width=U32, height=U32, stride=U32,
        row_order=st.sampled_from(list(RowOrder)), depth_encoding=st.sampled_from(list(DepthEncoding)),
        reversed_z=st.booleans(), depth_near=F32, depth_far=F32, normal_space=st.sampled_from(list(NormalSpace)),
        normal_encoding=st.sampled_from(list(NormalEncoding)), motion_units=st.sampled_from(list(MotionUnits)),
        motion_target=st.sampled_from(list(MotionTarget)), motion_y_up=st.booleans(), name=NAMES)


def _frames(planes: st.SearchStrategy[PlaneDesc]) -> st.SearchStrategy[FrameHeader]:
    return st.builds(
        FrameHeader, session_id=U64, stream_id=U32, frame_id=U64, width=U32, height=U32, stride=U32,
        pixel_format=st.sampled_from(list(PixelFormat)), row_order=st.sampled_from(list(RowOrder)),
        capture_time_us=U64, send_time_us=U64, scene_cut=st.booleans(),
        planes=st.lists(planes, min_size=1, max_size=4).map(tuple))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_frames(_plane()))
def test_fast_encoding_equals_the_builder_and_reads_what_the_accessors_read(msg: FrameHeader) -> None:
    fast = codec.encode(msg)
    assert fast == codec.encode_with_builder(msg, MessageType.FRAME)
    view = memoryview(fast)
    _verify.verify_envelope(view)
    _tag, body = _verify.envelope_body(view)
    read = _frame_planes.read_frame_planes(view, body, codec.DEFAULT_LIMITS.max_list_items)
    assert read is not None
    values, planes = read
    assert values == tuple(getattr(msg, f) for f in codec._FRAME_CLASS_FIELDS)
    assert [name or b"" for _v, name in planes] == [p.name.encode() for p in msg.planes]
    assert [v for v, _name in planes] == [tuple(struct.unpack("<f", struct.pack("<f", x))[0] if isinstance(x, float)
                                                 else x for x in _frame_planes.plane_values(p)) for p in msg.planes]
    assert _outcome(lambda: codec.decode(fast, known=None)) == _outcome(lambda: _reference(fast))


@settings(max_examples=300, deadline=None)
@given(_frames(_plane()), st.integers(0, 3), st.sampled_from(["width", "stride", "depth_near", "kind", "name"]),
       st.sampled_from([-1, 2**32, 1e300, "x", None, b"\xff"]))
def test_values_that_do_not_fit_are_refused_like_the_builder(msg: FrameHeader, at: int, field: str,
                                                             bad: Any) -> None:
    planes = list(msg.planes)
    i = at % len(planes)
    planes[i] = dataclasses.replace(planes[i], **{field: bad})
    msg.planes = tuple(planes)
    fast = _outcome(lambda: codec.encode(msg))
    builder = _outcome(lambda: codec.encode_with_builder(msg, MessageType.FRAME))
    if isinstance(builder, tuple):  # the same code naming the same field and value (the wire library's words
        assert fast[:2] == builder[:2] and fast[2].split(" (")[0] == builder[2].split(" (")[0]  # in brackets differ)
    else:
        assert fast == builder


def _reference(raw: bytes) -> Any:
    """decode without the planes fast path: its checks before the body and the scalar reader's (a Frame's vtable),
    then the full verifier and the flatc accessors."""
    view = memoryview(raw)
    limit = min(codec.DEFAULT_LIMITS.max_header_bytes, codec.DEFAULT_LIMITS.max_message_bytes)
    if len(raw) > limit or len(raw) < 8 or bytes(view[4:8]) != codec.FILE_IDENTIFIER:
        return codec.decode(raw, known=None)
    tag, body = _verify.envelope_body(view)
    if tag != MessageType.FRAME or body < 0 or _scalar.read_scalar(view, body, MessageType.FRAME) is not None:
        return codec.decode(raw, known=None)  # not a Frame with planes (any more): not this path
    return codec.decode_verified(view, body, MessageType.FRAME, codec.DEFAULT_LIMITS)


def _outcome(call: Any) -> Any:
    """A call's result, or the code and text of the ProtocolError it raised (the error's class for others)."""
    try:
        return call()
    except ProtocolError as exc:
        return ("refused", exc.code, str(exc))
    except Exception as exc:  # compared, not hidden: both paths must fail the same way
        return ("raised", type(exc).__name__)


_MANGLED = settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_MANGLED
@given(_frames(_plane(st.sampled_from([PlaneKind.DEPTH, PlaneKind.CONTROL]), st.just(PlaneFormat.R16_F))),
       st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=6))
def test_mangled_frames_with_planes_decode_to_the_verifiers_errors(msg: FrameHeader,
                                                                   edits: list[tuple[int, int]]) -> None:
    """Hostile bytes anywhere (offsets, vtables, vector counts, names): the fast reader reads what the accessors
    read after the verifier, or leaves it to the verifier, which then names the same error."""
    raw = bytearray(codec.encode(msg))
    for at, value in edits:
        raw[at % len(raw)] = value
    mangled = bytes(raw)
    assert _outcome(lambda: codec.decode(mangled, known=None)) == _outcome(lambda: _reference(mangled))


@settings(max_examples=300, deadline=None)
@given(_frames(_plane()), st.integers(0, 200))
def test_truncated_frames_with_planes_are_refused_as_the_verifier_refuses_them(msg: FrameHeader, cut: int) -> None:
    raw = codec.encode(msg)
    short = raw[:max(8, len(raw) - 1 - cut % len(raw))]
    assert _outcome(lambda: codec.decode(short, known=None)) == _outcome(lambda: _reference(short))


def test_a_forged_plane_count_falls_back_to_the_verifier_and_is_refused() -> None:
    """Proves the mangling test can fail: a count past the buffer is what the fast reader must not trust."""
    msg = FrameHeader(frame_id=1, width=4, height=4, stride=16, pixel_format=PixelFormat.RGBA8,
                      planes=(PlaneDesc(kind=PlaneKind.DEPTH, format=PlaneFormat.R16_F, width=4, height=4, stride=8),))
    raw = bytearray(codec.encode(msg))
    view = memoryview(raw)
    _tag, body = _verify.envelope_body(view)
    vtable = body - struct.unpack_from("<i", raw, body)[0]
    planes_at = body + struct.unpack_from("<H", raw, vtable + 4 + 2 * 12)[0]
    vector = planes_at + struct.unpack_from("<I", raw, planes_at)[0]
    struct.pack_into("<I", raw, vector, 64)  # more entries than the buffer holds, fewer than max_list_items
    view = memoryview(bytes(raw))
    assert _frame_planes.read_frame_planes(view, body, codec.DEFAULT_LIMITS.max_list_items) is None
    got = _outcome(lambda: codec.decode(bytes(raw), known=None))
    assert got[:2] in {("refused", ErrorCode.TRUNCATED), ("refused", ErrorCode.TOO_LARGE)}
    assert got == _outcome(lambda: _reference(bytes(raw)))


_SMALL = st.integers(1, 64)
_VALID_FRAMES = st.builds(
    FrameHeader, session_id=U64, frame_id=U64, width=_SMALL, height=_SMALL, stride=st.just(256),
    pixel_format=st.just(PixelFormat.RGBA8), capture_time_us=U64, send_time_us=U64, scene_cut=st.booleans(),
    planes=st.lists(st.builds(PlaneDesc, kind=st.sampled_from([PlaneKind.DEPTH, PlaneKind.CONTROL]),
                              format=st.just(PlaneFormat.R16_F), width=_SMALL, height=_SMALL, stride=st.just(130),
                              depth_encoding=st.sampled_from(list(DepthEncoding)), depth_near=F32, depth_far=F32,
                              name=NAMES), min_size=1, max_size=3).map(tuple))


@_MANGLED
@given(_VALID_FRAMES, st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=6))
def test_a_mangled_repeat_of_an_accepted_frame_decodes_as_the_verifier_decides(
        msg: FrameHeader, edits: list[tuple[int, int]]) -> None:
    """After a Frame with planes was accepted (and remembered: _frame_planes.SEEN), a buffer of its size with hostile
    bytes anywhere decodes to what the verifier path says: only the Frame's own values may differ for a repeat."""
    raw = codec.encode(msg)
    assert codec.decode(raw) == msg  # accepted, and so remembered
    assert _frame_planes.SEEN.read(memoryview(raw), codec.DEFAULT_LIMITS) is not None
    mangled = bytearray(raw)
    for at, value in edits:
        mangled[at % len(mangled)] = value
    assert _outcome(lambda: codec.decode(bytes(mangled))) == _outcome(lambda: _reference(bytes(mangled)))


def test_a_repeat_reads_the_new_frame_values_and_reuses_only_identical_planes() -> None:
    depth = PlaneDesc(PlaneKind.DEPTH, PlaneFormat.R16_F, 4, 4, 8, depth_encoding=DepthEncoding.LINEAR, depth_far=50.0)
    first = FrameHeader(frame_id=1, width=4, height=4, stride=16, pixel_format=PixelFormat.RGBA8, planes=(depth,),
                        capture_time_us=10, send_time_us=11)
    decoded = codec.decode(codec.encode(first))
    later = dataclasses.replace(first, frame_id=2, capture_time_us=20, send_time_us=21)
    again = codec.decode(codec.encode(later))
    assert again == later and again.planes is decoded.planes  # type: ignore[union-attr]  (a repeat: reused)
    farther = dataclasses.replace(later, planes=(dataclasses.replace(depth, depth_far=60.0),))
    other = codec.decode(codec.encode(farther))  # same size, one plane value changed: not a repeat
    assert other == farther and other.planes is not decoded.planes  # type: ignore[union-attr]
    assert codec.decode(codec.encode(later), known=None) == later  # known=None: nothing remembered is used
    tight = codec.DecodeLimits(max_width=3)  # other limits: checked again, and refused
    with pytest.raises(ProtocolError) as refused:
        codec.decode(codec.encode(later), tight)
    assert refused.value.code == ErrorCode.TOO_LARGE


def test_a_frame_with_planes_over_the_remembered_size_is_not_kept() -> None:
    """The repeat cache keeps a copy of nearly every byte of each Frame it remembers; a header over
    MAX_REMEMBERED_BYTES (here padded after its preamble) decodes by the full path and is not kept."""
    depth = PlaneDesc(PlaneKind.DEPTH, PlaneFormat.R16_F, 4, 4, 8, depth_encoding=DepthEncoding.LINEAR, depth_far=50.0)
    frame = FrameHeader(frame_id=3, width=4, height=4, stride=16, pixel_format=PixelFormat.RGBA8, planes=(depth,))
    raw = codec.encode(frame)
    root = struct.unpack_from("<I", raw, 0)[0]
    extra = _scalar.MAX_REMEMBERED_BYTES
    padded = struct.pack("<I", root + extra) + raw[4:8] + bytes(extra) + raw[8:]
    assert codec.decode(padded) == frame
    assert _frame_planes.SEEN.read(memoryview(padded), codec.DEFAULT_LIMITS) is None
    assert codec.decode(raw) == frame and _frame_planes.SEEN.read(memoryview(raw), codec.DEFAULT_LIMITS) is not None


def test_the_planes_encoded_last_are_reused_only_for_the_same_tuple() -> None:
    depth = PlaneDesc(PlaneKind.DEPTH, PlaneFormat.R16_F, 8, 4, 16, depth_encoding=DepthEncoding.LINEAR,
                      depth_near=0.25, depth_far=80.0)
    planes = (depth,)
    frame = FrameHeader(frame_id=1, width=8, height=4, stride=32, pixel_format=PixelFormat.RGBA8, planes=planes)
    for msg in (frame, dataclasses.replace(frame, frame_id=2, width=9, stride=36),  # the same tuple, other values
                dataclasses.replace(frame, planes=(dataclasses.replace(depth, depth_near=0.5),)),  # an equal-shaped one
                dataclasses.replace(frame, planes=(dataclasses.replace(depth, name="x"),))):
        assert codec.encode(msg) == codec.encode_with_builder(msg, MessageType.FRAME)
    as_list: Any = [depth]  # a list may change under the same identity: never reused
    listed = dataclasses.replace(frame, planes=as_list)
    assert codec.encode(listed) == codec.encode_with_builder(listed, MessageType.FRAME)
    as_list[0] = dataclasses.replace(depth, depth_far=90.0)
    assert codec.encode(listed) == codec.encode_with_builder(listed, MessageType.FRAME)
