"""The compiled pixel kernels (sdbridge.host_kernels) give the same bytes as the array operations they replace:
every uint8 value in, the rounding boundaries of the float -> uint8 map out, every wire layout both ways."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
import torch

from sdbridge import host_kernels
from sdbridge.errors import InputError
from sdbridge.pipeline.images import to_model_tensor, to_uint8_tensor
from sdbridge.runtime import pixels
from sdbridge.runtime.pixels import Layout, PixelFormat, RowOrder, from_pipeline, pixel_view, to_pipeline

K = host_kernels.kernels()
pytestmark = pytest.mark.skipif(K is None, reason="numba is not installed (a dependency: pip install numba)")


def _torch_unit_bytes(x: np.ndarray) -> np.ndarray:
    """The array operations to_uint8_tensor runs without the kernel: clamp, add_, mul_, round_, uint8 cast."""
    t = torch.from_numpy(x.copy()).clamp(-1.0, 1.0).add_(1.0).mul_(127.5).round_()
    return t.numpy().astype(np.uint8)


def _boundary_floats() -> np.ndarray:
    """float32 values on both sides of every rounding boundary (x + 1) * 127.5 = k + 0.5, 64 steps each way, and
    of the clamp's ends."""
    centres = np.array([(k + 0.5) / 127.5 - 1 for k in range(255)] + [-1.0, 1.0], dtype=np.float32)
    found = [centres]
    up, down = centres.copy(), centres.copy()
    for _ in range(64):
        up = np.nextafter(up, np.float32(np.inf))
        down = np.nextafter(down, np.float32(-np.inf))
        found += [up, down]
    return np.concatenate(found)


def test_unit_floats_equals_torch_and_diffusers_on_every_byte():
    src = np.arange(256, dtype=np.uint8)
    out = np.empty(256, dtype=np.float32)
    K.unit_floats(src, out)
    ours_torch = torch.from_numpy(src).float().div_(127.5).sub_(1.0).numpy()
    diffusers = (2.0 * (torch.from_numpy(src).float() / 255.0) - 1.0).numpy()
    assert np.array_equal(out.view(np.uint32), ours_torch.view(np.uint32))
    assert np.array_equal(out.view(np.uint32), diffusers.view(np.uint32))
    plain = np.empty(256, dtype=np.float32)
    host_kernels._unit_floats(src, plain)  # the uncompiled loop: the same numbers
    assert np.array_equal(out.view(np.uint32), plain.view(np.uint32))


def test_unit_bytes_equals_torch_at_every_rounding_boundary_and_on_random_values():
    rng = np.random.default_rng(7)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, 3.4e38, -3.4e38, 1e-45, -1e-45, 1.0000001, -1.0000001],
                        dtype=np.float32)
    values = np.concatenate([_boundary_floats(), rng.uniform(-1.3, 1.3, 2_000_000).astype(np.float32), specials])
    out = np.empty(values.shape[0], dtype=np.uint8)
    K.unit_bytes(values, out)
    reference = _torch_unit_bytes(values)
    assert np.array_equal(out, reference), f"{int((out != reference).sum())} values differ"
    assert len(set(out[:255 * 129].tolist())) == 256  # the boundary values reach every byte


def test_unit_bytes_maps_nan_to_zero():
    values = np.array([np.nan, -np.nan, 0.0], dtype=np.float32)
    out = np.full(3, 7, dtype=np.uint8)
    K.unit_bytes(values, out)
    assert out.tolist() == [0, 0, 128]


LAYOUTS = [(fmt, order, pad) for fmt in (PixelFormat.RGBA8, PixelFormat.BGRA8)
           for order in (RowOrder.TOP_DOWN, RowOrder.BOTTOM_UP) for pad in (0, 12)]


@pytest.mark.parametrize("fmt,order,pad", LAYOUTS)
@pytest.mark.parametrize("width,height", [(1, 1), (5, 3), (64, 33)])
def test_wire_to_rgb_equals_the_array_operations(monkeypatch, fmt, order, pad, width, height):
    layout = Layout(width=width, height=height, stride=width * 4 + pad, pixel_format=fmt, row_order=order)
    payload = np.random.default_rng(width * height + pad).integers(0, 256, layout.expected_bytes,
                                                                   dtype=np.uint8).tobytes()
    rgb, alpha = to_pipeline(payload, layout, (width, height))
    assert np.array_equal(rgb, np.ascontiguousarray(pixel_view(payload, layout)))  # the wire's RGB, top-down
    monkeypatch.setattr(pixels, "kernels", lambda: None)  # numba missing: runtime/pixel_words.py
    rgb_arrays, alpha_arrays = to_pipeline(payload, layout, (width, height))
    assert np.array_equal(rgb, rgb_arrays) and np.array_equal(alpha, alpha_arrays)
    assert rgb.flags.c_contiguous and rgb.flags.writeable and alpha.shape == (height, width)


@pytest.mark.parametrize("fmt,order,pad", [case for case in LAYOUTS if case[2] == 0])
@pytest.mark.parametrize("with_alpha", [True, False])
def test_rgb_to_wire_equals_the_array_operations(monkeypatch, fmt, order, pad, with_alpha):
    width, height = 37, 9
    layout = Layout.packed(width, height, fmt, order)
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (height, width), dtype=np.uint8) if with_alpha else None
    out = from_pipeline(rgb, alpha, layout)
    monkeypatch.setattr(pixels, "kernels", lambda: None)
    assert np.array_equal(out, from_pipeline(rgb, alpha, layout))
    back, back_alpha = to_pipeline(out.tobytes(), layout, (width, height))  # the round trip keeps every byte
    assert np.array_equal(back, rgb)
    assert np.array_equal(back_alpha, alpha if with_alpha else np.full((height, width), 255, dtype=np.uint8))


def test_uncompiled_wire_loops_give_the_same_bytes():
    layout = Layout(width=5, height=3, stride=24, pixel_format=PixelFormat.BGRA8, row_order=RowOrder.BOTTOM_UP)
    payload = np.random.default_rng(1).integers(0, 256, layout.expected_bytes, dtype=np.uint8)
    rgb, alpha = np.empty(45, dtype=np.uint8), np.empty(15, dtype=np.uint8)
    host_kernels._wire_to_rgb(payload, 24, 3, 5, True, True, rgb, alpha)
    expected_rgb, expected_alpha = to_pipeline(payload.tobytes(), layout, (5, 3))
    assert np.array_equal(rgb, expected_rgb.reshape(-1)) and np.array_equal(alpha, expected_alpha.reshape(-1))
    out = np.empty(60, dtype=np.uint8)
    host_kernels._rgb_to_wire(rgb, alpha, 255, 3, 5, True, True, out)
    assert np.array_equal(out, from_pipeline(expected_rgb, expected_alpha, Layout.packed(
        5, 3, PixelFormat.BGRA8, RowOrder.BOTTOM_UP)).reshape(-1))


def test_alpha_of_another_size_is_refused_with_the_fix():
    layout = Layout.packed(4, 2, PixelFormat.RGBA8)
    with pytest.raises(InputError, match=r"alpha has shape \(2, 3\); expected \(2, 4\).*fit_alpha"):
        from_pipeline(np.zeros((2, 4, 3), dtype=np.uint8), np.zeros((2, 3), dtype=np.uint8), layout)


def test_model_tensors_equal_the_torch_operations():
    """to_model_tensor / to_uint8_tensor: channels_last float32 on the CPU takes the kernels, contiguous_format the
    torch operations; both give the same values."""
    frames = np.random.default_rng(5).integers(0, 256, (2, 24, 40, 3), dtype=np.uint8)
    fast = to_model_tensor(frames, 40, 24, 2, torch.device("cpu"), torch.float32, torch.channels_last)
    slow = to_model_tensor(frames, 40, 24, 2, torch.device("cpu"), torch.float32, torch.contiguous_format)
    assert torch.equal(fast, slow)
    decoded = (torch.rand(2, 3, 24, 40, generator=torch.Generator().manual_seed(0)) * 2.6 - 1.3)
    assert torch.equal(to_uint8_tensor(decoded.contiguous(memory_format=torch.channels_last)),
                       to_uint8_tensor(decoded.contiguous()))


def test_without_numba_kernels_is_none_and_says_how_to_install(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    with caplog.at_level(logging.WARNING, logger="sdbridge.host_kernels"):
        assert host_kernels.kernels.__wrapped__() is None
    assert "pip install numba" in caplog.text


def _bytes(n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.uint8)


@pytest.mark.parametrize("call", [
    lambda: K.unit_floats(np.zeros(6, np.uint8), np.zeros(5, np.float32)),
    lambda: K.unit_bytes(np.zeros(6, np.float32), np.zeros(7, np.uint8)),
    lambda: K.wire_to_rgb(_bytes(31), 8, 4, 2, False, False, _bytes(24), _bytes(8)),  # a row short
    lambda: K.wire_to_rgb(_bytes(32), 7, 4, 2, False, False, _bytes(24), _bytes(8)),  # stride below 4 x width
    lambda: K.rgb_to_wire(_bytes(24), _bytes(7), 255, 4, 2, False, False, _bytes(32)),  # alpha short
    lambda: K.rgb_to_wire(_bytes(24), _bytes(0), 255, 4, 2, True, False, _bytes(31)),  # out short
])
def test_kernels_refuse_arrays_of_the_wrong_size(call):
    """Compiled without bounds checks, the kernels check the sizes they are given once: a short array is a
    ValueError, never a read or write past its end."""
    with pytest.raises(ValueError):
        call()
