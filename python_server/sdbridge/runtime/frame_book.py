"""What each output of a session's pipeline depicts: its source frame, and what that frame carried (its alpha).

With Stream Batch an output depicts the frame that entered the pipeline `latency_frames` frames earlier, not
the frame just received; a frame the similarity filter skips never enters the pipeline and its result
repeats the last output. The per-frame data that never goes through the model (the client's alpha plane)
must therefore come from the depicted frame, not from the frame just received: `FrameBook` keeps the
recent frames that entered a session's pipeline, in order, and answers for each result the frame it
depicts. Client frame ids need not be consecutive (a client skips ids of frames it never sent), so the
source is counted in frames processed, never computed from ids. Worker thread only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Carried:
    """What a frame carries past the model: its id and its client-size alpha plane (None for RGB8)."""

    frame_id: int
    alpha: np.ndarray | None  # (H, W) uint8, top-down


class FrameBook:
    """The frames that entered one session's pipeline, newest last, and the frame its last output depicts."""

    def __init__(self) -> None:
        self._entered: deque[Carried] = deque()  # at most lag + 1 frames
        self._last: Carried | None = None

    def reset(self) -> None:
        """Forget everything (a new pipeline: nothing is in its buffers)."""
        self._entered.clear()
        self._last = None

    def depicted(self, frame: Carried, lag: int, skipped: bool) -> Carried:
        """The frame the output for `frame` depicts, `lag` (latency_frames) frames earlier.

        A skipped frame did not enter the pipeline: its result repeats the last output, so it depicts what
        that output depicted. During warm-up (fewer than lag + 1 frames in) the oldest frame is named.
        """
        if skipped and self._last is not None:
            return self._last
        lag = max(0, lag)
        entered = self._entered
        entered.append(frame)
        while len(entered) > lag + 1:  # older frames are depicted by no later output (their alpha may be on a GPU)
            entered.popleft()
        self._last = entered[0]  # lag frames back, or the oldest while warming up
        return self._last


def fit_alpha(alpha: np.ndarray | None, width: int, height: int) -> np.ndarray | None:
    """`alpha` at (height, width): itself when it fits, else resized (the depicted frame had another client
    size at the same processing size)."""
    if alpha is None or alpha.shape == (height, width):
        return alpha
    return np.asarray(Image.fromarray(alpha).resize((width, height), Image.Resampling.BILINEAR))
