"""Stochastic similarity filter (StreamDiffusion paper, section 3.5), decided without a host synchronisation.

When the new input is nearly the same as the last *processed* input, skip it with probability
    p = max(0, 1 - (1 - cos) / (1 - threshold))
where cos is the cosine similarity of the two images (pixels mapped to [-1, 1], as the model sees them).
After `max_skip_frames` consecutive skips the next frame is always processed, so a static scene still
refreshes. The random draw uses a seeded generator so runs repeat exactly.

Two ways to get cos, neither of which waits for the device:
- host input (uint8 pixels in host memory, the server's case): `thumbnail` samples the frame on a grid of at
  most THUMBNAIL_SIDE x THUMBNAIL_SIDE pixels in numpy float32 and `SimilarityFilter.__call__` decides
  *before* the frame is uploaded, so a skipped frame costs no upload, normalisation or device work. A change
  that falls entirely between the grid's sample points (narrower than the step: 4 px at 512x512) is not seen.
- a tensor already on an accelerator: `SimilarityFilter.late` computes cos on the device, copies it to the
  host asynchronously, and decides from the newest copy that has completed (event.query(), never a wait):
  the decision for frame N uses the cosine of frame N - 1, one frame late.
Everything is float32, never float64 (Apple's MPS has none; float32 resolves cos to ~1e-6 << 1 - 0.98).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from sdbridge import params
from sdbridge.errors import ConfigError

#: The host thumbnail samples at most this many pixels along each side (every k-th row and column).
THUMBNAIL_SIDE = 128
_PENDING_LIMIT = 8  # device cosines awaiting their copy; older ones are dropped (the device is far behind)


@dataclass(frozen=True)
class SimilarityDecision:
    """The filter's verdict on one frame."""

    skip: bool
    similarity: float  # cosine similarity to the last processed frame (-1 .. 1); 0.0 when there was none
    probability: float  # the skip probability that was drawn against


class CompletionEvent(Protocol):
    """What `late` needs of an event: torch.cuda.Event has these (record on a stream, by default the current
    device's current one; query)."""

    def record(self, stream: Any = None) -> None: ...

    def query(self) -> bool: ...


class _Done:
    """The event of a copy that completed when it was made (host memory on both sides)."""

    def record(self, stream: Any = None) -> None:
        pass

    def query(self) -> bool:
        return True


def thumbnail(pixels: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) uint8 RGB -> float32 vector in [-1, 1]: every k-th row and column, k = ceil(side / 128).

    Costs about 0.04 ms at 512x512 (a strided read of ~50k bytes); no tensor, no device.
    """
    height, width = pixels.shape[-3], pixels.shape[-2]
    step_y, step_x = -(-height // THUMBNAIL_SIDE), -(-width // THUMBNAIL_SIDE)
    sampled = pixels[..., ::step_y, ::step_x, :].astype(np.float32)
    return (sampled * np.float32(1 / 127.5) - np.float32(1.0)).reshape(-1)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two float32 vectors, computed in float32 (torch's eps: 1e-8 on the norm product)."""
    dot = np.dot(a, b)
    norms = np.sqrt(np.dot(a, a)) * np.sqrt(np.dot(b, b))
    return float(dot / max(norms, np.float32(1e-8)))


class SimilarityFilter:
    """Stateful filter: remembers the last processed input and the consecutive skip count."""

    def __init__(self, threshold: float, max_skip_frames: int, seed: int) -> None:
        self.configure(threshold, max_skip_frames)
        self._rng = random.Random(seed)
        self._previous: np.ndarray | None = None  # host path: thumbnail of the last processed frame
        self._previous_device: torch.Tensor | None = None  # late path: the last processed frame
        self._pending: deque[tuple[torch.Tensor, CompletionEvent]] = deque()  # late path: cosines being copied
        self._skipped_in_a_row = 0

    def configure(self, threshold: float, max_skip_frames: int) -> None:
        """Change the settings between frames (state is kept)."""
        # the ranges are the parameter registry's (sdbridge.params): one range per parameter everywhere
        self.threshold = params.check("similarity_threshold", threshold, "SimilarityFilter")
        self.max_skip_frames = params.check("max_skip_frames", max_skip_frames, "SimilarityFilter")

    def reset(self, seed: int | None = None) -> None:
        """Forget the previous frame (and reseed when `seed` is given)."""
        self._previous = None
        self._previous_device = None
        self._pending.clear()
        self._skipped_in_a_row = 0
        if seed is not None:
            self._rng = random.Random(seed)

    def __call__(self, signature: np.ndarray) -> SimilarityDecision:
        """Decide on a frame from its host `signature` (a `thumbnail`, or any float32 vector) in this frame.

        A processed frame's signature becomes the reference. Vectors of another length are never similar.
        """
        previous = self._previous
        if previous is None or previous.shape != signature.shape:
            self.remember(signature)
            return SimilarityDecision(skip=False, similarity=0.0, probability=0.0)
        decision = self._draw(cosine(signature, previous))
        if not decision.skip:
            self.remember(signature)
        return decision

    def remember(self, signature: np.ndarray) -> None:
        """Make `signature` the reference (a frame processed whatever the filter says, e.g. after a restart)."""
        self._previous = signature
        self._skipped_in_a_row = 0

    def late(self, frame: torch.Tensor, event: CompletionEvent | None = None) -> SimilarityDecision:
        """Decide on a device `frame` from the newest completed cosine: the previous frame's, one frame late.

        The cosine of `frame` against the reference is computed on its device (float32) and copied to the host
        without waiting; `event` (a fresh torch.cuda.Event on CUDA, recorded after the copy) tells when it has
        landed. With no cosine landed yet the frame is processed. `similarity` is the cosine decided on.
        """
        landed = self._landed()
        reference = self._previous_device
        if reference is None or reference.shape != frame.shape:
            self._previous_device, self._skipped_in_a_row = frame.detach().clone(), 0
            self._pending.clear()
            return SimilarityDecision(skip=False, similarity=0.0, probability=0.0)
        cos = torch.nn.functional.cosine_similarity(frame.reshape(-1).to(torch.float32),
                                                    reference.reshape(-1).to(torch.float32), dim=0)
        self._pending.append(_copy_to_host(cos, event))
        if len(self._pending) > _PENDING_LIMIT:
            self._pending.popleft()
        decision = SimilarityDecision(False, 0.0, 0.0) if landed is None else self._draw(landed)
        if not decision.skip:
            self._previous_device, self._skipped_in_a_row = frame.detach().clone(), 0
        return decision

    def _landed(self) -> float | None:
        """The newest pending cosine whose copy has completed (older completed ones are dropped), or None."""
        value = None
        while self._pending and self._pending[0][1].query():
            host, _ = self._pending.popleft()
            value = float(host.numpy())  # host memory the copy has filled: numpy reads it, no device op
        return value

    def _draw(self, cos: float) -> SimilarityDecision:
        """The seeded skip draw for similarity `cos` (counts the skip)."""
        if self._skipped_in_a_row >= self.max_skip_frames:
            probability = 0.0
        else:
            probability = max(0.0, 1.0 - (1.0 - cos) / (1.0 - self.threshold))
        skip = self._rng.random() < probability
        self._skipped_in_a_row = self._skipped_in_a_row + 1 if skip else 0
        return SimilarityDecision(skip=skip, similarity=cos, probability=probability)


def _copy_to_host(value: torch.Tensor, event: CompletionEvent | None) -> tuple[torch.Tensor, CompletionEvent]:
    """Start copying the 0-d `value` into host memory; returns (host tensor, event completing the copy).

    On CUDA (not run on a GPU here) the copy goes to pinned memory with non_blocking=True and `event` is
    recorded after it on the current stream of the value's device (named: the calling thread's current device may
    be another, whose stream would complete the event before the copy has landed), so event.query() turns True
    once the host tensor holds the value.
    A value already in host memory is copied at once (`event`, when given, is recorded all the same). Other
    accelerators (MPS) copy with a blocking read: one scalar per frame, only for frames handed over already on
    that device.
    """
    if value.device.type == "cpu":
        host = value.detach().clone()
        if event is None:
            return host, _Done()
        event.record()
        return host, event
    if value.device.type != "cuda":
        return value.to("cpu"), _Done()
    if event is None:
        raise ConfigError(f"the similarity of a {value.device.type} frame needs a completion event; pass "
                          "event=torch.cuda.Event() (StreamPipeline does)")
    host = torch.empty((), dtype=torch.float32, pin_memory=True)
    host.copy_(value, non_blocking=True)
    event.record(torch.cuda.current_stream(value.device))
    return host, event
