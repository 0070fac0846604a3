"""sdbridge.runtime.planes: the server's checks of a Frame's planes and their numpy views."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sdbridge.errors import FieldError
from sdbridge.protocol.messages import (
    DepthEncoding,
    ErrorCode,
    MotionTarget,
    MotionUnits,
    NormalEncoding,
    NormalSpace,
    PlaneDesc,
    PlaneFormat,
    PlaneKind,
    RowOrder,
)
from sdbridge.runtime import planes

DEPTH = PlaneDesc(PlaneKind.DEPTH, PlaneFormat.R32_F, 3, 2, 16, depth_encoding=DepthEncoding.LINEAR, depth_near=0.1,
                  depth_far=100.0)
NORMALS = PlaneDesc(PlaneKind.NORMALS, PlaneFormat.RGBA8, 3, 2, 12, normal_space=NormalSpace.VIEW,
                    normal_encoding=NormalEncoding.UNSIGNED)
MOTION = PlaneDesc(PlaneKind.MOTION, PlaneFormat.RG16_F, 3, 2, 12, motion_units=MotionUnits.PIXELS,
                   motion_target=MotionTarget.PREVIOUS)
IDS = PlaneDesc(PlaneKind.SEGMENTATION, PlaneFormat.R16_UI, 3, 2, 6)


def _wire(values: np.ndarray, stride: int) -> bytes:
    """Rows of `values` padded to `stride` bytes (what a client sends)."""
    rows = values.reshape(values.shape[0], -1).view(np.uint8)
    return b"".join(row.tobytes() + bytes(stride - row.nbytes) for row in rows)


def test_a_strided_depth_plane_becomes_a_read_only_view_of_the_part() -> None:
    depth = np.arange(6, dtype="<f4").reshape(2, 3)
    part = bytearray(_wire(depth, 16))
    (plane,) = planes.from_wire([DEPTH], [memoryview(part)])
    assert plane.kind is PlaneKind.DEPTH and plane.desc is DEPTH
    np.testing.assert_array_equal(plane.array, depth)
    assert not plane.array.flags.writeable
    part[0:4] = np.float32(42).tobytes()  # a view, not a copy
    assert plane.array[0, 0] == 42


def test_bottom_up_rows_read_top_down_and_channels_get_their_own_axis() -> None:
    mv = np.arange(12, dtype="<f2").reshape(2, 3, 2)
    desc = dataclasses.replace(MOTION, row_order=RowOrder.BOTTOM_UP)
    (plane,) = planes.from_wire([desc], [_wire(mv, 12)])
    assert plane.array.shape == (2, 3, 2)
    np.testing.assert_array_equal(plane.array, mv[::-1])


@pytest.mark.parametrize("fmt", list(planes.FORMATS))
def test_every_format_reads_back_its_values(fmt: PlaneFormat) -> None:
    layout = planes.FORMATS[fmt]
    assert layout.dtype.itemsize * layout.channels == fmt.bytes_per_pixel
    values = (np.arange(2 * 3 * layout.channels) % 200).astype(layout.dtype).reshape(2, 3, layout.channels)
    desc = PlaneDesc(PlaneKind.CONTROL, fmt, 3, 2, fmt.bytes_per_pixel * 3 + 2)
    array = planes.to_array(desc, _wire(values, desc.stride))
    np.testing.assert_array_equal(array, values[:, :, 0] if layout.channels == 1 else values)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_depth_is_refused_naming_the_plane(bad: float) -> None:
    depth = np.ones((2, 3), dtype="<f4")
    assert planes.from_wire([DEPTH], [_wire(depth, 16)])  # finite: accepted
    depth[1, 2] = bad
    with pytest.raises(FieldError) as info:
        planes.from_wire([IDS, DEPTH], [bytes(12), _wire(depth, 16)])
    assert info.value.field_name == "Frame.planes[1]" and "1 NaN or infinite values of 6" in str(info.value)


def test_float16_planes_are_checked_by_their_exponent_bits_exactly_as_isfinite() -> None:
    every = np.arange(2**16, dtype=np.uint32).astype("<u2").view("<f2").reshape(256, 256)  # every bit pattern
    desc = PlaneDesc(PlaneKind.DEPTH, PlaneFormat.R16_F, 256, 256, 2 * 256 + 6, depth_encoding=DepthEncoding.LINEAR,
                     depth_near=0.1, depth_far=100.0)
    with pytest.raises(FieldError) as info:
        planes.from_wire([desc], [_wire(every, desc.stride)])
    assert f"{2**16 - int(np.isfinite(every).sum())} NaN or infinite values of {2**16}" in str(info.value)
    finite = np.where(np.isfinite(every), every, np.float16(65504.0))  # largest finite, subnormals, -0 kept
    assert planes.from_wire([desc], [_wire(finite, desc.stride)])
    for bad in (0x7C00, 0xFC00, 0x7C01, 0x7E00, 0xFFFF):  # +inf, -inf, a signalling and a quiet NaN, -NaN
        one = finite.copy()
        one.view("<u2")[200, 17] = bad
        with pytest.raises(FieldError, match="1 NaN or infinite values"):
            planes.from_wire([desc], [_wire(one, desc.stride)])


@pytest.mark.parametrize(("desc", "field", "words"), [
    (dataclasses.replace(DEPTH, format=PlaneFormat.RGBA8, stride=12), "Frame.planes[0].format", "R16_F, R32_F"),
    (dataclasses.replace(DEPTH, depth_encoding=DepthEncoding.UNKNOWN), "Frame.planes[0].depth_encoding", "Linear"),
    (dataclasses.replace(DEPTH, depth_encoding=DepthEncoding.DEVICE, depth_near=0.0), "Frame.planes[0].depth_near",
     "near plane"),
    (dataclasses.replace(DEPTH, depth_far=0.05), "Frame.planes[0].depth_far", "greater than depth_near"),
    (dataclasses.replace(DEPTH, depth_near=float("nan")), "Frame.planes[0].depth_near", "finite"),
    (dataclasses.replace(NORMALS, normal_space=NormalSpace.UNKNOWN), "Frame.planes[0].normal_space", "View or World"),
    (dataclasses.replace(NORMALS, normal_encoding=NormalEncoding.SIGNED), "Frame.planes[0].normal_encoding",
     "Unsigned"),
    (dataclasses.replace(MOTION, motion_target=MotionTarget.UNKNOWN), "Frame.planes[0].motion_units", "Previous"),
    (dataclasses.replace(IDS, format=PlaneFormat.R16_F), "Frame.planes[0].format", "R16_UI"),
])
def test_a_plane_a_consumer_could_not_read_is_refused_naming_the_field(desc: PlaneDesc, field: str,
                                                                      words: str) -> None:
    with pytest.raises(FieldError) as info:
        planes.from_wire([desc], [bytes(desc.nbytes)])
    assert info.value.field_name == field and words in str(info.value), str(info.value)


def test_a_kind_sent_twice_is_refused_but_several_control_images_are_not() -> None:
    with pytest.raises(FieldError) as info:
        planes.from_wire([IDS, IDS], [bytes(12), bytes(12)])
    assert info.value.field_name == "Frame.planes[1].kind" and "repeats Frame.planes[0]" in str(info.value)
    assert info.value.code == ErrorCode.BAD_PARAM
    pose = PlaneDesc(PlaneKind.CONTROL, PlaneFormat.RGBA8, 3, 2, 12, name="pose")
    both = planes.from_wire([pose, dataclasses.replace(pose, name="lineart")], [bytes(24), bytes(24)])
    assert [p.desc.name for p in both] == ["pose", "lineart"]


@pytest.mark.parametrize(("fmt", "unsigned"), [(PlaneFormat.R16_F, "<u2"), (PlaneFormat.R32_F, "<u4")])
def test_the_finite_check_agrees_with_isfinite_on_every_class_of_value(fmt: PlaneFormat, unsigned: str) -> None:
    """The one-pass test for planes of non-negative values must not let through what isfinite refuses, nor refuse
    what it accepts: zeros of both signs, subnormals, the largest finite value, negatives, infinities and NaNs
    (quiet, signalling, negative), each alone in a plane of ordinary depths and in a bottom-up, padded one."""
    dtype = planes.FORMATS[fmt].dtype
    info = np.finfo(dtype)
    specials = [0.0, -0.0, float(info.smallest_subnormal), float(info.max), -1.5, float(-info.max),
                np.inf, -np.inf, np.nan]
    bits = {"<u2": [0x7C01, 0x7E00, 0xFFFF], "<u4": [0x7F80_0001, 0x7FC0_0000, 0xFFFF_FFFF]}[unsigned]
    values = [np.array(v, dtype=dtype) for v in specials] + [np.array(b, dtype=unsigned).view(dtype) for b in bits]
    for rows in (RowOrder.TOP_DOWN, RowOrder.BOTTOM_UP):
        desc = PlaneDesc(PlaneKind.DEPTH, fmt, 5, 4, 5 * dtype.itemsize + 4, row_order=rows,
                         depth_encoding=DepthEncoding.LINEAR, depth_near=0.1, depth_far=100.0)
        for value in values:
            plane = np.full((4, 5), 7.25, dtype=dtype)
            plane[2, 3] = value
            wire = _wire(plane, desc.stride)
            if np.isfinite(value):
                (got,) = planes.from_wire((desc,), [wire])
                np.testing.assert_array_equal(got.array[::-1] if rows is RowOrder.BOTTOM_UP else got.array, plane)
            else:
                with pytest.raises(FieldError, match="1 NaN or infinite values of 20"):
                    planes.from_wire((desc,), [wire])


def test_a_stream_s_unchanged_descriptions_are_checked_once_and_any_other_tuple_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[PlaneDesc] = []
    real = planes.check_plane
    monkeypatch.setattr(planes, "check_plane", lambda desc, where: (checked.append(desc), real(desc, where))[1])
    good = (dataclasses.replace(DEPTH, depth_far=99.0),)  # a tuple no other test handed over
    depth = _wire(np.ones((2, 3), dtype="<f4"), 16)
    for _ in range(3):  # the codec hands the same tuple object back for each frame of a stream
        planes.from_wire(good, [depth])
    assert checked == [good[0]]
    bad = (dataclasses.replace(good[0], depth_far=0.01),)  # a new tuple is checked, even right after a good one
    with pytest.raises(FieldError, match="depth_far"):
        planes.from_wire(bad, [depth])
    with pytest.raises(FieldError, match="depth_far"):
        planes.from_wire(bad, [depth])  # a refused tuple is never remembered
    planes.from_wire(list(good), [depth])  # a list (mutable) is always checked
    assert checked == [good[0], bad[0], bad[0], good[0]]
