"""The recording container (".sdrec"): a folder, or a zip of that folder, holding

    meta.json        {"format": "sdbridge-recording", "version": 1, "sdbridge": ..., "session": {...},
                      "model": {...}, "created": ISO time}
    log.jsonl        one JSON object per line, in the order things happened:
                     {"seq": n, "t": seconds since the session opened, "frame": frames received so far,
                      "kind": ..., ...}
    frames/NNNNNN-in.npy / NNNNNN-out.npy   the exact input array of pipeline call N and its output

Kinds written by the worker (what `sdbridge replay` re-runs, in order): "build" {width, height,
config} - a pipeline was built with this StreamConfig; "prepare" {prompt, negative_prompt};
"update" {values, failed} - pipeline.update(**values); "call" {call, is_warmup, skipped} - the
pipeline ran on frames/<call>-in.npy and returned frames/<call>-out.npy. Kinds written by the I/O
thread (what the engine sent, for QA; replay does not need them): "event" {name, payload, frame_id},
"state" {entries, replace_all}, "prompt" {...}, "params" {...}.

JSON values: tuples become arrays; an Enum becomes {"$enum": "<class name>", "value": <value>}.
While a session runs, its recording is a folder (every log line is flushed, so a crash keeps what was
written); when the session ends it is packed into a zip file of the same name and the folder removed.
"""

from __future__ import annotations

import enum
import io
import json
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sdbridge.errors import InputError

FORMAT = "sdbridge-recording"
VERSION = 1
SUFFIX = ".sdrec"


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


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


class RecordingWriter:
    """Writes one session's recording folder; thread-safe (the worker and the I/O thread both write)."""

    def __init__(self, folder: Path, meta: Mapping[str, Any]) -> None:
        self.folder = folder
        (folder / "frames").mkdir(parents=True, exist_ok=False)
        (folder / "meta.json").write_text(json.dumps({"format": FORMAT, "version": VERSION, **to_json(meta)},
                                                     indent=2), encoding="utf-8")
        self._log = (folder / "log.jsonl").open("w", encoding="utf-8")
        self._lock = threading.Lock()
        self._seq = 0
        self._start = time.monotonic()
        self.calls = 0
        self.closed = False

    def write(self, kind: str, frame: int, **data: Any) -> None:
        """Append one log line (nothing once closed)."""
        with self._lock:
            if not self.closed:
                self._write(kind, frame, data)

    def _write(self, kind: str, frame: int, data: Mapping[str, Any]) -> None:
        line = {"seq": self._seq, "t": round(time.monotonic() - self._start, 6), "frame": frame, "kind": kind,
                **to_json(data)}
        self._seq += 1
        self._log.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._log.flush()

    def write_call(self, frame: int, image_in: np.ndarray, image_out: np.ndarray, **data: Any) -> None:
        """A pipeline call: its input and output arrays, then its log line (nothing once closed)."""
        with self._lock:
            if self.closed:
                return
            call = self.calls
            self.calls += 1
            (self.folder / "frames" / f"{call:06d}-in.npy").write_bytes(_npy_bytes(image_in))
            (self.folder / "frames" / f"{call:06d}-out.npy").write_bytes(_npy_bytes(image_out))
            self._write("call", frame, {"call": call, **data})

    def close(self, pack: bool = True) -> Path:
        """Stop writing; with `pack`, zip the folder into `<folder>` as a file and remove the folder."""
        with self._lock:
            if self.closed:
                return self.folder
            self.closed = True
            self._log.close()
        if not pack:
            return self.folder
        tmp = self.folder.with_name(self.folder.name + ".zip-partial")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for path in sorted(self.folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(self.folder).as_posix())
        shutil.rmtree(self.folder)
        tmp.rename(self.folder)
        return self.folder


@dataclass(frozen=True)
class Entry:
    """One log line of a recording."""

    seq: int
    kind: str
    frame: int
    t: float
    data: Mapping[str, Any]


class Recording:
    """A recording opened for reading: a folder or a zip file (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_dir():
            pass
        elif zipfile.is_zipfile(self.path):
            self._zip = zipfile.ZipFile(self.path)
        else:
            raise InputError(f"{self.path} is not a recording (a {SUFFIX} folder or zip written by "
                             f"`sdbridge serve --record DIR`)")
        try:
            self.meta: dict[str, Any] = json.loads(self._read("meta.json"))
        except (KeyError, FileNotFoundError) as exc:
            raise InputError(f"{self.path} has no meta.json: not a recording") from exc
        if self.meta.get("format") != FORMAT or self.meta.get("version") != VERSION:
            raise InputError(f"{self.path}: format {self.meta.get('format')!r} version {self.meta.get('version')!r}; "
                             f"this sdbridge reads {FORMAT!r} version {VERSION}")

    def _read(self, name: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(name)
        return (self.path / name).read_bytes()

    def entries(self) -> Iterator[Entry]:
        """Every log line in order (a truncated last line of a crashed session is skipped)."""
        for raw in self._read("log.jsonl").decode("utf-8").splitlines():
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue
            data = {k: v for k, v in line.items() if k not in ("seq", "kind", "frame", "t")}
            yield Entry(line["seq"], line["kind"], line["frame"], line["t"], data)

    def frame(self, call: int, which: str) -> np.ndarray:
        """The input ("in") or output ("out") array of pipeline call `call`."""
        return np.load(io.BytesIO(self._read(f"frames/{call:06d}-{which}.npy")), allow_pickle=False)

    def close(self) -> None:
        """Close the zip file (if any)."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
