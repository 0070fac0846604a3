"""A Frame's auxiliary planes on the server (protocol 1.3): numpy views of the wire parts, with their descriptions.

A client that negotiated Capability PLANES may send, after a Frame's colour pixels, one ZeroMQ part per entry of
``Frame.planes`` (depth, normals, segmentation ids, motion vectors, control images; schemas/bridge.fbs documents
each convention). The codec has checked the count, sizes and strides (``codec.validate_planes``); ``from_wire``
checks what only the server cares about (the format suits the kind, the semantics a consumer needs are set, no
plane kind twice, float planes hold finite numbers) and wraps each part as a read-only numpy array without
copying it. The arrays reach the worker in ``FrameJob.planes``, which turns them into the served ControlNets'
control images (sdbridge.runtime.control_inputs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

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

__all__ = ["FORMATS", "KIND_FORMATS", "Plane", "PlaneLayout", "check_descriptions", "check_plane", "from_wire",
           "to_array"]


@dataclass(frozen=True, slots=True)
class PlaneLayout:
    """The numpy form of a PlaneFormat: element type (little-endian) and channels per pixel."""

    dtype: np.dtype
    channels: int


#: PlaneFormat -> its numpy element type and channel count
FORMATS: Mapping[PlaneFormat, PlaneLayout] = {
    PlaneFormat.R8: PlaneLayout(np.dtype(np.uint8), 1),
    PlaneFormat.RGBA8: PlaneLayout(np.dtype(np.uint8), 4),
    PlaneFormat.R16_F: PlaneLayout(np.dtype("<f2"), 1),
    PlaneFormat.R32_F: PlaneLayout(np.dtype("<f4"), 1),
    PlaneFormat.RG16_F: PlaneLayout(np.dtype("<f2"), 2),
    PlaneFormat.RGBA16_F: PlaneLayout(np.dtype("<f2"), 4),
    PlaneFormat.R16_UI: PlaneLayout(np.dtype("<u2"), 1),
    PlaneFormat.R32_UI: PlaneLayout(np.dtype("<u4"), 1),
    PlaneFormat.RG32_F: PlaneLayout(np.dtype("<f4"), 2),
}

#: the formats each kind may be sent in
KIND_FORMATS: Mapping[PlaneKind, frozenset[PlaneFormat]] = {
    PlaneKind.DEPTH: frozenset({PlaneFormat.R16_F, PlaneFormat.R32_F}),
    PlaneKind.NORMALS: frozenset({PlaneFormat.RGBA8, PlaneFormat.RGBA16_F}),
    PlaneKind.SEGMENTATION: frozenset({PlaneFormat.R8, PlaneFormat.R16_UI, PlaneFormat.R32_UI}),
    PlaneKind.MOTION: frozenset({PlaneFormat.RG16_F, PlaneFormat.RG32_F}),
    PlaneKind.CONTROL: frozenset({PlaneFormat.RGBA8, PlaneFormat.R8}),
}


@dataclass(frozen=True, slots=True)
class Plane:
    """One plane of a frame: its wire description and its values.

    `array` is (height, width) for one channel, else (height, width, channels), in the format's element type,
    rows top-down (a bottom-up plane is a flipped view), read-only and not copied from the received part.
    """

    desc: PlaneDesc
    array: np.ndarray

    @property
    def kind(self) -> PlaneKind:
        """The plane's kind (depth, normals, ...)."""
        return self.desc.kind


def to_array(desc: PlaneDesc, data: memoryview | bytes) -> np.ndarray:
    """The values of a plane part as a read-only numpy view (top-down rows; stride padding skipped)."""
    layout = FORMATS[desc.format]
    item = layout.dtype.itemsize
    array: np.ndarray = np.ndarray(shape=(desc.height, desc.width, layout.channels), dtype=layout.dtype,
                                   buffer=data, strides=(desc.stride, item * layout.channels, item))
    array.flags.writeable = False
    if desc.row_order is RowOrder.BOTTOM_UP:
        array = array[::-1]
    return array[:, :, 0] if layout.channels == 1 else array


def _refuse(field: str, message: str, code: ErrorCode = ErrorCode.BAD_PARAM) -> FieldError:
    return FieldError(code, field, message)


def check_plane(desc: PlaneDesc, where: str) -> None:
    """The format suits the kind, and the semantics a consumer needs are given; raises FieldError naming the field."""
    allowed = KIND_FORMATS[desc.kind]
    if desc.format not in allowed:
        names = ", ".join(sorted(f.name for f in allowed))
        raise _refuse(f"{where}.format", f"{where}.format={desc.format.name} does not suit a {desc.kind.name} plane; "
                      f"send it as one of {names}", ErrorCode.UNSUPPORTED_PIXEL_FORMAT)
    if desc.kind is PlaneKind.DEPTH:
        _check_depth(desc, where)
    elif desc.kind is PlaneKind.NORMALS:
        if desc.normal_space is NormalSpace.UNKNOWN or desc.normal_encoding is NormalEncoding.UNKNOWN:
            raise _refuse(f"{where}.normal_space", f"{where}: a Normals plane needs normal_space (View or World) and "
                          f"normal_encoding (Signed or Unsigned); got {desc.normal_space.name}, "
                          f"{desc.normal_encoding.name}")
        if desc.format is PlaneFormat.RGBA8 and desc.normal_encoding is not NormalEncoding.UNSIGNED:
            raise _refuse(f"{where}.normal_encoding", f"{where}.normal_encoding={desc.normal_encoding.name}: RGBA8 "
                          "bytes hold only Unsigned normals (n * 0.5 + 0.5); use Unsigned or a float format")
    elif desc.kind is PlaneKind.MOTION and (desc.motion_units is MotionUnits.UNKNOWN
                                            or desc.motion_target is MotionTarget.UNKNOWN):
        raise _refuse(f"{where}.motion_units", f"{where}: a Motion plane needs motion_units (Pixels or UV) and "
                      f"motion_target (Previous or Next); got {desc.motion_units.name}, {desc.motion_target.name}")


def _check_depth(desc: PlaneDesc, where: str) -> None:
    if desc.depth_encoding is DepthEncoding.UNKNOWN:
        raise _refuse(f"{where}.depth_encoding", f"{where}.depth_encoding is Unknown: say whether the values are "
                      "Linear (view distance) or Device (the depth buffer's [0, 1])")
    near, far = desc.depth_near, desc.depth_far
    if not (np.isfinite(near) and np.isfinite(far) and near >= 0 and far >= 0):
        raise _refuse(f"{where}.depth_near", f"{where}: depth_near={near}, depth_far={far} must be finite and >= 0")
    if desc.depth_encoding is DepthEncoding.DEVICE and near <= 0:
        raise _refuse(f"{where}.depth_near", f"{where}.depth_near={near}: Device depth needs the projection's near "
                      "plane (> 0) to be read as a distance")
    if far and far <= near:
        raise _refuse(f"{where}.depth_far",
                      f"{where}.depth_far={far} must be greater than depth_near={near} (or 0: infinite)")


_F16_EXPONENT = np.uint16(0x7C00)
#: float type -> (the unsigned integer of its size, the bits of +infinity): a value with the sign bit clear is finite
#: exactly when its bits, read as that unsigned integer, are below +infinity's
_POSITIVE_FINITE_BELOW: Mapping[np.dtype, tuple[np.dtype, int]] = {
    np.dtype("<f2"): (np.dtype("<u2"), 0x7C00),
    np.dtype("<f4"): (np.dtype("<u4"), 0x7F80_0000),
}


def _check_finite(array: np.ndarray, where: str) -> None:
    """A float plane holds no NaN or infinity (one would poison every conditioning computed from it)."""
    if array.dtype.kind != "f":
        return
    unsigned = _POSITIVE_FINITE_BELOW.get(array.dtype)
    if unsigned is not None and array.view(unsigned[0]).max(initial=0) < unsigned[1]:
        return  # every value >= +0 and finite (depth): one read of the plane, no temporary array
    if array.dtype == np.float16:  # numpy's isfinite on float16 converts each value: 35x slower than the bits
        bits = array.view(np.uint16)  # NaN and infinity are the float16 values whose exponent bits are all set
        if (bits & _F16_EXPONENT).max(initial=0) != _F16_EXPONENT:
            return
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        raise _refuse(where, f"{where} holds {bad} NaN or infinite values of {finite.size}; send finite numbers "
                      "(clear the depth of empty sky to the far value, motion to 0)")


def from_wire(descs: Sequence[PlaneDesc], parts: Sequence[memoryview | bytes]) -> tuple[Plane, ...]:
    """Check a Frame's planes and wrap each part as a numpy view (see the module docstring).

    `parts` are the plane parts in the order of `descs`, each of exactly stride x height bytes (the codec checked
    that). Raises FieldError naming ``Frame.planes[i]`` and its field.
    """
    if not _ACCEPTED.holds(descs):  # a stream's next frame: the codec handed back the very same accepted tuple
        check_descriptions(descs)
        _ACCEPTED.remember(descs)
    planes = []
    for i, (desc, data) in enumerate(zip(descs, parts, strict=True)):
        array = to_array(desc, data)
        _check_finite(array, f"Frame.planes[{i}]")
        planes.append(Plane(desc, array))
    return tuple(planes)


def check_descriptions(descs: Sequence[PlaneDesc]) -> None:
    """Each description passes ``check_plane`` and no kind but Control comes twice; FieldError naming the field."""
    seen: dict[PlaneKind, int] = {}
    for i, desc in enumerate(descs):
        where = f"Frame.planes[{i}]"
        check_plane(desc, where)
        if desc.kind is not PlaneKind.CONTROL and desc.kind in seen:
            raise _refuse(f"{where}.kind", f"{where}.kind={desc.kind.name} repeats Frame.planes[{seen[desc.kind]}]; "
                          "send each kind once (several control images are Control planes with different names)")
        seen[desc.kind] = i


class _LastAccepted:
    """The last tuple of descriptions that passed ``check_descriptions``, held (so its id cannot be reused) and
    compared by identity: the codec returns the same tuple object for every Frame of a stream whose plane
    descriptions did not change (protocol._frame_planes.SeenFrames), and a PlaneDesc is immutable, so the checks'
    verdict on that object cannot change. Anything else (a list, a new tuple) is checked. One reference is written
    at a time, so threads sharing it at worst check a tuple again."""

    def __init__(self) -> None:
        self._descs: tuple[PlaneDesc, ...] | None = None

    def holds(self, descs: Sequence[PlaneDesc]) -> bool:
        return descs is self._descs

    def remember(self, descs: Sequence[PlaneDesc]) -> None:
        if isinstance(descs, tuple):
            self._descs = descs


_ACCEPTED = _LastAccepted()
