"""Adapters: the runners behind the exact call signatures StreamPipeline uses on `unet` and `vae`.

StreamPipeline calls `unet(sample, t, encoder_hidden_states=..., added_cond_kwargs=..., return_dict=False)[0]`,
`vae.encode(frames).latents` (TAESD) or `.latent_dist.mean` (full VAE), `vae.decode(z, return_dict=False)[0]`
and reads `vae.config.scaling_factor`. The adapters provide exactly that over a `Runners`, and can switch to
other runners between two calls (`switch`), which is how a background-built engine takes over.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import torch

from sdbridge.acceleration.base import Runners


class RunnerSlot:
    """The current Runners, shared by the UNet and VAE adapters of one accelerated Components.

    `switch` is atomic for callers: a call in progress finishes on the runners it started with.
    """

    def __init__(self, runners: Runners) -> None:
        self._lock = threading.Lock()
        self._runners = runners
        self.switches = 0

    @property
    def current(self) -> Runners:
        """The runners the next call will use."""
        return self._runners

    def switch(self, runners: Runners) -> None:
        """Use `runners` from the next call on."""
        with self._lock:
            self._runners = runners
            self.switches += 1


class UnetAdapter:
    """Stands in for a diffusers UNet2DConditionModel in StreamPipeline (and exposes its `config`)."""

    def __init__(self, slot: RunnerSlot, config: Any) -> None:
        self._slot = slot
        self.config = config

    @property
    def max_batch(self) -> int | None:
        """The largest UNet batch the current runners accept (an engine's range), None for any: shared UNet
        calls (pipeline/shared_batch.py) are split to fit. Read per call: a background build switches runners."""
        batch = self._slot.current.unet_batch
        return None if batch is None else batch[1]

    @property
    def min_batch(self) -> int:
        """The smallest UNet batch the current runners accept (1 unless an engine was built for more)."""
        batch = self._slot.current.unet_batch
        return 1 if batch is None else batch[0]

    @property
    def memory_format(self) -> torch.memory_format | None:
        """The layout the current runners (UNet and VAE) bind without a copy; None = any (torch modules)."""
        return self._slot.current.memory_format

    def __call__(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                 added_cond_kwargs: dict[str, torch.Tensor] | None = None, return_dict: bool = False,
                 **unsupported: object) -> tuple[torch.Tensor]:
        if unsupported:
            raise TypeError(f"accelerated UNet: unsupported arguments {sorted(unsupported)}")
        if timestep.dim() == 0:
            timestep = timestep.expand(sample.shape[0])
        extra = added_cond_kwargs or {}
        out = self._slot.current.unet(sample, timestep, encoder_hidden_states, extra.get("text_embeds"),
                                      extra.get("time_ids"))
        return (out,)


@dataclass(frozen=True)
class _LatentDist:
    mean: torch.Tensor


@dataclass(frozen=True)
class EncodeOutput:
    """What `vae.encode` returns: `.latents` (AutoencoderTiny style) and `.latent_dist.mean` (AutoencoderKL)."""

    latents: torch.Tensor

    @property
    def latent_dist(self) -> _LatentDist:
        """The deterministic posterior of the full VAE as the pipeline uses it (its mean)."""
        return _LatentDist(self.latents)


class VaeAdapter:
    """Stands in for AutoencoderTiny / AutoencoderKL in StreamPipeline (encode, decode, config)."""

    def __init__(self, slot: RunnerSlot, config: Any) -> None:
        self._slot = slot
        self.config = config

    def encode(self, images: torch.Tensor, return_dict: bool = True) -> EncodeOutput:
        """images in [-1, 1] -> EncodeOutput (unscaled latents)."""
        return EncodeOutput(self._slot.current.vae_encode(images))

    def decode(self, latents: torch.Tensor, return_dict: bool = True) -> tuple[torch.Tensor]:
        """Unscaled latents -> (images,). Only the tuple form is provided (StreamPipeline's use)."""
        return (self._slot.current.vae_decode(latents),)
