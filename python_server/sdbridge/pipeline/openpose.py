"""The OpenPose-format control image drawn from 2-D keypoints: the reference renderer of the clients' pose planes.

The public OpenPose ControlNets (lllyasviel control_v11p_sd15_openpose, sd-controlnet-openpose, the SDXL openpose
ControlNets) were trained on images drawn by the ControlNet 1.1 annotator's `draw_bodypose`; this module draws the
same picture from keypoints an engine projects from its skeleton, so no pose estimator runs. The convention:

* COCO-18 keypoints (KEYPOINTS): 0 nose, 1 neck, 2-4 right shoulder/elbow/wrist, 5-7 left shoulder/elbow/wrist,
  8-10 right hip/knee/ankle, 11-13 left hip/knee/ankle, 14 right eye, 15 left eye, 16 right ear, 17 left ear.
  "Right" is the person's right (on the left of the image for a person facing the camera).
* 17 limbs (LIMBS; the annotator zips its 19 pairs with 18 colours and its 18th, 19th pairs are never drawn),
  each a filled ellipse between its two keypoints (semi-axes half the limb length and STICK_WIDTH = 4 pixels) in
  60% of its colour (`int(c * 0.6)`), drawn in order, opaque, on black.
* Then each keypoint a filled disc of radius POINT_RADIUS = 4 in its full colour (COLORS, RGB), in index order.

Rasterisation (the part the annotator leaves to OpenCV, and the part three languages must agree on): keypoints are
snapped to whole pixels (floor(x + 0.5), pixel centres at integer coordinates, x right, y down, origin top left) and
a pixel is covered when its centre lies inside the ellipse or disc, tested in exact integer arithmetic (no
antialiasing, like the annotator's default 8-connected fill), so the C# (Runtime/Core/Pose) and C++ (core
openpose.h) renderers reproduce these images bit for bit; their tests compare against the reference images
`write_reference_images` writes into schemas/golden/pose. A missing keypoint (None, or NaN) drops its disc and
its limbs; a keypoint further than half the image outside it is treated as missing; a limb whose two keypoints
snap to the same pixel is not drawn (its discs cover it). The annotator's own polygon approximation of the ellipse
(1-degree steps, axes truncated to whole pixels) differs from the exact ellipse by at most a pixel along its edge.

Output: (H, W, 4) uint8 RGBA, alpha 255: a Control plane (RGBA8) named after the ControlNet KIND it conditions
(e.g. "openpose").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sdbridge.errors import InputError

__all__ = ["COLORS", "KEYPOINTS", "LIMBS", "MAX_SIZE", "POINT_RADIUS", "STICK_WIDTH", "read_keypoints",
           "render_openpose", "snap_keypoints", "write_reference_images"]

#: COCO-18 keypoint names, in the annotator's order
KEYPOINTS: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye",
    "right_ear", "left_ear",
)

#: limb i joins these two keypoints (0-based) and is drawn in 60% of COLORS[i]
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)

#: keypoint i's colour (RGB), and limb i's before dimming
COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
    (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
    (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)

STICK_WIDTH = 4
POINT_RADIUS = 4
#: largest width or height drawn (keeps the integer tests inside 64 bits in every client)
MAX_SIZE = 4096

Keypoint = tuple[float, float] | None


def snap_keypoints(keypoints: Sequence[Keypoint], width: int, height: int) -> list[tuple[int, int] | None]:
    """The 18 keypoints as whole pixels (floor(x + 0.5)); missing, non-finite or far-outside ones as None."""
    if len(keypoints) != len(KEYPOINTS):
        raise InputError(f"keypoints has {len(keypoints)} entries; the OpenPose body has {len(KEYPOINTS)} (COCO-18:"
                         " sdbridge.pipeline.openpose.KEYPOINTS); pass None for a missing one")
    snapped: list[tuple[int, int] | None] = []
    for point in keypoints:
        if point is None or not (math.isfinite(point[0]) and math.isfinite(point[1])):
            snapped.append(None)
            continue
        x, y = math.floor(point[0] + 0.5), math.floor(point[1] + 0.5)
        inside = -(width // 2) <= x <= width + width // 2 and -(height // 2) <= y <= height + height // 2
        snapped.append((x, y) if inside else None)
    return snapped


def _fill_limb(canvas: np.ndarray, p: tuple[int, int], q: tuple[int, int], color: np.ndarray) -> None:
    """Covers the pixels whose centres lie in the ellipse between p and q (exact integer test)."""
    vx, vy = q[0] - p[0], q[1] - p[1]
    length2 = vx * vx + vy * vy
    if length2 == 0:
        return
    reach = math.isqrt(length2) // 2 + STICK_WIDTH + 2
    cx2, cy2 = p[0] + q[0], p[1] + q[1]  # twice the centre
    h, w = canvas.shape[:2]
    x0, x1 = max(0, cx2 // 2 - reach), min(w - 1, cx2 // 2 + reach)
    y0, y1 = max(0, cy2 // 2 - reach), min(h - 1, cy2 // 2 + reach)
    if x0 > x1 or y0 > y1:
        return
    ys, xs = np.mgrid[y0:y1 + 1, x0:x1 + 1].astype(np.int64)
    dx2, dy2 = 2 * xs - cx2, 2 * ys - cy2
    along2 = dx2 * vx + dy2 * vy  # 2 * along * length
    across2 = dy2 * vx - dx2 * vy  # 2 * across * length
    b2 = 4 * STICK_WIDTH * STICK_WIDTH
    across_sq = across2 * across2
    near_axis = across_sq <= b2 * length2  # checked first: keeps the next products inside 64 bits
    across_term = length2 * np.where(near_axis, across_sq, 0)
    inside = near_axis & (b2 * along2 * along2 + across_term <= b2 * length2 * length2)
    canvas[y0:y1 + 1, x0:x1 + 1][inside] = color


def _fill_disc(canvas: np.ndarray, c: tuple[int, int], color: np.ndarray) -> None:
    h, w = canvas.shape[:2]
    x0, x1 = max(0, c[0] - POINT_RADIUS), min(w - 1, c[0] + POINT_RADIUS)
    y0, y1 = max(0, c[1] - POINT_RADIUS), min(h - 1, c[1] + POINT_RADIUS)
    if x0 > x1 or y0 > y1:
        return
    ys, xs = np.mgrid[y0:y1 + 1, x0:x1 + 1]
    inside = (xs - c[0]) ** 2 + (ys - c[1]) ** 2 <= POINT_RADIUS * POINT_RADIUS
    canvas[y0:y1 + 1, x0:x1 + 1][inside] = color


def render_openpose(keypoints: Sequence[Keypoint], width: int, height: int) -> np.ndarray:
    """The OpenPose control image (H, W, 4) uint8 RGBA of one body's 18 keypoints in pixels (None: missing)."""
    for name, value in (("width", width), ("height", height)):
        if not 1 <= value <= MAX_SIZE:
            raise InputError(f"{name} {value} is outside 1..{MAX_SIZE}; draw the pose at most {MAX_SIZE} pixels "
                             "wide and high (the ControlNet resizes it anyway)")
    points = snap_keypoints(keypoints, width, height)
    canvas = np.zeros((height, width, 4), np.uint8)
    canvas[..., 3] = 255
    for (i, j), color in zip(LIMBS, COLORS[:len(LIMBS)], strict=True):
        p, q = points[i], points[j]
        if p is not None and q is not None:
            _fill_limb(canvas, p, q, np.array([int(c * 0.6) for c in color] + [255], np.uint8))
    for point, color in zip(points, COLORS, strict=True):
        if point is not None:
            _fill_disc(canvas, point, np.array([*color, 255], np.uint8))
    return canvas


def read_keypoints(path: Path) -> tuple[int, int, list[Keypoint]]:
    """A keypoint file: `size W H`, then `kp INDEX X Y` per present keypoint ('#' starts a comment)."""
    width = height = 0
    points: list[Keypoint] = [None] * len(KEYPOINTS)
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        if fields[0] == "size" and len(fields) == 3:
            width, height = int(fields[1]), int(fields[2])
        elif fields[0] == "kp" and len(fields) == 4 and 0 <= int(fields[1]) < len(KEYPOINTS):
            points[int(fields[1])] = (float(fields[2]), float(fields[3]))
        else:
            raise InputError(f"{path}:{number}: {raw!r} is neither `size W H` nor `kp INDEX X Y` with INDEX 0..17")
    if width <= 0 or height <= 0:
        raise InputError(f"{path} has no `size W H` line; add one before the keypoints")
    return width, height, points


def write_reference_images(folder: Path) -> list[Path]:
    """Renders every `*.keypoints` file of `folder` into `<name>.rgba` (raw RGBA8 rows, top row first)."""
    written = []
    for source in sorted(folder.glob("*.keypoints")):
        width, height, points = read_keypoints(source)
        target = source.with_suffix(".rgba")
        target.write_bytes(render_openpose(points, width, height).tobytes())
        written.append(target)
    return written


if __name__ == "__main__":  # python -m sdbridge.pipeline.openpose schemas/golden/pose
    import logging
    import sys

    logging.basicConfig(level=logging.INFO)
    for out in write_reference_images(Path(sys.argv[1])):
        logging.getLogger(__name__).info("wrote %s", out)
