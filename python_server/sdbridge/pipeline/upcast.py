"""The full SDXL VAE in float32 inside a float16 pipeline (`force_upcast` of its config).

SDXL's AutoencoderKL overflows in float16 (black or NaN frames); its config says so with `force_upcast: true`,
and diffusers' SDXL pipelines then decode in float32. `needs_upcast` says when that applies here (the full VAE
of an SDXL-family model in float16); `UpcastVae` holds the autoencoder in float32 and casts at its edges, so
StreamPipeline, the export modules and the engines call it like any VAE: encode / decode take and return
the pipeline's dtype. SD 1.5 / 2.1 VAEs also carry force_upcast (diffusers registers true by default) but
diffusers' own SD pipelines run them in float16; so does this one. A fixed VAE (e.g. madebyollin/sdxl-vae-fp16-fix,
force_upcast false) runs in float16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


def needs_upcast(vae: torch.nn.Module, dtype: torch.dtype, sdxl: bool) -> bool:
    """True for an AutoencoderKL whose config sets force_upcast, in a float16 SDXL-family pipeline."""
    config = getattr(vae, "config", None)
    full = getattr(config, "latent_channels", None) is not None and hasattr(config, "block_out_channels")
    return sdxl and full and dtype == torch.float16 and bool(getattr(config, "force_upcast", False))


@dataclass(frozen=True)
class Posterior:
    """The part of diffusers' DiagonalGaussianDistribution the pipeline reads: its mean."""

    mean: torch.Tensor


@dataclass(frozen=True)
class UpcastEncoding:
    """What `UpcastVae.encode` returns: `.latent_dist.mean`, as diffusers' AutoencoderKLOutput."""

    latent_dist: Posterior


class UpcastVae(torch.nn.Module):
    """An AutoencoderKL computing in float32 for a pipeline of `dtype` (inputs and outputs in `dtype`)."""

    def __init__(self, vae: torch.nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.vae = torch.nn.Module.to(vae, dtype=torch.float32)  # torch's cast: diffusers' override warns
        self.io_dtype = dtype

    @property
    def config(self) -> Any:
        """The wrapped autoencoder's config (scaling_factor, block_out_channels, force_upcast ...)."""
        return self.vae.config

    def encode(self, images: torch.Tensor, return_dict: bool = True) -> UpcastEncoding:
        """images in [-1, 1] (any dtype) -> the posterior's mean in the pipeline's dtype."""
        mean = self.vae.encode(images.float()).latent_dist.mean  # type: ignore[operator]
        return UpcastEncoding(Posterior(mean.to(self.io_dtype)))

    def decode(self, latents: torch.Tensor, return_dict: bool = False) -> tuple[torch.Tensor]:
        """Unscaled latents -> (images in the pipeline's dtype,). Only the tuple form (StreamPipeline's use)."""
        images = self.vae.decode(latents.float(), return_dict=False)[0]  # type: ignore[operator]
        return (images.to(self.io_dtype),)
