"""A frame's Motion (and Depth) plane converted to the temporal warp's convention, for `pipe.temporal.set_motion`.

The wire declares each motion plane's convention (schemas/bridge.fbs PlaneDesc): `motion_units` Pixels (pixels of
the plane) or UV (fractions of the plane's width and height), `motion_target` Previous (the surface seen at p is at
p + v in the previous frame) or Next (in the next frame), `motion_y_up` (+y up the image instead of down). The
plane may be smaller than the frame. sdbridge.pipeline.temporal_warp wants pixels of the model's frame (the
pipeline's width x height), current -> previous, +x right, +y down. `motion_tensor` converts:

  1. UV -> plane pixels: x * plane width, y * plane height;
  2. y up -> y down: y negated;
  3. Next -> Previous: v negated. This assumes constant velocity over the two frames (the engine's vector to the
     next frame, reversed, stands for the vector to the previous one): exact for steady camera pans and dollies,
     approximate when motion accelerates. Send Previous vectors (an engine's velocity buffer negated) for the exact
     warp;
  4. plane size -> model size: the field resized bilinearly and x, y scaled by width and height ratios.

A Linear Depth plane is given to the warp's depth test as it is (resized, nearest); a Device one is linearised with
its near / far / reversed_z (sdbridge.pipeline.control_planes.inverse_depth). Rows are top-down already
(runtime.planes flips a bottom-up plane). Not run on a GPU here: plain torch on the pipeline's device.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sdbridge.protocol.messages import DepthEncoding, MotionTarget, MotionUnits
from sdbridge.runtime.planes import Plane

__all__ = ["depth_tensor", "motion_tensor"]

#: linearised device depth at the far plane of an infinite projection (sky) is capped here (a finite depth test)
_FAR_CAP = 1.0e6


def motion_tensor(plane: Plane, width: int, height: int, device: Any) -> Any:
    """The motion plane as (2, height, width) float32 pixels of the model's frame, current -> previous, +y down."""
    import torch
    from torch.nn import functional

    desc = plane.desc
    field = torch.from_numpy(np.asarray(plane.array, dtype=np.float32).copy()).to(device)  # (h, w, 2)
    field = field.permute(2, 0, 1)  # (2, h, w)
    h, w = field.shape[1:]
    sx, sy = (float(w), float(h)) if desc.motion_units is MotionUnits.UV else (1.0, 1.0)
    sy = -sy if desc.motion_y_up else sy
    sign = -1.0 if desc.motion_target is MotionTarget.NEXT else 1.0
    if (h, w) != (height, width):
        field = functional.interpolate(field[None], size=(height, width), mode="bilinear", align_corners=False)[0]
    scale = torch.tensor([sign * sx * width / w, sign * sy * height / h], device=field.device).view(2, 1, 1)
    return field * scale


def depth_tensor(plane: Plane, width: int, height: int, device: Any) -> Any:
    """The depth plane as (1, 1, height, width) float32 linear view depth (nearest resize)."""
    import torch
    from torch.nn import functional

    from sdbridge.pipeline.control_planes import inverse_depth

    desc = plane.desc
    depth = torch.from_numpy(np.asarray(plane.array, dtype=np.float32).copy()).to(device)[None, None]
    if desc.depth_encoding is DepthEncoding.DEVICE:
        inverse = inverse_depth(depth, source="device", near=desc.depth_near, far=desc.depth_far or math.inf,
                                reversed_z=desc.reversed_z)
        depth = 1.0 / inverse.clamp_min(1.0 / _FAR_CAP)
    if depth.shape[2:] != (height, width):
        depth = functional.interpolate(depth, size=(height, width), mode="nearest")
    return depth
