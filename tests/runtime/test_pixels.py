"""Wire pixel layouts <-> pipeline RGB top-down."""

from __future__ import annotations

import numpy as np
import pytest

from sdbridge.errors import InputError
from sdbridge.runtime.pixels import Layout, PixelFormat, RowOrder, from_pipeline, to_pipeline


def _rgba(h: int = 5, w: int = 7) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(h, w, 4), dtype=np.uint8)


@pytest.mark.parametrize("fmt", list(PixelFormat))
@pytest.mark.parametrize("order", list(RowOrder))
def test_roundtrip_every_format_and_row_order(fmt: PixelFormat, order: RowOrder) -> None:
    rgba = _rgba()
    h, w = rgba.shape[:2]
    if fmt is PixelFormat.RGBA8:
        wire = rgba
    elif fmt is PixelFormat.BGRA8:
        wire = rgba[..., [2, 1, 0, 3]]
    else:
        wire = rgba[..., :3]
    if order is RowOrder.BOTTOM_UP:
        wire = wire[::-1]
    layout = Layout.packed(w, h, fmt, order)
    rgb, alpha = to_pipeline(np.ascontiguousarray(wire).tobytes(), layout, (w, h))
    np.testing.assert_array_equal(rgb, rgba[..., :3])  # pipeline always sees RGB top-down
    if fmt is PixelFormat.RGB8:
        assert alpha is None
    else:
        np.testing.assert_array_equal(alpha, rgba[..., 3])
    back = from_pipeline(rgb, alpha, layout)
    np.testing.assert_array_equal(back, np.ascontiguousarray(wire))


def test_stride_padding_is_skipped() -> None:
    rgba = _rgba(3, 4)
    padded = np.zeros((3, 4 * 4 + 8), dtype=np.uint8)
    padded[:, :16] = rgba.reshape(3, 16)
    layout = Layout(4, 3, 24, PixelFormat.RGBA8)
    rgb, _ = to_pipeline(padded.tobytes(), layout, (4, 3))
    np.testing.assert_array_equal(rgb, rgba[..., :3])


def test_size_mismatch_names_both_sizes() -> None:
    layout = Layout.packed(4, 4, PixelFormat.RGBA8)
    with pytest.raises(InputError, match=r"63 bytes.*64"):
        to_pipeline(b"\0" * 63, layout, (4, 4))


def test_stride_too_small_is_refused() -> None:
    with pytest.raises(InputError, match="stride=8"):
        to_pipeline(b"\0" * 32, Layout(4, 4, 8, PixelFormat.RGBA8), (4, 4))


def test_resize_to_processing_size_and_back() -> None:
    rgba = np.full((8, 12, 4), 200, dtype=np.uint8)
    layout = Layout.packed(12, 8, PixelFormat.RGBA8)
    rgb, alpha = to_pipeline(rgba.tobytes(), layout, (6, 4))
    assert rgb.shape == (4, 6, 3)
    back = from_pipeline(rgb, alpha, layout)
    assert back.shape == (8, 12, 4)
    np.testing.assert_array_equal(back, rgba)


@pytest.mark.parametrize("fmt", [PixelFormat.RGBA8, PixelFormat.BGRA8])
@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 1), (3, 5), (64, 96)])
def test_four_byte_formats_match_channel_slicing(fmt: PixelFormat, shape: tuple[int, int]) -> None:
    """The 4-byte word conversions (overlapping stores and reads, the last pixel apart) against plain slicing,
    with random bytes in every channel and row padding."""
    h, w = shape
    rng = np.random.default_rng(h * 100 + w)
    wire = rng.integers(0, 256, size=(h, w * 4 + 4), dtype=np.uint8)  # 4 bytes of row padding
    pixels = wire[:, : w * 4].reshape(h, w, 4)
    want_rgb = pixels[..., :3] if fmt is PixelFormat.RGBA8 else pixels[..., 2::-1]
    layout = Layout(w, h, w * 4 + 4, fmt)
    rgb, alpha = to_pipeline(wire.tobytes(), layout, (w, h))
    assert rgb.flags.c_contiguous and rgb.flags.writeable and rgb.shape == (h, w, 3)
    np.testing.assert_array_equal(rgb, want_rgb)
    np.testing.assert_array_equal(alpha, pixels[..., 3])
    back = from_pipeline(rgb, alpha, Layout.packed(w, h, fmt))
    np.testing.assert_array_equal(back, pixels)
    np.testing.assert_array_equal(from_pipeline(rgb, None, Layout.packed(w, h, fmt))[..., 3], 255)
