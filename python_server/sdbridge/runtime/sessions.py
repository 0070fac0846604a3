"""Sessions: one per connected client, keyed by its ROUTER routing identity.

A session owns everything per client: its credits and frames in flight, its GameEvent/State rate limit,
its counters (Stats, preview page), its frame slot (latest wins), its queue of pending pipeline updates
(prompt, parameters) and its pipeline instance; all sessions share one set of loaded model components.
The session table is shared by the I/O thread (which adds, touches, feeds and expires sessions) and
the worker thread (which takes work round-robin); `SessionTable.work` is the condition the worker
waits on.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sdbridge.errors import BridgeError
from sdbridge.protocol.messages import Capability, ErrorCode
from sdbridge.runtime import budgets
from sdbridge.runtime.pixels import Layout
from sdbridge.runtime.planes import Plane
from sdbridge.runtime.queues import BoundedFifo, LatestSlot


class SessionLimitError(BridgeError):
    """The server already serves its configured maximum number of sessions."""


@dataclass(frozen=True)
class ClientInfo:
    """What the client said about itself in Hello."""

    name: str
    version: str = ""
    engine: str = ""
    protocol_major: int = 0
    protocol_minor: int = 0


@dataclass
class FrameJob:
    """One received frame waiting in a session slot. `payload` is the raw pixel part (not copied)."""

    frame_id: int
    stream: int
    layout: Layout
    payload: memoryview | bytes
    received_at: float  # time.perf_counter() when the I/O thread got it
    client_timestamp_us: int = 0  # Frame.capture_time_us (client clock), echoed in the Result
    keep: Any = None  # the transport's frame object that owns `payload` (kept alive, resendable)
    # set when the worker thread takes it (the I/O thread may wait for that); None: nobody waits (inline)
    taken: threading.Event | None = field(default_factory=threading.Event)
    client_send_us: int = 0  # Frame.send_time_us (client clock), echoed in the Result for the round trip
    # protocol 1.3: the frame's auxiliary planes (depth, normals, ids, motion, control images) as read-only numpy views
    # with their descriptions (sdbridge.runtime.planes); ControlNet images are made from them (runtime.control_inputs)
    planes: tuple[Plane, ...] = ()


@dataclass(frozen=True)
class PipelineUpdate:
    """A batch of keyword arguments for `pipeline.update` (prompt, negative_prompt, guidance_scale...).

    With `transition_frames` or `transition_seconds` > 0, a new "prompt" is reached gradually: a
    weighted blend from the current prompt to the new one, moving with each frame (or with time).
    """

    values: Mapping[str, Any]
    transition_frames: int = 0
    transition_seconds: float = 0.0
    easing: Callable[[float], float] | None = None  # shapes the blend (0 -> 0, 1 -> 1); None: linear


@dataclass
class PromptTransition:
    """A prompt blend in progress (worker thread only)."""

    start: Any  # PromptSpec: a text or [(text, weight), ...]
    target: Any
    frames: int
    seconds: float
    started_at: float = field(default_factory=time.monotonic)
    frames_done: int = 0
    easing: Callable[[float], float] | None = None
    position: float = 0.0  # the (eased) position of the last frame shown; 0 until the first frame

    def advance(self, now: float) -> float:
        """Count one frame and return the (eased) blend position in [0, 1]; 1 means the target is reached."""
        self.frames_done += 1
        if self.frames > 0:
            raw = min(1.0, self.frames_done / self.frames)
        else:
            raw = min(1.0, (now - self.started_at) / self.seconds) if self.seconds > 0 else 1.0
        self.position = raw if raw >= 1.0 or self.easing is None else min(1.0, max(0.0, self.easing(raw)))
        return self.position


def blend_prompts(start: Any, target: Any, position: float) -> list[tuple[str, float]]:
    """The weighted blend `position` of the way from `start` to `target` (texts or weighted blends)."""

    def weighted(spec: Any) -> list[tuple[str, float]]:
        return [(spec, 1.0)] if isinstance(spec, str) else [(str(t), float(w)) for t, w in spec]

    items = [(t, w * (1.0 - position)) for t, w in weighted(start)]
    items += [(t, w * position) for t, w in weighted(target)]
    return [(t, w) for t, w in items if w > 0]


@dataclass
class ResultJob:
    """A finished frame on its way back to its own session (and nobody else's)."""

    identity: bytes
    session_id: int
    frame_id: int
    stream: int
    layout: Layout  # packed layout of `pixels` (client size, format and row order)
    pixels: Any  # (H, W, bpp) uint8 C-contiguous array, or the received wire frame itself (passthrough)
    timings: dict[str, float]  # seconds
    is_warmup: bool
    skipped: bool
    client_timestamp_us: int = 0
    source_frame_id: int = 0  # the input frame this output depicts (latency_frames frames earlier)
    received_at: float = 0.0  # time.perf_counter() when the I/O thread received the frame
    client_send_us: int = 0  # Frame.send_time_us of the processed frame (client clock)


@dataclass
class SessionStats:
    """Counters reported in Stats replies."""

    frames_received: int = 0
    frames_processed: int = 0
    frames_failed: int = 0
    messages_rejected: int = 0
    events_received: int = 0
    last_timings: dict[str, float] = field(default_factory=dict)


_session_ids = itertools.count(1)


@dataclass
class Session:
    """State of one connected client: its credits and in-flight frames, event rate limit, counters, frame slot,
    pending updates and pipeline handle. Only the worker thread touches `pipeline`; only the I/O thread touches
    the credit, rate and output counters."""

    identity: bytes
    client: ClientInfo
    credits: int
    session_id: int = field(default_factory=lambda: next(_session_ids))
    created_at: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)
    slot: LatestSlot[FrameJob] = field(default_factory=LatestSlot)
    updates: BoundedFifo[PipelineUpdate] = field(default_factory=lambda: BoundedFifo(64))
    state: dict[str, Any] = field(default_factory=dict)  # merged State entries, within limits.max_state_bytes
    state_bytes: int = 0  # budgets.entries_bytes(state), kept up to date by merge_state
    # recent GameEvents (name, payload), within limits.max_recent_events and limits.max_event_payload_bytes
    events: deque[tuple[str, Mapping[str, Any]]] = field(default_factory=deque)
    events_bytes: int = 0  # bytes of the kept events (names + payloads)
    events_dropped: int = 0  # kept events dropped (oldest first) to stay within the event budgets
    last_frame_at: float = field(default_factory=time.monotonic)  # last Frame (limits.idle_session_s)
    stats: SessionStats = field(default_factory=SessionStats)
    pipeline: Any = None  # built lazily by the worker
    pipeline_size: tuple[int, int] | None = None  # (width, height) the pipeline was built for
    prompt_values: dict[str, Any] = field(default_factory=dict)  # every update applied so far
    transition: PromptTransition | None = None  # a timed prompt blend in progress
    # ids of the frames this session's pipeline processed, newest last (to name each output's source)
    recent_ids: deque[int] = field(default_factory=lambda: deque(maxlen=64))
    closed: bool = False
    # I/O-thread bookkeeping: frames sent and not yet answered (at most `credits`), what went out, and how fast
    in_flight: int = 0
    frames_out: int = 0
    skipped: int = 0  # results the similarity filter answered without running the model
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=512))  # receive -> sent, seconds
    inference: deque[float] = field(default_factory=lambda: deque(maxlen=512))  # seconds
    # txt2img (Params.txt2img, sdbridge.serving.txt2img; I/O thread only): on/off, generated Results asked for
    # (client -> server Credit) and not yet handed to the worker, and the id of the last generated frame
    txt2img: bool = False
    txt2img_owed: int = 0
    txt2img_frame_id: int = 0
    # the capabilities negotiated in the Welcome (the intersection of the client's and the server's)
    capabilities: Capability = Capability.NONE
    event_tokens: float = -1.0  # GameEvent/State token bucket (-1 = full, not yet used)
    event_time: float = 0.0

    @property
    def has_work(self) -> bool:
        """True when a frame or a pipeline update waits for the worker."""
        return self.slot.pending or len(self.updates) > 0

    @property
    def dropped(self) -> int:
        """Frames replaced in the slot by a newer one before the worker took them."""
        return self.slot.dropped

    @property
    def busy(self) -> bool:
        """True while the server owes this session a result (its client may be blocked waiting for it)."""
        return self.in_flight > 0

    def has_credit(self) -> bool:
        """True when the client may have one more frame in flight (`credits` is the window)."""
        return self.in_flight < self.credits

    def frame_taken(self) -> None:
        """A Frame entered the pipeline's path: it holds one credit until its Result (or Credit) goes back."""
        self.in_flight += 1
        self.stats.frames_received += 1

    def credit_returned(self) -> None:
        """A frame in flight was answered, replaced or failed: its credit is free again."""
        self.in_flight = max(0, self.in_flight - 1)

    def result_sent(self, inference_s: float, skipped: bool, latency_s: float) -> None:
        """Count one Result sent to the client (for Stats and the preview page)."""
        self.frames_out += 1
        self.inference.append(inference_s)
        self.skipped += int(skipped)
        self.latencies.append(latency_s)

    def take_event_token(self, rate: float, now: float) -> bool:
        """Token bucket over GameEvent and State (`rate` per second, one second of burst): True when one more
        may be accepted now (and spends its token)."""
        if self.event_tokens < 0:
            self.event_tokens, self.event_time = rate, now
        self.event_tokens = min(rate, self.event_tokens + (now - self.event_time) * rate)
        self.event_time = now
        if self.event_tokens < 1.0:
            return False
        self.event_tokens -= 1.0
        return True

    def merge_state(self, entries: Sequence[tuple[str, Any]], replace_all: bool, max_bytes: int) -> None:
        """Merge State entries (later keys win), or replace the state with them when `replace_all`.

        Refused whole (BudgetError, the earlier state kept) when the merged state would count more than
        `max_bytes` (limits.max_state_bytes, counted by budgets.entries_bytes).
        """
        incoming = dict(entries)
        base: Mapping[str, Any] = {} if replace_all else self.state
        total = 0 if replace_all else self.state_bytes
        for key, value in incoming.items():
            if key in base:
                total -= budgets.entries_bytes({key: base[key]})
            total += budgets.entries_bytes({key: value})
        if total > max_bytes:
            raise budgets.BudgetError(
                ErrorCode.TOO_LARGE, "State.entries",
                f"State refused: session {self.session_id} would keep {total} bytes of state after this merge, "
                f"above limits.max_state_bytes={max_bytes}; the earlier state is kept. Send fewer or shorter "
                f"entries (replace_all drops the old ones), or raise limits.max_state_bytes")
        if replace_all:
            self.state.clear()
        self.state.update(incoming)
        self.state_bytes = total

    def add_event(self, name: str, payload: Mapping[str, Any], max_bytes: int, max_events: int) -> None:
        """Keep a GameEvent among the recent ones, dropping (and counting) the oldest to stay within
        `max_events` (limits.max_recent_events) and `max_bytes` (limits.max_event_payload_bytes).

        An event larger than `max_bytes` on its own is refused (BudgetError) and nothing is dropped.
        """
        size = budgets.value_bytes(name) + budgets.entries_bytes(payload)
        if size > max_bytes:
            raise budgets.BudgetError(
                ErrorCode.TOO_LARGE, "GameEvent.payload",
                f"GameEvent {name!r} refused: its name and payload count {size} bytes, above "
                f"limits.max_event_payload_bytes={max_bytes}; send a smaller payload (or raise the limit)")
        while self.events and (len(self.events) >= max_events or self.events_bytes + size > max_bytes):
            old_name, old_payload = self.events.popleft()
            self.events_bytes -= budgets.value_bytes(old_name) + budgets.entries_bytes(old_payload)
            self.events_dropped += 1
        self.events.append((name, payload))
        self.events_bytes += size


class SessionTable:
    """All live sessions, keyed by routing identity. Thread-safe."""

    def __init__(self, max_sessions: int) -> None:
        self._max = max_sessions
        self._by_identity: dict[bytes, Session] = {}
        self._lock = threading.RLock()
        self.work = threading.Condition(self._lock)
        self._cursor = 0  # round-robin position, in session-id order
        self._freed = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_identity)

    @property
    def max_sessions(self) -> int:
        """Configured session limit."""
        return self._max

    @property
    def freed(self) -> int:
        """Sessions removed so far (bye, heartbeat timeout or replaced by a new Hello)."""
        with self._lock:
            return self._freed

    def get(self, identity: bytes) -> Session | None:
        """The live session of `identity`, or None."""
        with self._lock:
            return self._by_identity.get(identity)

    def sessions(self) -> list[Session]:
        """A snapshot of the live sessions."""
        with self._lock:
            return list(self._by_identity.values())

    def open(self, identity: bytes, client: ClientInfo, credits: int) -> Session:
        """Create a fresh session for `identity` (replacing an older one of the same identity).

        Raises SessionLimitError when `max_sessions` are already open.
        """
        with self._lock:
            old = self._by_identity.pop(identity, None)
            if old is not None:
                self._close(old)
            if len(self._by_identity) >= self._max:
                raise SessionLimitError(
                    f"server already serves max_sessions={self._max} sessions; retry later or raise "
                    f"limits.max_sessions in the server config"
                )
            session = Session(identity=identity, client=client, credits=credits)
            self._by_identity[identity] = session
            return session

    def remove(self, identity: bytes) -> Session | None:
        """Close and forget the session of `identity`; returns it (or None if unknown)."""
        with self._lock:
            session = self._by_identity.pop(identity, None)
            if session is not None:
                self._close(session)
            return session

    def expire(self, now: float, timeout: float,
               busy: Callable[[Session], bool] | None = None) -> list[Session]:
        """Remove every session silent for more than `timeout` seconds; returns them.

        A session for which `busy(session)` is true (the server still owes it a result) is kept: a
        client blocked waiting for a slow frame cannot send heartbeats.
        """
        with self._lock:
            stale = [s for s in self._by_identity.values()
                     if now - s.last_seen > timeout and not (busy is not None and busy(s))]
            for session in stale:
                del self._by_identity[session.identity]
                self._close(session)
            return stale

    def expire_idle(self, now: float, idle_s: float,
                    busy: Callable[[Session], bool] | None = None) -> list[Session]:
        """Remove every session that sent no Frame for more than `idle_s` seconds (limits.idle_session_s;
        Pings and other messages do not count), unless `busy`; returns them."""
        with self._lock:
            idle = [s for s in self._by_identity.values()
                    if now - s.last_frame_at > idle_s and not (busy is not None and busy(s))]
            for session in idle:
                del self._by_identity[session.identity]
                self._close(session)
            return idle

    def submit_frame(self, session: Session, job: FrameJob) -> FrameJob | None:
        """Put a frame in the session's slot and wake the worker; returns the frame it replaced."""
        with self._lock:
            replaced = session.slot.put(job)
            self.work.notify()
            return replaced

    def submit_update(self, session: Session, update: PipelineUpdate) -> bool:
        """Queue a pipeline update and wake the worker; False when the session's queue is full."""
        with self._lock:
            ok = session.updates.put(update)
            self.work.notify()
            return ok

    def next_with_work(self) -> Session | None:
        """The next session with pending work after the last one served (round-robin), or None.

        Sessions are visited in session-id order starting after the cursor, so a busy session can
        never starve the others.
        """
        with self._lock:
            ready = sorted((s for s in self._by_identity.values() if s.has_work),
                           key=lambda s: s.session_id)
            if not ready:
                return None
            chosen = next((s for s in ready if s.session_id > self._cursor), ready[0])
            self._cursor = chosen.session_id
            return chosen

    def others_with_work(self, session: Session) -> list[Session]:
        """The other sessions that have pending work, in session-id order (partners for a shared batch)."""
        with self._lock:
            return sorted((s for s in self._by_identity.values() if s.has_work and s is not session),
                          key=lambda s: s.session_id)

    def wake(self) -> None:
        """Wake the worker (used on shutdown)."""
        with self._lock:
            self.work.notify_all()

    def _close(self, session: Session) -> None:
        session.closed = True
        session.slot.clear()
        session.updates.drain()
        self._freed += 1
