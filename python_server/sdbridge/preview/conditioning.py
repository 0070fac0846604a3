"""The conditioning images of the preview page: what the served ControlNets get for the input frame shown.

A kept input frame (taps.TapFrame) holds references to its colour pixels and its planes (read-only views of the
received message, never copied on the I/O thread). On the preview thread, `ConditioningViews.images` turns them
into one RGB image per served ControlNet KIND by the very code the worker uses (runtime.control_inputs.ControlPlanes:
the same plane per KIND, the same conversions of sdbridge.pipeline.control_planes, the same Canny fallback for
canny-like KINDs), run on the CPU on the frame subsampled to the page's `max_side` (every n-th row and column, like
the input view). A KIND whose plane the frame lacks has no image for that frame (the page says so).

Bounded cost: the taps keep a frame only while a page watches its session, at most `preview.fps` per second; the
page server converts each kept frame once for all pages (web.py caches by frame identity), at most `max_side`
pixels on a side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sdbridge.preview.encode import to_rgb
from sdbridge.preview.taps import TapFrame
from sdbridge.runtime.control_inputs import ControlPlanes
from sdbridge.runtime.planes import Plane


@dataclass
class _Control:
    """The part of a pipeline's `control` that ControlPlanes.apply uses: the KINDs and set_image."""

    names: tuple[str, ...]
    images: dict[str, Any] = field(default_factory=dict)

    @property
    def nets(self) -> _Control:
        return self

    def set_image(self, name: str, image: Any) -> None:
        self.images[name] = image


@dataclass
class _Capture:
    """A stand-in pipeline for ControlPlanes.apply: keeps the control images instead of embedding them."""

    control: _Control
    components: Any


def control_images(converter: ControlPlanes, kinds: Sequence[str], planes: Sequence[Plane], rgb: Any,
                   device: Any, session_id: int = 0) -> dict[str, Any]:
    """{KIND: (1, 3, H, W) float tensor in [0, 1] on `device`}: the control images ControlPlanes.apply gives the
    ControlNets `kinds` for a frame (`rgb`, (h, w, 3) uint8) and its `planes` (a KIND without its plane: absent)."""
    capture = _Capture(_Control(tuple(kinds)), _Device(device))
    converter.apply(session_id, capture, planes, rgb)
    return capture.control.images


def _subsampled(plane: Plane, max_side: int) -> Plane:
    """`plane` with every n-th row and column (n: the smallest that brings its longer side to `max_side`)."""
    height, width = plane.array.shape[:2]
    step = -(-max(height, width) // max_side) if max_side > 0 else 1
    return plane if step <= 1 else Plane(plane.desc, plane.array[::step, ::step])


def _pixels(image: Any) -> np.ndarray:
    """A control image (1, 3, H, W) float in [0, 1] as (H, W, 3) uint8."""
    import torch

    tensor = image[0] if image.dim() == 4 else image
    return np.ascontiguousarray((tensor.float().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy())


class ConditioningViews:
    """The control images of the served ControlNets `kinds` for kept input frames (module docstring).

    `segmentation`: the server's game id -> ADE20K map (`[model] segmentation`; None: ids are ADE20K indices)."""

    def __init__(self, kinds: Sequence[str], segmentation: Mapping[int, str | int] | None = None,
                 max_side: int = 256) -> None:
        self.kinds = tuple(kinds)
        self.max_side = max_side
        self._planes = ControlPlanes(segmentation or None, warn=_quiet) if self.kinds else None
        self.converted = 0  # frames converted (tests and the bench count them)

    def images(self, frame: TapFrame) -> dict[str, np.ndarray]:
        """{KIND: (h, w, 3) uint8} of the ControlNets that get an image from `frame`, in the served order."""
        if self._planes is None:
            return {}
        import torch

        self.converted += 1
        rgb = to_rgb(frame, self.max_side)
        planes = tuple(_subsampled(p, self.max_side) for p in frame.planes)
        with torch.no_grad():
            images = control_images(self._planes, self.kinds, planes, rgb, torch.device("cpu"), frame.session_id)
        return {kind: _pixels(images[kind]) for kind in self.kinds if kind in images}


@dataclass(frozen=True)
class _Device:
    device: Any


def _quiet(message: str) -> None:
    """A missing plane is the worker's to report (once per session); the preview shows it as no image."""
