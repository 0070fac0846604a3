"""Session state of BridgeClient (sdbridge.transport.client) kept apart from the socket:

- `SessionReplay`: what a new session needs to look like the old one (the style images sent, the last prompt, the
  parameters and the state variables set so far), re-sent after a reconnect because a new session starts from the
  server defaults;
- `FrameBook`: frame ids (never reused, even across reconnects), the one frame waiting for credit, and when each
  frame in flight was sent (for its result's round trip).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sdbridge import params
from sdbridge.protocol import messages as m

#: A frame's planes (protocol 1.3): their descriptions and arrays, in the same order
PlaneBatch = tuple[tuple[m.PlaneDesc, ...], tuple[np.ndarray, ...]]
#: A frame waiting for credit: (frame_id, image, stream_id, planes, scene_cut)
PendingFrame = tuple[int, np.ndarray, int, PlaneBatch, bool]


@dataclass
class SessionReplay:
    """The style images, prompt, parameters and state a reconnect re-sends, in that order."""

    prompt: m.Prompt | None = None
    styles: dict[str, tuple[m.StyleImage, np.ndarray]] = field(default_factory=dict)  # name -> header, pixels
    params: dict[str, Any] = field(default_factory=dict)  # Params wire field -> the latest value sent
    state: dict[str, Any] = field(default_factory=dict)

    def remember_params(self, message: m.Params) -> None:
        """Keep every parameter `message` sets; a seed replaces a seed blend and the other way round. Named weights
        (the registry's Kind.WEIGHTS) merge by name, as the server applies them, unless the entry is a `selection`
        (style_blend), which the newest list replaces whole."""
        for param in params.REGISTRY:
            value = getattr(message, param.wire_field) if param.params_bit else None
            if value is None:
                continue
            older = self.params.get(param.wire_field)
            if param.kind is params.Kind.WEIGHTS and not param.selection and older is not None:
                names = {w.name for w in value}
                value = tuple(w for w in older if w.name not in names) + tuple(value)
            self.params[param.wire_field] = value
        if message.seed_blend is not None:
            self.params.pop("seed", None)
        elif message.seed is not None:
            self.params.pop("seed_blend", None)

    def remember_style(self, header: m.StyleImage, pixels: np.ndarray) -> None:
        """Keep a style image sent (protocol 1.4); one sent again under its name replaces it."""
        self.styles[header.name] = (header, pixels)

    def remember_state(self, message: m.State) -> None:
        """Apply a State message sent to the server to the copy kept here."""
        if message.replace_all:
            self.state.clear()
        self.state.update(message.entries)

    def send(self, io: Any, client_time_us: int) -> None:
        """Send it all through `io` (a ClientSocket): the style images first (the parameters may name them)."""
        for header, pixels in self.styles.values():
            io.send_frame(header, pixels)
        for message in self.messages(client_time_us):
            io.send(message)

    def messages(self, client_time_us: int) -> list[m.Message]:
        """What a new session is sent so that it continues the old one (empty when nothing was set)."""
        replay: list[m.Message] = []
        if self.prompt is not None:
            replay.append(self.prompt)
        if self.params:
            replay.append(m.Params(**self.params))
        if self.state:
            replay.append(m.State(entries=dict(self.state), replace_all=True, client_time_us=client_time_us))
        return replay


class FrameBook:
    """Frame ids, the pending frame and the send times of the frames in flight."""

    #: How many send times are kept; beyond it the oldest half is forgotten (their results never came)
    MAX_IN_FLIGHT = 1024

    def __init__(self) -> None:
        self.next_frame_id = 1
        self.pending: PendingFrame | None = None
        self._sent_at: dict[int, float] = {}

    def new_id(self) -> int:
        """The next frame id (ids are never reused)."""
        frame_id = self.next_frame_id
        self.next_frame_id += 1
        return frame_id

    def hold(self, frame: PendingFrame) -> bool:
        """Make `frame` the pending one; True when it replaced an older pending frame (whose scene cut, if it was
        one, the newer frame then carries: the cut still comes before it)."""
        replaced = self.pending
        if replaced is not None and replaced[4]:
            frame = (*frame[:4], True)
        self.pending = frame
        return replaced is not None

    def take_pending(self) -> PendingFrame | None:
        """The pending frame, no longer pending (None when there is none)."""
        frame, self.pending = self.pending, None
        return frame

    def sent(self, frame_id: int) -> None:
        """Note that `frame_id` went out now."""
        self._sent_at[frame_id] = time.perf_counter()
        if len(self._sent_at) > self.MAX_IN_FLIGHT:  # results of old frames never came: forget them
            for old in sorted(self._sent_at)[: self.MAX_IN_FLIGHT // 2]:
                del self._sent_at[old]

    def round_trip(self, frame_id: int) -> float | None:
        """Seconds since `frame_id` was sent (forgetting it), or None when it is not in flight."""
        sent = self._sent_at.pop(frame_id, None)
        return None if sent is None else time.perf_counter() - sent

    def new_session(self) -> None:
        """A new session began: no frame is pending or in flight any more (ids go on counting)."""
        self.pending = None
        self._sent_at.clear()
