"""Thread-safe, throttled handoff of frames from the bridge server's I/O thread to the preview.

The I/O thread calls `offer_input` / `offer_output` for every frame and result. When nobody watches
that session, or its last kept frame is younger than 1/fps, the call returns after a dict lookup and a
clock read. Otherwise it keeps a *reference* to the pixels (no copy, no encoding): the wire frame and
result arrays are never written again once received or sent. The preview thread takes the newest
kept frame of each view and encodes it there, so encoding never runs on the I/O thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sdbridge.runtime.pixels import Layout


@dataclass(frozen=True)
class TapFrame:
    """One kept frame: its pixels (wire bytes or a result array) and their layout."""

    session_id: int
    frame_id: int
    layout: Layout
    pixels: Any  # memoryview / bytes / numpy array / zmq.Frame holding layout.stride * layout.height bytes
    keep: Any = None  # the object that owns `pixels` (kept alive with it)
    taken_at: float = 0.0
    planes: tuple[Any, ...] = ()  # an input frame's planes (sdbridge.runtime.planes.Plane: read-only views)


class FrameTaps:
    """Newest input and output frame of each watched session, at most `fps` per view."""

    INPUT = "input"
    OUTPUT = "output"

    def __init__(self, fps: float) -> None:
        self._interval = 1.0 / fps
        self._lock = threading.Lock()  # guards _watchers (rarely changed); hot-path reads are lock-free
        self._watchers: dict[int, int] = {}  # session id -> number of pages watching it
        self._watched: frozenset[int] = frozenset()  # immutable snapshot the I/O thread reads
        self._latest: dict[tuple[int, str], TapFrame] = {}
        self._due: dict[tuple[int, str], float] = {}
        self.offered = 0  # frames offered while watched (counts only, for tests and the bench)
        self.kept = 0

    # --------------------------------------------------------------- preview thread

    def watch(self, session_id: int) -> None:
        """Start keeping frames of `session_id` (one call per watching page)."""
        with self._lock:
            self._watchers[session_id] = self._watchers.get(session_id, 0) + 1
            self._watched = frozenset(self._watchers)

    def unwatch(self, session_id: int) -> None:
        """Undo one `watch(session_id)`; frames of an unwatched session are no longer kept."""
        with self._lock:
            count = self._watchers.get(session_id, 0) - 1
            if count > 0:
                self._watchers[session_id] = count
            else:
                self._watchers.pop(session_id, None)
                for view in (self.INPUT, self.OUTPUT):
                    self._latest.pop((session_id, view), None)
            self._watched = frozenset(self._watchers)

    @property
    def watched(self) -> frozenset[int]:
        """Session ids some page watches."""
        return self._watched

    def latest(self, session_id: int, view: str) -> TapFrame | None:
        """The newest kept frame of one view (None when there is none); pages compare it by identity."""
        return self._latest.get((session_id, view))

    # --------------------------------------------------------------- I/O thread

    def offer_input(self, session_id: int, frame_id: int, layout: Layout, pixels: Any, keep: Any = None,
                    planes: tuple[Any, ...] = ()) -> None:
        """A received frame and its planes (I/O thread). Cheap unless watched and due."""
        if session_id in self._watched:
            self._offer(session_id, self.INPUT, frame_id, layout, pixels, keep, planes)

    def offer_output(self, session_id: int, frame_id: int, layout: Layout, pixels: Any) -> None:
        """A result about to be sent (I/O thread). Cheap unless watched and due."""
        if session_id in self._watched:
            self._offer(session_id, self.OUTPUT, frame_id, layout, pixels, None)

    def _offer(self, session_id: int, view: str, frame_id: int, layout: Layout, pixels: Any, keep: Any,
               planes: tuple[Any, ...] = ()) -> None:
        self.offered += 1
        key = (session_id, view)
        now = time.monotonic()
        if now < self._due.get(key, 0.0):
            return
        self._due[key] = now + self._interval
        self._latest[key] = TapFrame(session_id, frame_id, layout, pixels, keep, now, planes)
        self.kept += 1
