"""Pixel layout conversions between the wire and the pipeline (numpy and sdbridge.host_kernels; no torch, no protocol).

The wire carries frames in the client's layout (RGBA8 / BGRA8 / RGB8, any row stride, top-down or
bottom-up rows). Pipelines take and return HxWx3 uint8 RGB, top-down, at their processing size.
`to_pipeline` and `from_pipeline` convert between the two; alpha never goes through the model: the
input's alpha plane is kept and written back into the result unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from PIL import Image

from sdbridge.errors import InputError
from sdbridge.host_kernels import kernels
from sdbridge.runtime import pixel_words


class PixelFormat(Enum):
    """Byte layout of one pixel."""

    RGBA8 = "rgba8"
    BGRA8 = "bgra8"
    RGB8 = "rgb8"

    @property
    def bytes_per_pixel(self) -> int:
        """4 for RGBA8 / BGRA8, 3 for RGB8."""
        return 3 if self is PixelFormat.RGB8 else 4


class RowOrder(Enum):
    """Whether the first row in memory is the top (most APIs) or the bottom (Unity CPU images, GL)."""

    TOP_DOWN = "top_down"
    BOTTOM_UP = "bottom_up"


@dataclass(frozen=True)
class Layout:
    """How one frame's pixels are laid out on the wire."""

    width: int
    height: int
    stride: int  # bytes per row, >= width * bytes_per_pixel
    pixel_format: PixelFormat
    row_order: RowOrder = RowOrder.TOP_DOWN

    @property
    def expected_bytes(self) -> int:
        """Size of the pixel part: stride * height."""
        return self.stride * self.height

    @staticmethod
    def packed(width: int, height: int, pixel_format: PixelFormat,
               row_order: RowOrder = RowOrder.TOP_DOWN) -> Layout:
        """A layout with no row padding."""
        return Layout(width, height, width * pixel_format.bytes_per_pixel, pixel_format, row_order)


def check_layout(layout: Layout, payload_bytes: int) -> None:
    """Raise InputError when `payload_bytes` or the stride disagree with `layout`."""
    min_stride = layout.width * layout.pixel_format.bytes_per_pixel
    if layout.stride < min_stride:
        raise InputError(
            f"stride={layout.stride} is below width*bytes_per_pixel={min_stride} for "
            f"{layout.pixel_format.name} at width={layout.width}; send stride >= {min_stride}"
        )
    if payload_bytes != layout.expected_bytes:
        raise InputError(
            f"pixel part has {payload_bytes} bytes but stride*height={layout.stride}*{layout.height}="
            f"{layout.expected_bytes}; send exactly stride*height bytes"
        )


def pixel_view(payload: memoryview | bytes, layout: Layout) -> np.ndarray:
    """(H, W, 3) RGB top-down *view* of wire pixels (no copy; strided, possibly read-only)."""
    check_layout(layout, len(payload))
    bpp = layout.pixel_format.bytes_per_pixel
    pixels = np.ndarray(shape=(layout.height, layout.width, bpp), dtype=np.uint8, buffer=payload,
                        strides=(layout.stride, bpp, 1))
    if layout.row_order is RowOrder.BOTTOM_UP:
        pixels = pixels[::-1]
    if layout.pixel_format is PixelFormat.RGB8:
        return pixels
    return pixels[..., :3] if layout.pixel_format is PixelFormat.RGBA8 else pixels[..., 2::-1]


def resize_rgb(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of an HxWx3 uint8 image to (height, width, 3); returns the input when sizes match."""
    if image.shape[0] == height and image.shape[1] == width:
        return image
    return np.array(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))  # writable


def to_pipeline(payload: memoryview | bytes, layout: Layout, size: tuple[int, int]
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert wire pixels to the pipeline's input.

    Returns (rgb, alpha): rgb is (size[1], size[0], 3) uint8 RGB top-down, alpha is the client-size
    (height, width) alpha plane in top-down order (None for RGB8). `size` is (width, height).
    The returned image is always a writable array of its own (never a view of `payload`).
    """
    check_layout(layout, len(payload))
    if layout.pixel_format is not PixelFormat.RGB8:
        rgb, alpha = _unpack(payload, layout)
        return resize_rgb(rgb, size[0], size[1]), alpha
    flat = np.frombuffer(payload, dtype=np.uint8)
    pixels = flat.reshape(layout.height, layout.stride)[:, : layout.width * 3].reshape(layout.height, layout.width, 3)
    if layout.row_order is RowOrder.BOTTOM_UP:
        pixels = pixels[::-1]
    rgb = np.ascontiguousarray(pixels)  # (H, W, 3)
    if not rgb.flags.writeable:  # a view of the read-only wire buffer: torch.from_numpy warns on those
        rgb = rgb.copy()
    return resize_rgb(rgb, size[0], size[1]), None


def from_pipeline(rgb: np.ndarray, alpha: np.ndarray | None, layout: Layout) -> np.ndarray:
    """Convert a pipeline output (h, w, 3) uint8 RGB top-down into the client's packed layout.

    Returns a C-contiguous (layout.height, layout.width, bpp) uint8 array whose bytes are the pixel
    part of the Result (stride = width * bpp). Alpha is `alpha` when given, else 255.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputError(f"pipeline output has shape {rgb.shape} dtype {rgb.dtype}; expected HxWx3 uint8")
    rgb = resize_rgb(rgb, layout.width, layout.height)  # (H, W, 3)
    if layout.pixel_format is PixelFormat.RGB8:
        out = rgb[::-1] if layout.row_order is RowOrder.BOTTOM_UP else rgb
        return np.ascontiguousarray(out)
    if alpha is not None and alpha.shape != (layout.height, layout.width):
        raise InputError(f"alpha has shape {alpha.shape}; expected ({layout.height}, {layout.width}), the client "
                         "frame's height and width (fit it with runtime.frame_book.fit_alpha)")
    flip, bgr = layout.row_order is RowOrder.BOTTOM_UP, layout.pixel_format is PixelFormat.BGRA8
    compiled = kernels()
    if compiled is None:  # numba not installed (logged once): numpy array operations, the same bytes
        return pixel_words.rgb_to_wire(rgb, alpha, flip, bgr)
    out = np.empty((layout.height, layout.width, 4), dtype=np.uint8)
    fill = np.empty(0, dtype=np.uint8) if alpha is None else np.ascontiguousarray(alpha, dtype=np.uint8)
    compiled.rgb_to_wire(np.ascontiguousarray(rgb).reshape(-1), fill.reshape(-1), 255, layout.height, layout.width,
                         flip, bgr, out.reshape(-1))
    return out


def _unpack(payload: memoryview | bytes, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """4-byte wire pixels -> (rgb (H, W, 3), alpha (H, W)), top-down, arrays of their own: one compiled loop
    (sdbridge.host_kernels), or numpy array operations where numba is not installed (runtime/pixel_words.py)."""
    flip, bgr = layout.row_order is RowOrder.BOTTOM_UP, layout.pixel_format is PixelFormat.BGRA8
    compiled = kernels()
    if compiled is None:
        return pixel_words.wire_to_rgb(payload, layout.stride, layout.height, layout.width, flip, bgr)
    rgb = np.empty((layout.height, layout.width, 3), dtype=np.uint8)
    alpha = np.empty((layout.height, layout.width), dtype=np.uint8)
    compiled.wire_to_rgb(np.frombuffer(payload, dtype=np.uint8), layout.stride, layout.height, layout.width, flip,
                         bgr, rgb.reshape(-1), alpha.reshape(-1))
    return rgb, alpha
