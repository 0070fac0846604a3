"""IdentityPipeline: the pipeline interface with no model; every frame comes back unchanged.

For engine users without a GPU and for plumbing tests: same methods and result type as StreamPipeline.

txt2img (`txt2img()`, or a call with `StreamConfig.txt2img` set) has no model to generate with, and says so by
what it returns: a test pattern, never a picture passed off as generated. Red rises left to right, green top to
bottom, and blue steps by 16 with every generated frame (frame_index * 16 mod 256), so a client can tell the
frames of a txt2img stream apart and check their order and size end to end.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from sdbridge.errors import ConfigError
from sdbridge.pipeline.config import PromptSpec, StreamConfig, StreamResult


class IdentityPipeline:
    """Returns each input frame as its output (latency 0, never warm-up, never skipped)."""

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self.prompt: PromptSpec = ""
        self.negative_prompt: PromptSpec = ""
        self._frames_in = 0

    @property
    def latency_frames(self) -> int:
        """Always 0: nothing is buffered."""
        return 0

    def prepare(self, prompt: PromptSpec = "", negative_prompt: PromptSpec = "") -> None:
        """Remember the prompts (they have no effect)."""
        self.prompt, self.negative_prompt = prompt, negative_prompt

    def update(self, *, prompt: PromptSpec | None = None, negative_prompt: PromptSpec | None = None,
               **config_changes: object) -> None:
        """Validate and remember changes like StreamPipeline does (they have no effect on frames)."""
        try:
            self.config = self.config.replace(**config_changes) if config_changes else self.config
        except TypeError as exc:
            raise ConfigError(f"unknown pipeline setting: {exc}") from exc
        self.prompt = self.prompt if prompt is None else prompt
        self.negative_prompt = self.negative_prompt if negative_prompt is None else negative_prompt

    def __call__(self, image: np.ndarray | torch.Tensor) -> StreamResult:
        """The same pixels back (HxWx3 uint8, any size); with `config.txt2img`, the test pattern at its size."""
        if self.config.txt2img:
            return self._pattern(int(image.shape[-2]), int(image.shape[-3]))
        start = time.perf_counter()
        array = image.cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
        self._frames_in += 1
        elapsed = time.perf_counter() - start
        return StreamResult(image=array, is_warmup=False, skipped=False, timings={"total": elapsed},
                            frame_index=self._frames_in)

    def txt2img(self) -> StreamResult:
        """The test pattern (module docstring) at the configured size: there is no model to generate with."""
        return self._pattern(self.config.width, self.config.height)

    def _pattern(self, width: int, height: int) -> StreamResult:
        start = time.perf_counter()
        self._frames_in += 1
        image = np.empty((height, width, 3), dtype=np.uint8)
        image[..., 0] = (np.arange(width, dtype=np.uint32) * 255 // max(1, width - 1)).astype(np.uint8)[None, :]
        image[..., 1] = (np.arange(height, dtype=np.uint32) * 255 // max(1, height - 1)).astype(np.uint8)[:, None]
        image[..., 2] = (self._frames_in * 16) % 256
        return StreamResult(image=image, is_warmup=False, skipped=False,
                            timings={"total": time.perf_counter() - start}, frame_index=self._frames_in)
