"""The recording container (".sdrec"): a folder, or a zip of that folder, holding

    meta.json        {"format": "sdbridge-recording", "version": 1, "sdbridge": ..., "session": {...},
                      "model": {...}, "created": ISO time}
    log.jsonl        one JSON object per line, in the order things happened:
                     {"seq": n, "t": seconds since the session opened, "frame": frames received so far,
                      "kind": ..., ...}
    frames/NNNNNN-in.npy / NNNNNN-out.npy   the exact input array of pipeline call N and its output
    frames/NNNNNN-plane-K.npy                plane K of the frame of pipeline call N (protocol 1.3 planes)
    frames/NNNNNN-style-K.npy                style image K of style set N (a "styles" line; protocol 1.4)

meta.json's "model" holds names and numbers only: name, device, dtype, width, height, and what the served model
had: "controlnet" and "segmentation" ([model] entries, one a line) and "ip_adapter" (the IP-Adapter's
SOURCE[@SCALE], "" for none; older recordings lack it), which `sdbridge replay` loads again.

Kinds written by the worker (what `sdbridge replay` re-runs, in order): "build" {width, height,
config} - a pipeline was built with this StreamConfig; "prepare" {prompt, negative_prompt};
"update" {values, failed} - pipeline.update(**values); "planes" {call, descs} - the frame of the next call
came with these planes (PlaneDesc fields; arrays frames/<call>-plane-K.npy), which set its ControlNet images
(sdbridge.runtime.control_inputs; written only for pipelines with ControlNets); "scene_cut" {} - the client's
Frame.scene_cut (protocol 1.4) made the pipeline drop its temporal state here; "styles" {set, names[, failed]} -
the style images of an update (StyleImage messages, a rules file's styles: arrays frames/<set>-style-K.npy), applied
as update(style_images=...) before that update's "update" line (which holds its other values; "failed": true when
the update raised); "call" {call, is_warmup, skipped} - the pipeline ran on frames/<call>-in.npy and returned
frames/<call>-out.npy. Kinds written by the I/O thread (what the engine sent, for QA; replay does not need them):
"event" {name, payload, frame_id}, "state" {entries, replace_all}, "prompt" {...}, "params" {...}. Only messages the
server accepted are written (a message refused with an Error is not recorded), and one such input keeps at most
limits.max_event_payload_bytes of JSON: a larger field is written as {"$omitted_bytes": n, "limit": ...}.

JSON values: tuples become arrays; an Enum becomes {"$enum": "<class name>", "value": <value>}.
While a session runs, its recording is a folder (every log line is flushed, so a crash keeps what was
written); when the session ends it is packed into a zip file of the same name and the folder removed.
A recording that cannot be written (full disk, read-only folder) stops for that session with one log
line; the folder keeps what was written and replays as far as it goes.

Sizes (`RecordLimits`, derived from the server's limits): a log line is at most `max_line_bytes`, a frame
at most `max_frame_bytes` of pixels (a plane twice that: up to 8 bytes a pixel). The writer keeps to them and
the reader (`Recording`) checks them before reading, treating the file as untrusted (sdbridge.record.untrusted).
"""

from __future__ import annotations

import contextlib
import enum
import io
import json
import logging
import os
import shutil
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from sdbridge.config import LimitsConfig
from sdbridge.errors import InputError
from sdbridge.record.untrusted import bounded_lines, checked_json, file_kind, open_regular, read_npy

FORMAT = "sdbridge-recording"
VERSION = 1
SUFFIX = ".sdrec"
#: what replay re-runs; every other kind is a note
WORKER_KINDS = ("build", "prepare", "update", "planes", "scene_cut", "styles", "call")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordLimits:
    """Sizes a recording keeps to (writer) and that a reader checks before reading, from config.LimitsConfig."""

    max_input_bytes: int  # JSON bytes of one recorded engine input: limits.max_event_payload_bytes
    max_line_bytes: int  # one log line
    max_frame_bytes: int  # pixel bytes of one recorded frame array
    max_json_depth: int = 16  # nesting of a log line (a recording uses at most 5)

    @classmethod
    def from_config(cls, limits: LimitsConfig | None = None) -> RecordLimits:
        """The sizes for a server running under `limits` (default: LimitsConfig's defaults).

        A line holds one engine input (at most max_event_payload_bytes) or one pipeline change, whose texts
        are bounded by the prompt budgets: (max_prompt_blend + 2) texts of max_text_chars characters, at most
        6 bytes each as JSON; 64 KiB more for the line's other fields.
        """
        lim = limits if limits is not None else LimitsConfig()
        texts = (lim.max_prompt_blend + 2) * lim.max_text_chars * 6
        return cls(max_input_bytes=lim.max_event_payload_bytes,
                   max_line_bytes=max(lim.max_event_payload_bytes, texts) + 64 * 1024,
                   max_frame_bytes=lim.max_width * lim.max_height * 4)


def to_json(value: Any) -> Any:
    """A JSON-able form of pipeline values (enums tagged, tuples as lists, numpy scalars as numbers)."""
    if isinstance(value, enum.Enum):
        return {"$enum": type(value).__name__, "value": value.value}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_json(value: Any, enums: Mapping[str, type[enum.Enum]]) -> Any:
    """The inverse of `to_json` for the Enum classes in `enums` (class name -> class)."""
    if isinstance(value, dict):
        if set(value) == {"$enum", "value"}:
            cls = enums.get(value["$enum"])
            if cls is None:
                raise InputError(f"recording uses enum {value['$enum']!r}, unknown here (known: {sorted(enums)})")
            return cls(value["value"])
        return {k: from_json(v, enums) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v, enums) for v in value]
    return value


def dumps(value: Any) -> str:
    """The JSON text of a log line (compact; UTF-8 text kept as is, so a character costs at most 6 bytes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def describe_error(exc: BaseException) -> str:
    """A one-line reason for a failed write: "No space left on device (OSError)" or "Type: message"."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


def open_text(path: Path) -> IO[str]:
    """`path` opened for writing UTF-8 text (created or emptied): how a writer opens its log by default."""
    return path.open("w", encoding="utf-8")


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


class RecordingWriter:
    """Writes one session's recording folder; thread-safe (the worker and the I/O thread both write).

    Writing never raises once the folder is made: a failure (full disk, folder made read-only or removed,
    a line above `limits.max_line_bytes`) stops this recording with one warning and `failed` says why.
    """

    def __init__(self, folder: Path, meta: Mapping[str, Any], limits: RecordLimits | None = None,
                 open_log: Callable[[Path], IO[str]] = open_text) -> None:
        """Make the folder and meta.json (raises OSError when it cannot, leaving nothing behind).

        `open_log(path)` opens the log for writing (default: `open_text`, the file `folder/log.jsonl`); the
        writer closes what it returns. Another opener puts the log elsewhere, e.g. on a full device.
        """
        self.folder = folder
        self.limits = limits if limits is not None else RecordLimits.from_config()
        folder.mkdir(exist_ok=False)
        try:
            (folder / "frames").mkdir()
            (folder / "meta.json").write_text(json.dumps({"format": FORMAT, "version": VERSION, **to_json(meta)},
                                                         indent=2), encoding="utf-8")
            self._log = open_log(folder / "log.jsonl")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # the folder this call made, nothing else
            raise
        self._lock = threading.Lock()
        self._seq = 0
        self._start = time.monotonic()
        self.calls = 0
        self.style_sets = 0  # "styles" lines written
        self.closed = False
        self.failed = ""  # why recording stopped early ("" while it goes on)

    def write(self, kind: str, frame: int, **data: Any) -> None:
        """Append one log line (nothing once closed or failed)."""
        with self._lock:
            if self.closed:
                return
            try:
                self._write(kind, frame, data)
            except Exception as exc:  # recording must never fail the session it records
                self._fail(exc)

    def _write(self, kind: str, frame: int, data: Mapping[str, Any]) -> None:
        line = {"seq": self._seq, "t": round(time.monotonic() - self._start, 6), "frame": frame, "kind": kind,
                **to_json(data)}
        text = dumps(line)
        size = len(text.encode("utf-8"))
        if size > self.limits.max_line_bytes:
            raise InputError(f"a {kind!r} log line of {size} bytes is above the recording's line bound "
                             f"{self.limits.max_line_bytes} (from limits.max_event_payload_bytes, "
                             f"max_prompt_blend and max_text_chars)")
        self._seq += 1
        self._log.write(text + "\n")
        self._log.flush()

    def write_call(self, frame: int, image_in: np.ndarray, image_out: np.ndarray, **data: Any) -> None:
        """A pipeline call: its input and output arrays, then its log line (nothing once closed or failed)."""
        with self._lock:
            if self.closed:
                return
            try:
                call = self.calls
                (self.folder / "frames" / f"{call:06d}-in.npy").write_bytes(_npy_bytes(image_in))
                (self.folder / "frames" / f"{call:06d}-out.npy").write_bytes(_npy_bytes(image_out))
                self._write("call", frame, {"call": call, **data})
                self.calls += 1
            except Exception as exc:  # recording must never fail the session it records
                self._fail(exc)

    def write_planes(self, frame: int, descs: list[dict[str, Any]], arrays: list[np.ndarray]) -> None:
        """The planes of the next call's frame: each array, then one "planes" line (nothing once closed or failed)."""
        with self._lock:
            if self.closed:
                return
            try:
                call = self.calls
                for k, array in enumerate(arrays):
                    (self.folder / "frames" / f"{call:06d}-plane-{k}.npy").write_bytes(_npy_bytes(array))
                self._write("planes", frame, {"call": call, "descs": descs})
            except Exception as exc:  # recording must never fail the session it records
                self._fail(exc)

    def write_styles(self, frame: int, images: Any, failed: bool = False) -> None:
        """The style images of an update (a StyleImages: names and (H, W, 3) arrays): each array, then one "styles"
        line, with `failed` when the update raised (nothing once closed or failed)."""
        with self._lock:
            if self.closed:
                return
            try:
                n = self.style_sets
                for k, (_name, image) in enumerate(images.images):
                    (self.folder / "frames" / f"{n:06d}-style-{k}.npy").write_bytes(_npy_bytes(np.asarray(image)))
                line = {"set": n, "names": list(images.names)} | ({"failed": True} if failed else {})
                self._write("styles", frame, line)
                self.style_sets += 1
            except Exception as exc:  # recording must never fail the session it records
                self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        """Stop this recording (lock held): one warning line; what was written stays and replays."""
        self.closed = True
        reason = describe_error(exc)
        self.failed = reason
        with contextlib.suppress(OSError):
            self._log.close()  # flushes what the failed write left buffered, or fails again: either is fine
        log.warning("recording %s stopped: %s; the session goes on without recording, and what was written "
                    "before stays in the folder (it replays up to there)", self.folder, reason)

    def close(self, pack: bool = True) -> Path:
        """Stop writing; with `pack`, zip the folder into `<folder>` as a file and remove the folder.

        A recording that failed is not packed (its folder stays). Raises OSError when packing fails; the
        folder is then kept and the partial zip removed.
        """
        with self._lock:
            if self.closed:
                return self.folder
            self.closed = True
            self._log.close()
        if not pack:
            return self.folder
        tmp = self.folder.with_name(self.folder.name + ".zip-partial")
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
                for path in sorted(self.folder.rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(self.folder).as_posix())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        shutil.rmtree(self.folder)
        tmp.rename(self.folder)
        return self.folder


@dataclass(frozen=True)
class Entry:
    """One log line of a recording (`line`: its line number in log.jsonl, from 1)."""

    seq: int
    kind: str
    frame: int
    t: float
    data: Mapping[str, Any]
    line: int = 0


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry(value: Any, number: int, where: str) -> Entry:
    """A parsed log line checked for the fields every line has (and the call number of a "call")."""
    if not isinstance(value, dict):
        raise InputError(f"{where}: line {number} is a JSON {type(value).__name__}; each line is an object")
    for key, ok in (("seq", _is_int), ("kind", lambda v: isinstance(v, str)), ("frame", _is_int),
                    ("t", lambda v: _is_int(v) or isinstance(v, float))):
        if not ok(value.get(key)):
            raise InputError(f"{where}: line {number}: field {key!r} is {value.get(key)!r}; a recording's lines "
                             f"carry seq (integer), kind (text), frame (integer) and t (seconds)")
    if value["kind"] == "call":
        call = value.get("call")
        if not _is_int(call) or not 0 <= call < 10**9:
            raise InputError(f"{where}: line {number}: call index {call!r}; a call index is an integer in "
                             f"[0, 10^9) naming frames/NNNNNN-in.npy")
    data = {k: v for k, v in value.items() if k not in ("seq", "kind", "frame", "t")}
    return Entry(value["seq"], value["kind"], value["frame"], value["t"], data, number)


class Recording:
    """A recording opened for reading: a folder or a zip file (see the module docstring).

    The file is untrusted: only regular files are read, every line, frame and member is checked against
    `limits` before it is read, and every problem is an InputError naming the line or member.
    """

    def __init__(self, path: str | Path, limits: RecordLimits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits if limits is not None else RecordLimits.from_config()
        self._zip: zipfile.ZipFile | None = None
        self._file: IO[bytes] | None = None
        try:
            mode = os.stat(self.path).st_mode
        except OSError as exc:
            raise InputError(f"cannot read recording {self.path}: {exc.strerror}; pass a session-*.sdrec that "
                             "`sdbridge serve --record DIR` wrote into DIR") from None
        if file_kind(mode) != "folder":
            self._file = open_regular(self.path, "recording")
            try:
                self._zip = zipfile.ZipFile(self._file)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError):
                self.close()
                raise InputError(f"{self.path} is not a recording (a {SUFFIX} folder or zip written by "
                                 f"`sdbridge serve --record DIR`)") from None
        try:
            self.meta = self._meta()
        except BaseException:
            self.close()
            raise

    def _meta(self) -> dict[str, Any]:
        with self._member("meta.json") as (stream, size):
            if size > self.limits.max_line_bytes:
                raise InputError(f"{self.path}: meta.json has {size} bytes, above {self.limits.max_line_bytes}")
            try:
                meta = checked_json(stream.read(size), self.limits.max_json_depth, f"{self.path}: meta.json")
            except ValueError as exc:
                raise InputError(f"{self.path}: meta.json is not JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
            got = (meta.get("format"), meta.get("version")) if isinstance(meta, dict) else (None, None)
            raise InputError(f"{self.path}: format {got[0]!r} version {got[1]!r}; this sdbridge reads "
                             f"{FORMAT!r} version {VERSION}")
        return meta

    @contextmanager
    def _member(self, name: str) -> Iterator[tuple[IO[bytes], int]]:
        """An open member (a regular file in the folder, or a zip entry) and its declared size."""
        where = f"{self.path}: {name}"
        try:
            if self._zip is not None:
                try:
                    info = self._zip.getinfo(name)
                except KeyError:
                    raise InputError(f"{where} is missing: the recording is incomplete") from None
                stream, size = self._zip.open(info), info.file_size
            else:
                if not (self.path / name).exists():
                    raise InputError(f"{where} is missing: the recording is incomplete")
                stream = open_regular(self.path / name, "recording member")
                size = os.fstat(stream.fileno()).st_size
            with stream:
                yield stream, size
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise InputError(f"{where} cannot be read: {exc}") from None

    def entries(self) -> Iterator[Entry]:
        """Every log line in order; a last line cut short (no newline: the session crashed) is skipped."""
        name = f"{self.path}: log.jsonl"
        with self._member("log.jsonl") as (stream, _size):
            for number, raw, complete in bounded_lines(stream, self.limits.max_line_bytes, name):
                if not raw:
                    raise InputError(f"{name}: line {number} is empty; a recording has one JSON object per line")
                try:
                    value = checked_json(raw, self.limits.max_json_depth, f"{name}: line {number}")
                except ValueError as exc:
                    if not complete:
                        log.warning("%s: last line %d is cut short (the session crashed while writing it): "
                                    "skipped", name, number)
                        return
                    raise InputError(f"{name}: line {number} is not JSON ({exc})") from None
                yield _entry(value, number, name)

    def has_frame(self, call: int, which: str) -> bool:
        """Whether the recording holds the "in" or "out" array of pipeline call `call`."""
        name = f"frames/{call:06d}-{which}.npy"
        if self._zip is None:
            return (self.path / name).exists()
        try:
            self._zip.getinfo(name)
        except KeyError:
            return False
        return True

    def frame(self, call: int, which: str) -> np.ndarray:
        """The input ("in") or output ("out") array of pipeline call `call` (checked before it is read)."""
        if not _is_int(call) or call < 0:
            raise InputError(f"{self.path}: call index {call!r}; a call index is a non-negative integer")
        name = f"frames/{call:06d}-{which}.npy"
        with self._member(name) as (stream, size):
            return read_npy(stream, size, self.limits.max_frame_bytes, f"{self.path}: {name}")

    def plane(self, call: int, index: int) -> np.ndarray:
        """Plane `index` of the frame of pipeline call `call` (checked before it is read: at most twice
        max_frame_bytes, a plane having up to 8 bytes a pixel)."""
        if not _is_int(call) or call < 0 or not _is_int(index) or index < 0:
            raise InputError(f"{self.path}: plane {index!r} of call {call!r}; both are non-negative integers")
        name = f"frames/{call:06d}-plane-{index}.npy"
        with self._member(name) as (stream, size):
            return read_npy(stream, size, 2 * self.limits.max_frame_bytes, f"{self.path}: {name}")

    def close(self) -> None:
        """Close the zip file (if any)."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
