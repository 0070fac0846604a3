"""The three modules every backend runs: UNet, VAE encoder and VAE decoder with plain tensor signatures.

They hold (never copy) the loaded diffusers modules, so eager runs them directly, torch.compile compiles
them, and ONNX export traces them. SDXL-family UNets take two extra inputs (text_embeds, time_ids).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from sdbridge.pipeline import Components


class UnetModule(torch.nn.Module):
    """unet(sample, timestep, encoder_hidden_states[, text_embeds, time_ids]) -> noise prediction tensor."""

    def __init__(self, unet: torch.nn.Module, sdxl: bool) -> None:
        super().__init__()
        self.unet = unet
        self.sdxl = sdxl

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                text_embeds: torch.Tensor | None = None, time_ids: torch.Tensor | None = None) -> torch.Tensor:
        added = {"text_embeds": text_embeds, "time_ids": time_ids} if self.sdxl else None
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states, added_cond_kwargs=added,
                         return_dict=False)[0]


class VaeEncodeModule(torch.nn.Module):
    """images in [-1, 1] -> unscaled latents: TAESD's latents, or the mean of the full VAE's posterior."""

    def __init__(self, vae: torch.nn.Module, tiny: bool) -> None:
        super().__init__()
        self.vae = vae
        self.tiny = tiny

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        encoded = self.vae.encode(images)
        return encoded.latents if self.tiny else encoded.latent_dist.mean


class VaeDecodeModule(torch.nn.Module):
    """Unscaled latents -> images (about [-1, 1])."""

    def __init__(self, vae: torch.nn.Module) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents, return_dict=False)[0]


def export_modules(components: Components) -> tuple[UnetModule, VaeEncodeModule, VaeDecodeModule]:
    """The three modules of `components` (which must hold a UNet and a VAE)."""
    from sdbridge.pipeline import ModelFamily, VaeChoice

    assert components.unet is not None and components.vae is not None
    unet = UnetModule(components.unet, components.family is ModelFamily.SDXL).eval()
    encode = VaeEncodeModule(components.vae, components.vae_choice is VaeChoice.TAESD).eval()
    return unet, encode, VaeDecodeModule(components.vae).eval()
