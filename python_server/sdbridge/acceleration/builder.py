"""Background engine builds: serve with torch eager now, switch to the engine when it is ready.

A BackgroundBuilder runs `build()` (which returns Runners) in a daemon thread. Until it finishes, the
RunnerSlot keeps its eager runners; on success it switches (the next UNet / VAE call uses the engine). On
failure nothing switches, the error is kept, logged as an error and handed to `on_error` (the server stops
there: a requested backend that cannot run is never replaced silently by torch).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable

from sdbridge.acceleration.adapters import RunnerSlot
from sdbridge.acceleration.base import Runners

log = logging.getLogger(__name__)


class BuildState(enum.Enum):
    """Where a background build is."""

    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class BackgroundBuilder:
    """Builds runners in a thread and switches `slot` to them when done."""

    def __init__(self, slot: RunnerSlot, build: Callable[[], Runners], name: str = "engine",
                 on_ready: Callable[[Runners], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self._slot, self._build, self._name = slot, build, name
        self._on_ready, self._on_error = on_ready, on_error
        self._done = threading.Event()
        self.state = BuildState.BUILDING
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, name=f"sdbridge-build-{name}", daemon=True)

    def start(self) -> BackgroundBuilder:
        """Start the build thread (returns self)."""
        log.info("building %s in the background; serving with %s meanwhile", self._name,
                 self._slot.current.description)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the build finished (either way) or `timeout` passed; True if it finished."""
        return self._done.wait(timeout)

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            runners = self._build()
        except BaseException as exc:  # reported, never swallowed: on_error decides (the server stops)
            self.seconds = time.perf_counter() - started
            self.error, self.state = exc, BuildState.FAILED
            log.error("background build of %s failed after %.1f s: %s; still on %s", self._name, self.seconds, exc,
                      self._slot.current.description)
            self._done.set()
            if self._on_error is not None:
                self._on_error(exc)
            return
        self.seconds = time.perf_counter() - started
        self._slot.switch(runners)
        self.state = BuildState.READY
        log.info("%s ready after %.1f s: switched to %s", self._name, self.seconds, runners.description)
        self._done.set()
        if self._on_ready is not None:
            self._on_ready(runners)
