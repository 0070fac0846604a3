"""Motion-guided warping of the cached-attention bank (`attention_bank_warp`): banked frames brought to the frame
that reads them, with the engine's motion, before it attends to them.

A banked frame's keys and values (sdbridge.pipeline.cached_attention) are per token at its attention layer's
resolution: T tokens of a (gh, gw) grid in row-major order (diffusers' Transformer2DModel flattens (B, C, gh, gw)
to (B, gh * gw, C)). The grid is the latent grid (h, w) halved (rounding up, as the UNet's stride-2 convolutions do)
until it holds T tokens (`token_grid`). The motion of every staged frame (its latent flow to the frame before and
the disocclusion mask, sdbridge.pipeline.temporal_warp) is noted here; frame f reading banked frame e < f composes
the flows of frames f, f - 1, ..., e + 1 at latent resolution (the motion accumulated since e was banked), resamples
them to the grid (the flow averaged over each token's cells and scaled to tokens; a token is visible only when all
its cells are), warps the keys and values bilinearly (`temporal_warp.warp`: a whole-token flow moves them exactly)
and gives back a keep mask per token: 0 where the surface was not visible in frame e, or its source lies outside
the grid. The attention masks those tokens out (an additive -inf score: they are dropped).

A frame whose motion chain is broken (a frame without motion since e) reads e unwarped, as without the option. A
grid that no halving of the latent grid gives (an unknown layer layout) is read unwarped too. Feature injection
matches a token with any banked output by similarity wherever it is, so banked outputs are not warped.

Nothing is shared between pipelines (each AttentionBank has its own `BankMotion`); memory is bounded by the bank's
horizon (flows of the last attention_bank * attention_bank_interval + steps frames). Needs frame_buffer_size 1
(motion is per frame). Not run on a GPU here: plain torch, the same on any device.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional

from sdbridge.pipeline import temporal_warp

_Flow = tuple[torch.Tensor, torch.Tensor]  # (flow (1, 2, h, w) in cells, keep (1, 1, h, w)): frame -> earlier frame


def token_grid(height: int, width: int, tokens: int) -> tuple[int, int] | None:
    """The (gh, gw) token grid of an attention layer with `tokens` tokens on a (height, width) latent, or None."""
    gh, gw = height, width
    while gh * gw > tokens:
        gh, gw = math.ceil(gh / 2), math.ceil(gw / 2)
    return (gh, gw) if gh * gw == tokens else None


def resample(flow: torch.Tensor, keep: torch.Tensor, gh: int, gw: int) -> _Flow:
    """A latent flow (1, 2, h, w) in cells and its keep mask brought to a (gh, gw) token grid: the mean flow of each
    token's cells in tokens, and 1 only where every cell is kept."""
    h, w = flow.shape[-2:]
    if (gh, gw) == (h, w):
        return flow, keep
    moved = functional.adaptive_avg_pool2d(flow.float(), (gh, gw))
    moved = moved * torch.tensor([gw / w, gh / h], device=flow.device, dtype=torch.float32).view(1, 2, 1, 1)
    return moved, -functional.adaptive_max_pool2d(-keep.float(), (gh, gw))


def warp_tokens(key: torch.Tensor, value: torch.Tensor, flow: torch.Tensor,
                keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Banked keys and values (R, T, C) warped by a token-grid flow (1, 2, gh, gw) (out[p] = banked[p + flow[p]]);
    returns them in their dtype and the keep mask (T,) float32: 0 for disoccluded tokens and sources outside."""
    rows, tokens, channels = key.shape
    gh, gw = flow.shape[-2:]
    grid = torch.cat([key, value], 2).transpose(1, 2).reshape(rows, 2 * channels, gh, gw)
    warped, inside = temporal_warp.warp(grid, flow.expand(rows, -1, -1, -1))
    warped = warped.reshape(rows, 2 * channels, tokens).transpose(1, 2)
    mask = (keep.float() * inside[:1]).reshape(tokens)
    return warped[..., :channels].to(key.dtype), warped[..., channels:].to(value.dtype), mask


class BankMotion:
    """The latent flows of one pipeline's recent staged frames, composed and resampled on demand (module docstring).
    """

    def __init__(self) -> None:
        self._flows: dict[int, _Flow | None] = {}  # frame -> its flow to the frame before (None: no motion given)
        self._cache: dict[tuple[int, int, int, int], _Flow | None] = {}  # (frame, source, gh, gw) -> token flow

    @property
    def held(self) -> int:
        """Frames whose motion is held now (bounded by the bank's horizon)."""
        return len(self._flows)

    def clear(self) -> None:
        """Forget every frame's motion (a scene cut, a restart, the option turned off)."""
        self._flows.clear()
        self._cache.clear()

    def note(self, frame: int, flow: torch.Tensor | None, keep: torch.Tensor | None, horizon: int) -> None:
        """Frame `frame` was staged with this latent flow to the frame before (None: none); older than the horizon
        is forgotten."""
        self._flows[frame] = None if flow is None or keep is None else (flow, keep)
        for old in [i for i in self._flows if i < frame - horizon]:
            del self._flows[old]
        self._cache.clear()  # a cached chain is only reused within the staged frame's UNet calls

    def flow(self, frame: int, source: int, tokens: int) -> _Flow | None:
        """The token-grid flow (1, 2, gh, gw) and keep mask from `frame` back to `source` for a layer of `tokens`
        tokens; None when a frame in (source, frame] has no motion or the grid is unknown."""
        first = self._flows.get(frame)
        if first is None:
            return None
        grid = token_grid(first[0].shape[-2], first[0].shape[-1], tokens)
        if grid is None:
            return None
        cached = (frame, source, *grid)
        if cached not in self._cache:
            self._cache[cached] = self._chain(frame, source, *grid)
        return self._cache[cached]

    def _chain(self, frame: int, source: int, gh: int, gw: int) -> _Flow | None:
        chain = [self._flows.get(i) for i in range(frame, source, -1)]  # frame, frame - 1, ..., source + 1
        if not chain or any(c is None for c in chain):
            return None
        flow, keep = chain[0]  # type: ignore[misc]
        for older in chain[1:]:
            flow, keep = temporal_warp.compose(flow, keep, *older)  # type: ignore[misc]
        return resample(flow, keep, gh, gw)
