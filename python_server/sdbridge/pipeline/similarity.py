"""Stochastic similarity filter (StreamDiffusion paper, section 3.5).

When the new input is nearly the same as the last *processed* input, skip it with probability
    p = max(0, 1 - (1 - cos) / (1 - threshold))
where cos is the cosine similarity of the two images. After `max_skip_frames` consecutive skips the
next frame is always processed, so a static scene still refreshes. The random draw uses a seeded
generator so runs repeat exactly. A skip costs one cosine similarity: no sleep, no model call.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from sdbridge.errors import ConfigError


@dataclass(frozen=True)
class SimilarityDecision:
    """The filter's verdict on one frame."""

    skip: bool
    similarity: float  # cosine similarity to the last processed frame (-1 .. 1); 0.0 for the first frame
    probability: float  # the skip probability that was drawn against


class SimilarityFilter:
    """Stateful filter: remembers the last processed input and the consecutive skip count."""

    def __init__(self, threshold: float, max_skip_frames: int, seed: int) -> None:
        self.configure(threshold, max_skip_frames)
        self._rng = random.Random(seed)
        self._previous: torch.Tensor | None = None
        self._skipped_in_a_row = 0

    def configure(self, threshold: float, max_skip_frames: int) -> None:
        """Change the settings between frames (state is kept)."""
        if not 0.0 <= threshold < 1.0:
            raise ConfigError(
                f"similarity_threshold={threshold} must be in [0, 1); 0.98 is the paper's value"
            )
        if max_skip_frames < 0:
            raise ConfigError(f"max_skip_frames={max_skip_frames} must be >= 0 (0 disables skipping)")
        self.threshold = threshold
        self.max_skip_frames = max_skip_frames

    def reset(self, seed: int | None = None) -> None:
        """Forget the previous frame (and reseed when `seed` is given)."""
        self._previous = None
        self._skipped_in_a_row = 0
        if seed is not None:
            self._rng = random.Random(seed)

    def __call__(self, frame: torch.Tensor) -> SimilarityDecision:
        """Decide whether to skip `frame` (any shape; compared flattened to the last processed frame)."""
        if self._previous is None or self._previous.shape != frame.shape:
            self._accept(frame)
            return SimilarityDecision(skip=False, similarity=0.0, probability=0.0)
        # float32, never float64: Apple's MPS has no float64 (and float32 resolves cos to ~1e-6 << 1 - 0.98)
        a = frame.reshape(-1).to(torch.float32)
        b = self._previous.reshape(-1).to(torch.float32)
        cos = float(torch.nn.functional.cosine_similarity(a, b, dim=0))
        if self._skipped_in_a_row >= self.max_skip_frames:
            probability = 0.0
        else:
            probability = max(0.0, 1.0 - (1.0 - cos) / (1.0 - self.threshold))
        if self._rng.random() < probability:
            self._skipped_in_a_row += 1
            return SimilarityDecision(skip=True, similarity=cos, probability=probability)
        self._accept(frame)
        return SimilarityDecision(skip=False, similarity=cos, probability=probability)

    def _accept(self, frame: torch.Tensor) -> None:
        self._previous = frame.detach().clone()
        self._skipped_in_a_row = 0
