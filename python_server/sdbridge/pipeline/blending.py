"""Weighted blends of tensors (prompt embeddings, seed noises): linear or spherical (slerp).

The arithmetic runs in float32 (half-precision inputs are widened to it, results cast back), never float64:
Apple's MPS has no float64, and these tensors live on the model's device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sdbridge.errors import ConfigError
from sdbridge.pipeline.config import Interpolation


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, dim: int = -1, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation from a (t=0) to b (t=1) along `dim`; falls back to lerp for parallel vectors."""
    a32, b32 = a.to(torch.float32), b.to(torch.float32)
    na = a32.norm(dim=dim, keepdim=True).clamp_min(eps)
    nb = b32.norm(dim=dim, keepdim=True).clamp_min(eps)
    cos = ((a32 / na) * (b32 / nb)).sum(dim=dim, keepdim=True).clamp(-1.0, 1.0)
    theta = torch.arccos(cos)
    sin = torch.sin(theta)
    parallel = sin.abs() < 1e-4
    safe_sin = torch.where(parallel, torch.ones_like(sin), sin)
    wa = torch.where(parallel, torch.full_like(sin, 1.0 - t), torch.sin((1.0 - t) * theta) / safe_sin)
    wb = torch.where(parallel, torch.full_like(sin, t), torch.sin(t * theta) / safe_sin)
    return (wa * a32 + wb * b32).to(a.dtype)


def normalized_weights(weights: Sequence[float]) -> list[float]:
    """Weights scaled to sum to 1; rejects empty, negative or all-zero weights."""
    if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ConfigError(f"blend weights {list(weights)} must be non-negative with a positive sum")
    total = float(sum(weights))
    return [float(w) / total for w in weights]


def blend(
    tensors: Sequence[torch.Tensor], weights: Sequence[float], interpolation: Interpolation,
    dim: int = -1, preserve_variance: bool = False,
) -> torch.Tensor:
    """Blend same-shaped tensors by weight.

    LINEAR: sum(w_i x_i) with weights normalised to 1; with `preserve_variance` (for independent
    Gaussian noises) divided by sqrt(sum(w_i^2)) so the blend is still unit-variance noise.
    SLERP: pairwise slerp, folding in each tensor with t = w_i / (weight so far + w_i) along `dim`.
    """
    if len(tensors) != len(weights):
        raise ConfigError(f"blend got {len(tensors)} tensors but {len(weights)} weights")
    w = normalized_weights(weights)
    if interpolation is Interpolation.LINEAR:
        out = sum(wi * x.to(torch.float32) for wi, x in zip(w, tensors, strict=True))
        if preserve_variance:
            out = out / sum(wi * wi for wi in w) ** 0.5
        return out.to(tensors[0].dtype)
    out, acc = tensors[0], w[0]
    for wi, x in zip(w[1:], tensors[1:], strict=True):
        if wi == 0.0:
            continue
        out = slerp(out, x, wi / (acc + wi), dim=dim)
        acc += wi
    return out
