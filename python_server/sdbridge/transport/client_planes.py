"""Auxiliary planes for BridgeClient.submit (protocol 1.3): numpy arrays -> PlaneDesc descriptions + wire parts.

``submit(image, planes={"depth": d, "normals": n, "segmentation": ids, "motion": mv}, plane_info={...})``: each
key names a plane kind (depth, normals, segmentation, motion, control); any other key is a Control plane of that
name (e.g. "pose"). The format comes from the array: (H, W) or (H, W, C) of float16 / float32 / uint8 / uint16 /
uint32 (``FORMATS`` lists each combination), rows top-down. ``plane_info[key]`` sets PlaneDesc fields by name
(enums as members or their names, e.g. ``{"depth_encoding": "device", "reversed_z": True, "depth_near": 0.1,
"depth_far": 1000.0}``); what it leaves out takes the kind's default (``DEFAULTS``: depth Linear, normals View and
Signed (Unsigned for uint8), motion in Pixels towards the Previous frame). Pure functions: no socket.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
from collections.abc import Mapping
from typing import Any

import numpy as np

from sdbridge.errors import FieldError, InputError
from sdbridge.protocol import messages as m
from sdbridge.runtime.planes import KIND_FORMATS, check_plane

#: (numpy element type, channels) -> PlaneFormat
FORMATS: Mapping[tuple[np.dtype, int], m.PlaneFormat] = {
    (np.dtype(np.uint8), 1): m.PlaneFormat.R8,
    (np.dtype(np.uint8), 4): m.PlaneFormat.RGBA8,
    (np.dtype(np.float16), 1): m.PlaneFormat.R16_F,
    (np.dtype(np.float32), 1): m.PlaneFormat.R32_F,
    (np.dtype(np.float16), 2): m.PlaneFormat.RG16_F,
    (np.dtype(np.float16), 4): m.PlaneFormat.RGBA16_F,
    (np.dtype(np.uint16), 1): m.PlaneFormat.R16_UI,
    (np.dtype(np.uint32), 1): m.PlaneFormat.R32_UI,
    (np.dtype(np.float32), 2): m.PlaneFormat.RG32_F,
}

#: the kind each key names (any other key: a Control plane of that name)
KINDS: Mapping[str, m.PlaneKind] = {kind.name.lower(): kind for kind in m.PlaneKind if kind}

#: PlaneDesc fields a kind gets unless plane_info says otherwise
DEFAULTS: Mapping[m.PlaneKind, Mapping[str, Any]] = {
    m.PlaneKind.DEPTH: {"depth_encoding": m.DepthEncoding.LINEAR},
    m.PlaneKind.NORMALS: {"normal_space": m.NormalSpace.VIEW, "normal_encoding": m.NormalEncoding.SIGNED},
    m.PlaneKind.MOTION: {"motion_units": m.MotionUnits.PIXELS, "motion_target": m.MotionTarget.PREVIOUS},
}

#: PlaneDesc fields plane_info may set (size, stride and format come from the array)
_SETTABLE = frozenset(f.name for f in dataclasses.fields(m.PlaneDesc)) - {"width", "height", "stride", "format"}
#: each field's default (its enum type names the members plane_info may give by name)
_TEMPLATE = m.PlaneDesc(m.PlaneKind.CONTROL, m.PlaneFormat.R8, 1, 1, 1)


def _value(field: str, given: Any, default: Any, where: str) -> Any:
    """plane_info's value for `field`: an enum member may be given by its name (case-insensitive)."""
    if isinstance(default, enum.Enum) and isinstance(given, str):
        cls = type(default)
        try:
            return cls[given.upper()]
        except KeyError:
            names = ", ".join(e.name.lower() for e in cls if e.value)  # type: ignore[attr-defined]
            raise InputError(f"{where}[{field!r}]={given!r} is not one of {names}") from None
    return given


def describe(key: str, array: np.ndarray, info: Mapping[str, Any] | None) -> tuple[m.PlaneDesc, np.ndarray]:
    """The description of one plane and its contiguous array (see the module docstring); InputError when the
    array or an info entry does not fit, checked as the server checks it (sdbridge.runtime.planes.check_plane: the
    format suits the kind, the conventions a consumer needs are set), so nothing is sent only to be refused."""
    if not isinstance(array, np.ndarray) or array.ndim not in (2, 3):
        raise InputError(f"planes[{key!r}] is {type(array).__name__} of shape {getattr(array, 'shape', None)}; "
                         "pass an (H, W) or (H, W, C) numpy array, top row first")
    channels = 1 if array.ndim == 2 else array.shape[2]
    kind = KINDS.get(key, m.PlaneKind.CONTROL)
    fmt = FORMATS.get((array.dtype, channels))
    if fmt is None or fmt not in KIND_FORMATS[kind]:
        raise InputError(_format_refusal(key, kind, array.dtype, channels))
    data = np.ascontiguousarray(array)
    height, width = data.shape[:2]
    values: dict[str, Any] = {"kind": kind, "format": fmt, "width": width, "height": height,
                              "stride": width * fmt.bytes_per_pixel, "name": "" if key in KINDS else key,
                              **DEFAULTS.get(kind, {})}
    if kind is m.PlaneKind.NORMALS and fmt is m.PlaneFormat.RGBA8:
        values["normal_encoding"] = m.NormalEncoding.UNSIGNED
    if info:
        where = f"plane_info[{key!r}]"
        for field, given in info.items():
            if field not in _SETTABLE:
                raise InputError(f"{where} sets {field!r}, which is not a plane field; set {sorted(_SETTABLE)}")
            values[field] = _value(field, given, getattr(_TEMPLATE, field), where)
    desc = m.PlaneDesc(**values)  # one construction (dataclasses.replace would make a second)
    try:
        check_plane(desc, f"planes[{key!r}]")
    except FieldError as exc:
        raise InputError(f"{exc}; set it with plane_info={{{key!r}: {{...}}}}") from None
    return desc, data


def _layout(fmt: m.PlaneFormat) -> str:
    """How a numpy array of `fmt` looks, e.g. "float32 (H, W, 2)"."""
    dtype, channels = next(layout for layout, f in FORMATS.items() if f is fmt)
    return f"{dtype.name} (H, W)" if channels == 1 else f"{dtype.name} (H, W, {channels})"


def _format_refusal(key: str, kind: m.PlaneKind, dtype: np.dtype, channels: int) -> str:
    """Why an array of `dtype` x `channels` cannot be the plane `key` (of `kind`), and what it can be."""
    allowed = " or ".join(sorted(_layout(f) for f in KIND_FORMATS[kind]))
    what = f"a {kind.name.lower()} plane" if key in KINDS else f"a Control plane named {key!r}"
    text = (f"planes[{key!r}] is {dtype.name} with {channels} channel{'s' if channels != 1 else ''}, which {what} "
            f"cannot be sent as; send {allowed}")
    if key not in KINDS:
        close = [k for k in KINDS if k == key.lower()] or difflib.get_close_matches(key, list(KINDS), n=1)
        keys = ", ".join(sorted(KINDS))
        text += (f" (a key other than {keys} names a Control plane" +
                 (f"; did you mean {close[0]!r}?)" if close else ")"))
    elif dtype == np.float64:
        text += f", e.g. planes={{{key!r}: array.astype(np.float32)}}"
    return text


def frame_planes(planes: Mapping[str, np.ndarray] | None, plane_info: Mapping[str, Mapping[str, Any]] | None,
                 welcome: m.Welcome | None) -> tuple[tuple[m.PlaneDesc, ...], tuple[np.ndarray, ...]]:
    """Descriptions and arrays of a submit's planes, in the order given; InputError when the server did not
    grant the Planes capability, an info entry names no plane, or a plane does not fit."""
    if not planes:
        if plane_info:
            raise InputError(f"plane_info describes {sorted(plane_info)} but no planes were given")
        return (), ()
    if welcome is not None and not welcome.capabilities & m.Capability.PLANES:
        raise InputError("this server did not grant the Planes capability (Welcome.capabilities); it cannot take "
                         "depth, normals, segmentation or motion planes: submit the image alone")
    unknown = set(plane_info or {}) - set(planes)
    if unknown:
        raise InputError(f"plane_info describes {sorted(unknown)}, which are not among the planes {sorted(planes)}")
    shapes = None if plane_info else _structure(planes)
    last = _LAST_DESCRIBED
    if shapes is not None and last is not None and last[0] == shapes:
        return last[1], tuple(np.ascontiguousarray(array) for array in planes.values())
    described = [describe(key, array, (plane_info or {}).get(key)) for key, array in planes.items()]
    descs = tuple(d for d, _ in described)
    if shapes is not None:
        _remember(shapes, descs)
    return descs, tuple(a for _, a in described)


#: the structure (key, element type, shape of each plane) of the last planes described without plane_info, and
#: their descriptions: those depend on nothing else, and a game sends the same planes every frame, so its next
#: frames reuse the same (immutable) tuple, which the codec also encodes once (protocol._frame_planes)
_LAST_DESCRIBED: tuple[tuple[tuple[str, str, tuple[int, ...]], ...], tuple[m.PlaneDesc, ...]] | None = None


def _structure(planes: Mapping[str, np.ndarray]) -> tuple[tuple[str, str, tuple[int, ...]], ...] | None:
    """(key, dtype, shape) of each plane in order; None when one is not a numpy array (describe refuses it)."""
    if not all(isinstance(array, np.ndarray) for array in planes.values()):
        return None
    return tuple((key, array.dtype.str, array.shape) for key, array in planes.items())


def _remember(shapes: tuple[tuple[str, str, tuple[int, ...]], ...], descs: tuple[m.PlaneDesc, ...]) -> None:
    global _LAST_DESCRIBED
    _LAST_DESCRIBED = (shapes, descs)  # one assignment: a client on another thread reads the old or the new pair
