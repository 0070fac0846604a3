"""Run the original StreamDiffusion (PyPI `streamdiffusion` 0.1.1, not a dependency) on a CPU for comparison.

The original times every call with CUDA events and `torch.cuda.synchronize()`, so it cannot run on a
CPU as published. `cpu_cuda_shims()` swaps those two for CPU stand-ins while it runs; nothing else of
it is changed. Install it with `pip install --no-deps streamdiffusion==0.1.1` to enable the column.
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from sdbridge.pipeline import Components, StreamConfig
from sdbridge.pipeline.images import to_uint8
from sdbridge.pipeline.presets import LCM_SCHEDULER_CONFIG


def available() -> bool:
    """True when the original package is installed."""
    return importlib.util.find_spec("streamdiffusion") is not None


class _CpuEvent:
    """Stand-in for torch.cuda.Event(enable_timing=True) using the wall clock."""

    def __init__(self, **_: Any) -> None:
        self._t = 0.0

    def record(self) -> None:
        self._t = time.perf_counter()

    def elapsed_time(self, end: _CpuEvent) -> float:
        return (end._t - self._t) * 1000.0


@contextlib.contextmanager
def cpu_cuda_shims() -> Iterator[None]:
    """Let code that times itself with CUDA events run on a CPU (restored on exit)."""
    event, sync = torch.cuda.Event, torch.cuda.synchronize
    torch.cuda.Event = _CpuEvent  # type: ignore[misc,assignment]
    torch.cuda.synchronize = lambda *a, **k: None  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.cuda.Event = event  # type: ignore[misc]
        torch.cuda.synchronize = sync


class OriginalStream:
    """The original StreamDiffusion class on our components, fed and read like our pipeline."""

    def __init__(self, comps: Components, config: StreamConfig, prompt: str, negative_prompt: str) -> None:
        from diffusers import LCMScheduler, StableDiffusionPipeline
        from streamdiffusion import StreamDiffusion

        pipe = StableDiffusionPipeline(
            vae=comps.vae, text_encoder=comps.text_encoder, tokenizer=comps.tokenizer, unet=comps.unet,
            scheduler=LCMScheduler(**LCM_SCHEDULER_CONFIG), safety_checker=None, feature_extractor=None,
            requires_safety_checker=False,
        )
        self.stream = StreamDiffusion(
            pipe, t_index_list=list(config.t_index_list), torch_dtype=comps.dtype, width=config.width,
            height=config.height, use_denoising_batch=config.use_denoising_batch,
            frame_buffer_size=config.frame_buffer_size, cfg_type=config.cfg_mode.value,
        )
        if config.similarity_filter:
            self.stream.enable_similar_image_filter(config.similarity_threshold, config.max_skip_frames)
        with cpu_cuda_shims():
            self.stream.prepare(prompt=prompt, negative_prompt=negative_prompt, guidance_scale=config.guidance_scale,
                                delta=config.delta, seed=int(config.seed))  # type: ignore[arg-type]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """One frame in (HxWx3 uint8), one frame out (HxWx3 uint8), as our pipeline does."""
        from PIL import Image

        with cpu_cuda_shims():
            out = self.stream(Image.fromarray(image))
        return to_uint8(out)
