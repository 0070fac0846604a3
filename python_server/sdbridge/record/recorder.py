"""Per-session recording: a wrapper around the session's pipeline that logs every call, and the
recorder that owns the session's container (see sdbridge.record.format).

The worker wraps each pipeline it builds (`Recorder.wrap`); the server notes the engine's control
messages it accepted (`Recorder.note`). No torch import here.

Recording never hurts serving: the folder is checked at start (`check_folder`, a ConfigError otherwise);
after that nothing here raises into the server. A recording that cannot be created or written (full disk,
read-only or removed folder) is given up for that session only, with one warning line, and the session
is served as before. Each recorded engine input keeps at most limits.max_event_payload_bytes of JSON.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sdbridge.errors import ConfigError
from sdbridge.record.format import SUFFIX, RecordingWriter, RecordLimits, describe_error, dumps, to_json

log = logging.getLogger(__name__)

#: What makes a session's writer: (recording path, meta, limits) -> a RecordingWriter (or one that acts alike).
WriterFactory = Callable[[Path, Mapping[str, Any], RecordLimits], RecordingWriter]


def check_folder(folder: str | Path) -> Path:
    """The record folder, made if missing; ConfigError unless this process can create files in it."""
    path = Path(folder)
    step = "cannot create it"
    try:
        path.mkdir(parents=True, exist_ok=True)
        step = "cannot write a file in it"
        with tempfile.NamedTemporaryFile(dir=path, prefix=".sdbridge-write-check-") as probe:
            probe.write(b"sdbridge")
            probe.flush()
    except OSError as exc:
        raise ConfigError(f"record folder {str(path)!r} (--record): {step} ({exc.strerror or exc}); give a folder "
                          f"this user can create and write files in") from None
    return path


def bounded_input(data: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """`data` with its largest fields replaced by {"$omitted_bytes": n, "limit": ...} until its JSON fits."""
    sizes = {key: len(dumps(to_json(value)).encode("utf-8")) for key, value in data.items()}
    total = sum(sizes.values())
    out = dict(data)
    for key in sorted(sizes, key=lambda k: sizes[k], reverse=True):
        if total <= max_bytes:
            break
        out[key] = {"$omitted_bytes": sizes[key], "limit": f"limits.max_event_payload_bytes={max_bytes}"}
        total -= sizes[key]
    return out


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
        """Forward, then log (also a failed update: it may have changed part of the pipeline's state); its style
        images as a "styles" line with their arrays, before the line of its other values."""
        values = {k: v for k, v in kwargs.items() if k != "style_images"}
        try:
            self._inner.update(**kwargs)
        except Exception:
            self._log_update(kwargs.get("style_images"), values, True)
            raise
        self._log_update(kwargs.get("style_images"), values, False)

    def _log_update(self, styles: Any, values: dict[str, Any], failed: bool) -> None:
        if styles is not None:
            self._writer.write_styles(self._clock(), styles, failed)
        if values or styles is None:
            self._writer.write("update", self._clock(), values=values, failed=failed)

    def scene_cut(self) -> None:
        """Forward the client's scene cut (protocol 1.4) and log it, so a replay cuts before the same call; nothing
        for a pipeline without temporal state (the identity model)."""
        cut = getattr(self._inner, "scene_cut", None)
        if cut is None:
            return
        cut()
        self._writer.write("scene_cut", self._clock())

    def record_planes(self, planes: Any) -> None:
        """Log the planes of the next call's frame (sdbridge.runtime.planes.Plane; sdbridge.runtime.control_inputs
        calls this before it sets the frame's ControlNet images from them)."""
        if self._writer.closed:
            return
        self._writer.write_planes(self._clock(), [dataclasses.asdict(p.desc) for p in planes],
                                  [np.array(p.array, copy=True) for p in planes])

    def __call__(self, image: Any) -> Any:
        """Forward; log the input and output arrays (once the recording stopped, only forward)."""
        if self._writer.closed:
            return self._inner(image)
        snapshot = np.array(image, copy=True)  # the input may be a view of a wire buffer reused later
        result = self._inner(image)
        self._writer.write_call(self._clock(), snapshot, np.asarray(result.image),
                                is_warmup=bool(result.is_warmup), skipped=bool(result.skipped))
        return result


class Recorder:
    """Recordings of the sessions of one server, each in `folder/session-<id>-<UTC time>.sdrec`.

    Nothing but the constructor raises: a session whose recording cannot be made or written is served
    without it (one warning line each).
    """

    def __init__(self, folder: str | Path, model: Mapping[str, Any], limits: RecordLimits | None = None,
                 writer_factory: WriterFactory = RecordingWriter) -> None:
        """Check (and make) `folder`: ConfigError unless files can be created in it. `limits`: the sizes a
        recording keeps to (RecordLimits.from_config(server limits); default: the default limits).
        `writer_factory`: makes each session's writer (default: RecordingWriter); kept as the public
        `writer_factory`, which may be replaced before a session opens (e.g. on a recorder the server made)."""
        self.folder = check_folder(folder)
        self.limits = limits if limits is not None else RecordLimits.from_config()
        self.writer_factory = writer_factory
        self._model = dict(model)
        self._writers: dict[int, RecordingWriter] = {}
        self._clocks: dict[int, Callable[[], int]] = {}
        self._packers: list[threading.Thread] = []
        self._lock = threading.Lock()  # the I/O thread closes sessions; close_all may run on another thread
        self.finished: list[Path] = []  # recordings closed (and packed) so far

    def open(self, session_id: int, client: Mapping[str, Any], frame_clock: Callable[[], int]) -> Path | None:
        """Start recording a session; `frame_clock()` returns the frames it has sent so far.

        Returns the recording's path, or None (one warning logged) when it cannot be created.
        """
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.folder / f"session-{session_id}-{stamp}{SUFFIX}"
        meta = {"session": {"id": session_id, **client}, "model": self._model,
                "created": datetime.now(UTC).isoformat()}
        try:
            writer = self.writer_factory(path, meta, self.limits)
        except Exception as exc:  # a recording that cannot start must not stop the session
            log.warning("session %d is not recorded: cannot create %s: %s; it is served without recording",
                        session_id, path, describe_error(exc))
            return None
        self._writers[session_id] = writer
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
        """Log an input the server accepted (event, state, prompt, params) at the session's current frame.

        Its fields keep at most limits.max_event_payload_bytes of JSON together (see `bounded_input`).
        """
        writer, clock = self._writers.get(session_id), self._clocks.get(session_id)
        if writer is not None and clock is not None and not writer.closed:
            writer.write(kind, clock(), **bounded_input(data, self.limits.max_input_bytes))

    def close(self, session_id: int, wait: bool = False) -> None:
        """Stop recording a session and pack its folder into one file (in a background thread)."""

        def pack(writer: RecordingWriter) -> None:
            try:
                self.finished.append(writer.close(pack=True))  # a failed recording: its folder, unpacked
            except OSError as exc:
                log.warning("could not pack recording %s (%s); the folder is kept and replays as it is",
                            writer.folder, exc.strerror or exc)

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
