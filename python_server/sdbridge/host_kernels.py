"""Compiled host (CPU) kernels for the per-frame pixel passes: one loop each where numpy and torch take several.

A 512x512 frame crosses four conversions on a CPU server: wire RGBA/BGRA -> (H, W, 3) RGB plus alpha
(runtime/pixels.py), uint8 -> the model's [-1, 1] float32 (pipeline/images.py), the decoded [-1, 1] float32 ->
uint8, and RGB plus alpha -> the wire layout. Written as numpy/torch array operations they took eleven passes
over the frame (about 0.8 ms of a 1.1 ms host time, one thread); these kernels do each conversion in one loop.

Bit for bit the same as the array operations they replace (tests/runtime/test_host_kernels.py checks every uint8
value, the rounding boundaries of the float -> uint8 map, NaN and the infinities, every wire layout):

- `unit_floats`: float32(x) / 127.5 - 1 in float32, two roundings, as `tensor.float().div_(127.5).sub_(1)` and
  diffusers' `2 * (x / 255) - 1` (equal on all 256 values).
- `unit_bytes`: rint((clamp(x, -1, 1) + 1) * 127.5) in float32, half to even, as torch's clamp, add_, mul_,
  round_ and the uint8 cast; NaN gives 0, as that cast gives on x86.

Compiled with numba on first use (no import-time work: `warm()` compiles them, `sdbridge serve` calls it while it
loads the model), cached on disk next to this file or, where that is read-only, in numba's user-wide cache
(NUMBA_CACHE_DIR overrides both). numba is a dependency of the package; where it is missing anyway (the GPU
check installs only what it carries, and llvmlite alone is 57 MiB) `kernels()` says so once in the log and the
callers keep their array operations (runtime/pixel_words.py, torch's), which the tests hold to the same bytes.
The loops below are plain Python (what numba compiles); uncompiled, on small arrays, the tests run them too.
They are compiled without bounds checks, so each checks the sizes it is given once and raises ValueError for an
array too short for them (the callers check the client's layout first: this is the last line, never reached).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _unit_floats(src: np.ndarray, out: np.ndarray) -> None:
    """out[i] = float32(src[i]) / 127.5 - 1: src (n,) uint8, out (n,) float32."""
    if out.shape[0] != src.shape[0]:  # compiled without bounds checks: sizes are checked once, here
        raise ValueError("unit_floats: src and out differ in length")
    scale = np.float32(127.5)
    one = np.float32(1.0)
    for i in range(src.shape[0]):
        out[i] = np.float32(src[i]) / scale - one


def _unit_bytes(src: np.ndarray, out: np.ndarray) -> None:
    """out[i] = rint((clamp(src[i], -1, 1) + 1) * 127.5) as uint8 (NaN: 0): src (n,) float32, out (n,) uint8."""
    if out.shape[0] != src.shape[0]:
        raise ValueError("unit_bytes: src and out differ in length")
    low = np.float32(-1.0)
    one = np.float32(1.0)
    scale = np.float32(127.5)
    for i in range(src.shape[0]):
        v = src[i]
        if v != v:  # NaN
            out[i] = 0
            continue
        v = min(max(v, low), one)
        out[i] = np.uint8(np.rint((v + one) * scale))


def _wire_to_rgb(src: np.ndarray, stride: int, height: int, width: int, flip: bool, bgr: bool,
                 rgb: np.ndarray, alpha: np.ndarray) -> None:
    """4-byte wire pixels -> RGB and alpha, top-down: src (stride * height,) uint8 (rows `stride` bytes apart,
    bottom-up when `flip`, B G R A when `bgr`), rgb (height * width * 3,) uint8, alpha (height * width,) uint8.
    (Row slices, not flat indices: numba's LLVM vectorises the loop over one row's slices, about 20x faster.)"""
    if (height < 0 or width < 0 or stride < 4 * width or src.shape[0] < stride * height
            or rgb.shape[0] != 3 * width * height or alpha.shape[0] != width * height):
        raise ValueError("wire_to_rgb: the arrays do not hold height rows of width pixels at stride")
    first = 2 if bgr else 0
    last = 0 if bgr else 2
    for y in range(height):
        start = (height - 1 - y if flip else y) * stride
        row = src[start:start + 4 * width]
        out = rgb[3 * width * y:3 * width * (y + 1)]
        opacity = alpha[width * y:width * (y + 1)]
        for x in range(width):
            out[3 * x] = row[4 * x + first]
            out[3 * x + 1] = row[4 * x + 1]
            out[3 * x + 2] = row[4 * x + last]
            opacity[x] = row[4 * x + 3]


def _rgb_to_wire(rgb: np.ndarray, alpha: np.ndarray, fill: int, height: int, width: int, flip: bool, bgr: bool,
                 out: np.ndarray) -> None:
    """RGB top-down -> packed 4-byte wire pixels: rgb (height * width * 3,) uint8, alpha (height * width,) uint8 or
    empty (then every alpha byte is `fill`), out (height * width * 4,) uint8, bottom-up when `flip`, B G R A when
    `bgr`."""
    given = alpha.shape[0] > 0
    if (height < 0 or width < 0 or rgb.shape[0] != 3 * width * height or out.shape[0] != 4 * width * height
            or (given and alpha.shape[0] != width * height)):
        raise ValueError("rgb_to_wire: the arrays do not hold height rows of width pixels")
    first = 2 if bgr else 0
    last = 0 if bgr else 2
    for y in range(height):
        start = 4 * width * (height - 1 - y if flip else y)
        row = out[start:start + 4 * width]
        pixels = rgb[3 * width * y:3 * width * (y + 1)]
        opacity = alpha[width * y:width * (y + 1)] if given else alpha
        for x in range(width):
            row[4 * x] = pixels[3 * x + first]
            row[4 * x + 1] = pixels[3 * x + 1]
            row[4 * x + 2] = pixels[3 * x + last]
            row[4 * x + 3] = opacity[x] if given else fill


@dataclass(frozen=True)
class Kernels:
    """The compiled kernels (numba dispatchers; same signatures as the module's plain functions)."""

    unit_floats: Any
    unit_bytes: Any
    wire_to_rgb: Any
    rgb_to_wire: Any


@cache
def kernels() -> Kernels | None:
    """The kernels (each compiled on its first call), or None where numba is not installed: then the callers run
    their numpy / torch array operations, the same bytes about 0.6 ms slower per 512x512 frame (logged once)."""
    try:
        import numba
    except ImportError:
        log.warning("numba is not installed: the CPU pixel conversions run as numpy/torch array operations (the same "
                    "bytes, slower); pip install numba to compile them")
        return None
    try:
        jit = numba.njit(cache=True, nogil=True, boundscheck=False)
        return Kernels(jit(_unit_floats), jit(_unit_bytes), jit(_wire_to_rgb), jit(_rgb_to_wire))
    except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
        log.warning("pixel kernels compile on every start: numba cannot cache them (%s); set NUMBA_CACHE_DIR to a "
                    "writable folder to keep them", exc)
        jit = numba.njit(cache=False, nogil=True, boundscheck=False)
        return Kernels(jit(_unit_floats), jit(_unit_bytes), jit(_wire_to_rgb), jit(_rgb_to_wire))


def warm() -> float | None:
    """Compile (or load from the cache) every kernel for the argument types the server passes: the seconds taken,
    None where numba is not installed (`kernels()` logged it)."""
    start = time.perf_counter()
    k = kernels()
    if k is None:
        return None
    pixels = np.zeros(8, dtype=np.uint8)
    floats = np.zeros(6, dtype=np.float32)
    k.unit_floats(pixels[:6], floats)
    k.unit_bytes(floats, pixels[:6])
    wire = np.zeros(16, dtype=np.uint8)
    for src in (wire, np.frombuffer(wire.tobytes(), dtype=np.uint8)):  # writable, and read-only wire bytes
        k.wire_to_rgb(src, 8, 2, 2, False, False, np.zeros(12, dtype=np.uint8), np.zeros(4, dtype=np.uint8))
    k.rgb_to_wire(np.zeros(12, dtype=np.uint8), np.zeros(4, dtype=np.uint8), 255, 2, 2, False, False, wire)
    return time.perf_counter() - start
