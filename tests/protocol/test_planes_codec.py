"""Frame.planes in the codec (protocol 1.3): round trips, the scalar fast path kept for frames without planes, and
every structural refusal naming its field."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdbridge.errors import FieldError, ProtocolError
from sdbridge.protocol import _scalar, codec
from sdbridge.protocol._generated import bridge_generated as fb
from sdbridge.protocol.codec import DecodeLimits, decode, decode_multipart, encode, encode_frame, plane_parts
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

DEPTH = PlaneDesc(PlaneKind.DEPTH, PlaneFormat.R32_F, 2, 1, 8, depth_encoding=DepthEncoding.DEVICE, reversed_z=True,
                  depth_near=0.25, depth_far=1000.0)


def _frame(*planes: PlaneDesc) -> FrameHeader:
    return FrameHeader(frame_id=9, width=4, height=2, stride=16, pixel_format=PixelFormat.RGBA8, planes=planes)


def _parts(header: FrameHeader) -> list[bytes]:
    return [bytes(p) for p in encode_frame(header, bytes(32), [bytes(p.nbytes) for p in header.planes])]


_U32 = st.integers(1, 64)
PLANES = st.builds(
    PlaneDesc, kind=st.sampled_from([k for k in PlaneKind if k]), format=st.sampled_from([f for f in PlaneFormat if f]),
    width=_U32, height=_U32, stride=st.just(0), row_order=st.sampled_from([RowOrder.TOP_DOWN, RowOrder.BOTTOM_UP]),
    depth_encoding=st.sampled_from(list(DepthEncoding)), reversed_z=st.booleans(),
    depth_near=st.sampled_from([0.0, 0.5, 0.25]), depth_far=st.sampled_from([0.0, 100.0, 1000.0]),
    normal_space=st.sampled_from(list(NormalSpace)), normal_encoding=st.sampled_from(list(NormalEncoding)),
    motion_units=st.sampled_from(list(MotionUnits)), motion_target=st.sampled_from(list(MotionTarget)),
    motion_y_up=st.booleans(), name=st.sampled_from(["", "pose", "lineart"]),
).map(lambda p: dataclasses.replace(p, stride=p.width * p.format.bytes_per_pixel + 3))


@settings(max_examples=300, deadline=None)
@given(st.lists(PLANES, min_size=0, max_size=6))
def test_frames_with_planes_round_trip_through_the_multipart_form(planes: list[PlaneDesc]) -> None:
    header = _frame(*planes)
    data = [bytes([i]) * p.nbytes for i, p in enumerate(planes)]
    parts = [bytes(p) for p in encode_frame(header, bytes(range(32)), data)]
    assert len(parts) == 2 + len(planes)
    got, pixels = decode_multipart(parts)
    assert got == header and pixels is not None and bytes(pixels) == bytes(range(32))
    assert [bytes(v) for v in plane_parts(parts)] == data


def test_a_frame_without_planes_keeps_the_scalar_fast_path_and_one_with_planes_leaves_it() -> None:
    plain, with_planes = encode(_frame()), encode(_frame(DEPTH))
    assert plain == codec.encode_with_builder(_frame(), MessageType.FRAME)  # same bytes as the Builder
    body = fb.Envelope.GetRootAs(with_planes, 0).Body()
    assert body is not None
    assert _scalar.read_scalar(memoryview(with_planes), body.Pos, MessageType.FRAME) is None  # not read there
    plain_body = fb.Envelope.GetRootAs(plain, 0).Body()
    assert plain_body is not None and _scalar.read_scalar(memoryview(plain), plain_body.Pos, MessageType.FRAME)
    assert decode(with_planes).planes == (DEPTH,)  # type: ignore[union-attr]


def _refused(parts: list[Any], limits: DecodeLimits = codec.DEFAULT_LIMITS) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode_multipart(parts, limits)
    return info.value


def test_a_plane_part_of_the_wrong_size_is_refused_naming_the_plane() -> None:
    parts = _parts(_frame(DEPTH))
    parts[2] = parts[2][:-1]
    exc = _refused(parts)
    assert exc.code == ErrorCode.BAD_PIXEL_SIZE and isinstance(exc, FieldError)
    assert exc.field_name == "Frame.planes[0].stride" and "7 bytes" in str(exc) and "2 x" not in str(exc)


def test_missing_or_extra_plane_parts_are_refused() -> None:
    parts = _parts(_frame(DEPTH, DEPTH))
    assert _refused(parts[:3]).code == ErrorCode.BAD_PART_COUNT  # one plane part missing
    assert "4 ZeroMQ parts" in str(_refused(parts[:3]))
    assert _refused([*parts[:2], bytes(8)][:2] + [bytes(8)] * 3).code == ErrorCode.BAD_PART_COUNT  # one too many


def test_too_many_planes_are_refused_at_the_limit() -> None:
    limits = DecodeLimits(max_planes=2)
    ok = _parts(_frame(DEPTH, DEPTH))
    assert decode_multipart(ok, limits)[0].planes == (DEPTH, DEPTH)  # type: ignore[union-attr]
    exc = _refused(_parts(_frame(DEPTH, DEPTH, DEPTH)), limits)  # too many parts: refused before decoding
    assert exc.code == ErrorCode.BAD_PART_COUNT and "at most 2 plane parts" in str(exc)
    header_only = _refused([encode(_frame(DEPTH, DEPTH, DEPTH)), bytes(32)], limits)  # the header alone says so
    assert header_only.code == ErrorCode.TOO_LARGE and getattr(header_only, "field_name", "") == "Frame.planes"


def test_a_plane_larger_than_the_part_limit_is_refused_before_its_bytes_are_read() -> None:
    big = dataclasses.replace(DEPTH, width=64, height=64, stride=256)
    limits = DecodeLimits(max_message_bytes=4096)
    exc = _refused([encode(_frame(big)), bytes(32), bytes(256 * 64)], limits)
    assert exc.code == ErrorCode.TOO_LARGE and "plane part 0" in str(exc)
    header = _refused([encode(_frame(big)), bytes(32), bytes(16)], limits)
    assert header.code == ErrorCode.TOO_LARGE and getattr(header, "field_name", "") == "Frame.planes[0].stride"


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"kind": 99}, "Frame.planes[0].kind", ErrorCode.BAD_PARAM),
    ({"kind": 0}, "Frame.planes[0].kind", ErrorCode.BAD_PARAM),
    ({"format": 77}, "Frame.planes[0].format", ErrorCode.UNSUPPORTED_PIXEL_FORMAT),
    ({"row_order": 0}, "Frame.planes[0].row_order", ErrorCode.BAD_PARAM),
    ({"width": 0}, "Frame.planes[0].width", ErrorCode.BAD_DIMENSION),
    ({"height": 5000}, "Frame.planes[0].height", ErrorCode.TOO_LARGE),
    ({"stride": 7}, "Frame.planes[0].stride", ErrorCode.BAD_PIXEL_SIZE),
])
def test_a_bad_plane_description_is_refused_naming_its_field(change: dict[str, int], field: str,
                                                             code: ErrorCode) -> None:
    raw = dataclasses.replace(DEPTH, **change)  # type: ignore[arg-type]  (raw wire numbers on purpose)
    exc = _refused([encode(_frame(raw)), bytes(32), bytes(8)])
    assert exc.code == code and isinstance(exc, FieldError) and exc.field_name == field, str(exc)


def test_encode_frame_wants_one_buffer_per_plane_of_its_size() -> None:
    with pytest.raises(FieldError, match="1 plane buffers for 2 entries"):
        encode_frame(_frame(DEPTH, DEPTH), bytes(32), [bytes(8)])
    with pytest.raises(FieldError, match=r"has 9 bytes but Frame.planes\[0\]"):
        encode_frame(_frame(DEPTH), bytes(32), [bytes(9)])


def test_descriptions_seen_before_are_reused_only_under_the_same_limits() -> None:
    """A stream's repeated plane descriptions are converted and checked once; tighter limits check them again, and a
    refused description stays refused however often it comes."""
    wide = dataclasses.replace(DEPTH, width=40, stride=160)
    parts = [encode(_frame(wide)), bytes(32), bytes(160)]
    first = decode_multipart(parts, DecodeLimits())[0]
    again = decode_multipart(parts, DecodeLimits())[0]
    assert first.planes == again.planes == (wide,)  # type: ignore[union-attr]
    assert again.planes is first.planes  # type: ignore[union-attr]  (the accepted descriptions, reused)
    narrow = DecodeLimits(max_width=32)
    for _ in range(2):
        exc = _refused(parts, narrow)
        assert exc.code == ErrorCode.TOO_LARGE and getattr(exc, "field_name", "") == "Frame.planes[0].width"
    assert decode_multipart(parts, DecodeLimits())[0].planes == (wide,)  # type: ignore[union-attr]
