"""Per-session recording: a wrapper around the session's pipeline that logs every call, and the
recorder that owns the session's container (see sdbridge.record.format).

The worker wraps each pipeline it builds (`Recorder.wrap`); the server notes the engine's control
messages (`Recorder.note`). No torch import here.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sdbridge.record.format import SUFFIX, RecordingWriter

log = logging.getLogger(__name__)


class RecordingPipeline:
    """Forwards prepare/update/__call__ to the real pipeline and logs each one (with the frame arrays)."""

    def __init__(self, inner: Any, writer: RecordingWriter, frame_clock: Callable[[], int]) -> None:
        self._inner = inner
        self._writer = writer
        self._clock = frame_clock
        config = getattr(inner, "config", None)
        width, height = getattr(config, "width", 0), getattr(config, "height", 0)
        as_dict = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}
        writer.write("build", self._clock(), width=width, height=height, config=as_dict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def prepare(self, prompt: Any = "", negative_prompt: Any = "") -> None:
        """Log, then forward."""
        self._writer.write("prepare", self._clock(), prompt=prompt, negative_prompt=negative_prompt)
        self._inner.prepare(prompt=prompt, negative_prompt=negative_prompt)

    def update(self, **kwargs: Any) -> None:
        """Forward, then log (also a failed update: it may have changed part of the pipeline's state)."""
        try:
            self._inner.update(**kwargs)
        except Exception:
            self._writer.write("update", self._clock(), values=kwargs, failed=True)
            raise
        self._writer.write("update", self._clock(), values=kwargs, failed=False)

    def __call__(self, image: Any) -> Any:
        """Forward; log the input and output arrays."""
        snapshot = np.array(image, copy=True)  # the input may be a view of a wire buffer reused later
        result = self._inner(image)
        self._writer.write_call(self._clock(), snapshot, np.asarray(result.image),
                                is_warmup=bool(result.is_warmup), skipped=bool(result.skipped))
        return result


class Recorder:
    """Recordings of the sessions of one server, each in `folder/session-<id>-<UTC time>.sdrec`."""

    def __init__(self, folder: str | Path, model: Mapping[str, Any]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._model = dict(model)
        self._writers: dict[int, RecordingWriter] = {}
        self._clocks: dict[int, Callable[[], int]] = {}
        self._packers: list[threading.Thread] = []
        self._lock = threading.Lock()  # the I/O thread closes sessions; close_all may run on another thread
        self.finished: list[Path] = []  # recordings closed (and packed) so far

    def open(self, session_id: int, client: Mapping[str, Any], frame_clock: Callable[[], int]) -> Path:
        """Start recording a session; `frame_clock()` returns the frames it has sent so far."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.folder / f"session-{session_id}-{stamp}{SUFFIX}"
        self._writers[session_id] = RecordingWriter(path, {
            "session": {"id": session_id, **client}, "model": self._model,
            "created": datetime.now(UTC).isoformat(),
        })
        self._clocks[session_id] = frame_clock
        log.info("recording session %d to %s", session_id, path)
        return path

    def wrap(self, session_id: int, pipeline: Any) -> Any:
        """The session's pipeline wrapped so that every call is recorded (unchanged if not recording)."""
        writer, clock = self._writers.get(session_id), self._clocks.get(session_id)
        if writer is None or clock is None:
            return pipeline
        return RecordingPipeline(pipeline, writer, clock)

    def note(self, session_id: int, kind: str, **data: Any) -> None:
        """Log an input of the session (event, state, prompt, params) at its current frame."""
        writer, clock = self._writers.get(session_id), self._clocks.get(session_id)
        if writer is not None and clock is not None:
            writer.write(kind, clock(), **data)

    def close(self, session_id: int, wait: bool = False) -> None:
        """Stop recording a session and pack its folder into one file (in a background thread)."""

        def pack(writer: RecordingWriter) -> None:
            try:
                self.finished.append(writer.close(pack=True))
            except OSError:
                log.exception("could not pack recording %s; the folder is kept and replays as it is", writer.folder)

        with self._lock:  # pop and register the packer at once, so close_all always sees it
            writer = self._writers.pop(session_id, None)
            self._clocks.pop(session_id, None)
            if writer is None:
                return
            thread = threading.Thread(target=pack, args=(writer,), name=f"sdbridge-pack-{session_id}", daemon=True)
            thread.start()
            self._packers = [t for t in self._packers if t.is_alive()] + [thread]
        if wait:
            thread.join()

    def close_all(self, timeout: float = 60.0) -> None:
        """Close every recording and wait for the packing to finish (any thread)."""
        for session_id in list(self._writers):
            self.close(session_id)
        with self._lock:
            packers = list(self._packers)
        for thread in packers:
            thread.join(timeout)
