"""Residual classifier-free guidance (RCFG) of the StreamDiffusion paper, as pure functions.

Modes and UNet evaluations per frame for n denoising steps:
    NONE        n      conditional only
    FULL        2n     conditional + unconditional (negative prompt) at every step
    SELF        n      negative = delta * residual noise of x_t w.r.t. the frame's own input latent
    INITIALIZE  n + 1  negative prompt evaluated once at the first step; later steps use the residual noise
                       w.r.t. the clean latent that first negative prediction implies
The residual ("virtual") noise of x_t w.r.t. a reference latent x_ref is (x_t - alpha_t * x_ref) / beta_t.
"""

from __future__ import annotations

import enum

import torch


class CfgMode(enum.Enum):
    """Which classifier-free guidance StreamPipeline applies."""

    NONE = "none"
    FULL = "full"
    SELF = "self"
    INITIALIZE = "initialize"


def unet_evaluations(mode: CfgMode, steps: int, frames: int = 1) -> int:
    """UNet samples evaluated per call for `frames` input frames and `steps` denoising steps."""
    base = steps * frames
    if mode is CfgMode.FULL:
        return 2 * base
    if mode is CfgMode.INITIALIZE:
        return base + frames
    return base


def combine(eps_cond: torch.Tensor, eps_neg: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Classifier-free guidance: eps_neg + g * (eps_cond - eps_neg)."""
    return eps_neg + guidance_scale * (eps_cond - eps_neg)


def residual_noise(
    x_t: torch.Tensor, x_ref: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor
) -> torch.Tensor:
    """The virtual residual noise (x_t - alpha * x_ref) / beta."""
    return (x_t - alpha * x_ref) / beta
