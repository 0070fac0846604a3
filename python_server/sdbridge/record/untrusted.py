"""Reading a recording as untrusted input: a recording is a file anyone can hand to `sdbridge replay`, so
every read here is bounded before it happens and every problem is an InputError naming the file, the line
or member, the value and the bound (never a traceback, never an allocation chosen by the file).

- only regular files are opened (checked with os.stat before opening and with os.fstat after, opened
  non-blocking): a link to a device, a FIFO or a socket is refused instead of read until memory runs out
  or blocking forever;
- log lines are read one at a time with a length bound (`bounded_lines`): a longer line is an error naming
  its number and the bound, and no line is held longer than the bound;
- parsed JSON is checked for nesting depth (`checked_json`), RecursionError included;
- a .npy frame is checked from its header (dtype, shape, declared bytes against the bound, declared bytes
  against the member's size) before its data is read (`read_npy`).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from sdbridge.errors import InputError

_KINDS = ((stat.S_ISDIR, "folder"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
          (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"))
_NPY_HEADER_MAX = 4096  # a .npy header numpy writes for an image array is 128 bytes


def file_kind(mode: int) -> str:
    """A reader's word for a file type (st_mode)."""
    if stat.S_ISREG(mode):
        return "regular file"
    return next((name for test, name in _KINDS if test(mode)), "special file")


def open_regular(path: os.PathLike[str] | str, what: str) -> IO[bytes]:
    """Open `path` for reading only if it is (or links to) a regular file; never blocks on a FIFO."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise InputError(f"{what} {path} is a {file_kind(mode)}, not a regular file: a recording is read from "
                         f"regular files only (links to devices, FIFOs or sockets are refused)")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode  # the file opened is the one checked (it may have been swapped meanwhile)
        if not stat.S_ISREG(mode):
            raise InputError(f"{what} {path} is a {file_kind(mode)}, not a regular file: refused")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def bounded_lines(stream: IO[bytes], max_line_bytes: int, name: str) -> Iterator[tuple[int, bytes, bool]]:
    """(line number from 1, the line without its newline, whether a newline ended it) for each line.

    At most `max_line_bytes + 1` bytes are read per line: a longer line is an InputError naming its number
    and the bound. Time is linear in the stream's size.
    """
    number = 0
    while True:
        raw = stream.readline(max_line_bytes + 1)
        if not raw:
            return
        number += 1
        complete = raw.endswith(b"\n")
        if complete:
            raw = raw[:-1]
        elif len(raw) > max_line_bytes:
            raise InputError(f"{name}: line {number} is longer than {max_line_bytes} bytes, the longest line a "
                             f"recording made under these limits holds (a recording from a server with larger "
                             f"limits: pass its config with --config)")
        yield number, raw, complete


def json_depth_ok(value: Any, max_depth: int) -> bool:
    """True when `value` (parsed JSON) nests lists and objects at most `max_depth` deep (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


def checked_json(raw: bytes, max_depth: int, where: str) -> Any:
    """Parse one JSON document; nesting deeper than `max_depth` is an InputError (ValueError: not JSON)."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deep to parse (a recording nests at most {max_depth} "
                         f"levels)") from None
    if not json_depth_ok(value, max_depth):
        raise InputError(f"{where}: JSON nested deeper than {max_depth} levels, the most a recording uses")
    return value


def read_npy(stream: IO[bytes], size: int, max_bytes: int, where: str) -> np.ndarray:
    """A numeric array from a .npy stream of `size` bytes, checked against `max_bytes` before reading.

    The header is read first (at most a few KiB); its dtype must be numeric, its declared data bytes at
    most `max_bytes` and exactly what the member holds after the header. Only then is the data read.
    """
    if size > max_bytes + _NPY_HEADER_MAX:
        raise InputError(f"{where}: {size} bytes, above the largest frame a recording holds ({max_bytes} bytes "
                         f"of pixels: limits.max_width x max_height x 4)")
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream, max_header_size=_NPY_HEADER_MAX)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream, max_header_size=_NPY_HEADER_MAX)
        else:
            raise ValueError(f"npy version {version}; recordings use 1.0")
    except (ValueError, SyntaxError, EOFError, OSError) as exc:
        raise InputError(f"{where}: not a .npy array ({exc})") from None
    if dtype.hasobject or dtype.kind not in "biuf" or any(not isinstance(d, int) or d < 0 for d in shape):
        raise InputError(f"{where}: array of dtype {dtype} and shape {shape}; a recorded frame is a numeric array")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize  # Python ints: no overflow
    if declared > max_bytes:
        raise InputError(f"{where}: declares {declared} bytes (shape {shape}, {dtype}), above the largest frame "
                         f"a recording holds ({max_bytes} bytes)")
    header_end = stream.tell()
    if header_end + declared != size:
        raise InputError(f"{where}: declares {declared} bytes of data after a {header_end}-byte header but holds "
                         f"{size - header_end}: the file is damaged")
    data = stream.read(declared)
    if len(data) != declared:
        raise InputError(f"{where}: ends after {len(data)} of {declared} bytes of data: the file is damaged")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array.copy()  # writable and owning its memory, like np.load's result
