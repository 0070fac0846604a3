"""Keep freed frame-sized host buffers in the process heap instead of handing them back to the kernel.

Every frame allocates a few host buffers of a frame's size (the model input, the uint8 output, the packed
result: 0.75-3 MiB at 512x512, up to 24 MiB at 1920x1080) and frees them before the next. glibc's malloc
serves blocks that large with mmap and unmaps them on free (or trims the heap top), so the next frame's
buffers fault their pages in again: measured here about 400 page faults and 0.7 ms of system time per
512x512 frame. `keep_freed_buffers` raises glibc's mmap and trim thresholds (mallopt) so those blocks come
from, and go back to, the heap: the steady state faults no page. The settings are process-wide, so a
library object (the worker, the server) never makes them: the process entry points do, `sdbridge serve` once
the model has loaded (before clients' frames; it logs what it set) and `sdbridge bench pipeline --host-time`
before it measures. A program embedding the server calls it itself when it wants the same. The cost is
memory: up to `trim_threshold` bytes of freed heap stay mapped. Other C libraries (musl, macOS, Windows) are
left alone.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1  # glibc malloc.h
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit): a 1080p float32 frame fits
TRIM_THRESHOLD = 256 * 1024 * 1024

_applied: bool | None = None


def keep_freed_buffers(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD (once per process); True when glibc took both."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        gnu_version = libc.gnu_get_libc_version  # glibc only: musl has a mallopt that does nothing
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    gnu_version.restype = ctypes.c_char_p
    _applied = mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1
    log.debug("glibc %s: mmap threshold %d, trim threshold %d: %s", gnu_version().decode(), mmap_threshold,
              trim_threshold, "set" if _applied else "refused")
    return _applied
