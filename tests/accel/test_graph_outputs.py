"""Shared UNet batches stay correct when the model's outputs live in reused memory, as with CUDA graphs.

A CUDA-graph runner (torch.compile mode "reduce-overhead") returns output tensors in a memory pool that the next
call of any compiled module (the VAE's included) overwrites. The fakes here do the same on a CPU: every call of
the fake UNet or the fake VAE fills the outputs returned before with NaN. Shared results must equal unshared ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

from sdbridge.pipeline import Components, StreamConfig, StreamPipeline
from sdbridge.pipeline.shared_batch import run_shared
from tests.conftest import random_frames


class GraphPool:
    """Outputs handed out so far; each new call overwrites them (like a CUDA graph tree's new generation)."""

    def __init__(self) -> None:
        self.handed_out: list[torch.Tensor] = []
        self.overwritten = 0

    def issue(self, out: torch.Tensor) -> torch.Tensor:
        for old in self.handed_out:
            old.fill_(float("nan"))
            self.overwritten += 1
        self.handed_out = [out]
        return out


class OverwritingUNet:
    """The UNet's results in pool memory (diffusers call signature, `config`, an optional `max_batch`)."""

    def __init__(self, unet: Any, pool: GraphPool, max_batch: int | None) -> None:
        self.inner, self.pool, self.config, self.max_batch = unet, pool, unet.config, max_batch

    def __call__(self, sample: torch.Tensor, *args: Any, **kwargs: Any) -> tuple[torch.Tensor]:
        return (self.pool.issue(self.inner(sample, *args, **kwargs)[0].clone()),)


class OverwritingVae:
    """The VAE's encode / decode results in the same pool memory."""

    def __init__(self, vae: Any, pool: GraphPool) -> None:
        self.inner, self.pool, self.config = vae, pool, vae.config

    def encode(self, images: torch.Tensor, return_dict: bool = True) -> Any:
        latents = self.pool.issue(self.inner.encode(images).latents.clone())
        return type("Encoded", (), {"latents": latents})()

    def decode(self, latents: torch.Tensor, return_dict: bool = True) -> tuple[torch.Tensor]:
        return (self.pool.issue(self.inner.decode(latents, return_dict=False)[0].clone()),)


def _pipes(components: Components, count: int) -> list[StreamPipeline]:
    pipes = []
    for k in range(count):
        pipe = StreamPipeline(components, StreamConfig(width=64, height=64, t_index_list=(16, 45), seed=k))
        pipe.prepare(prompt=f"castle {k}", negative_prompt="blurry")
        pipes.append(pipe)
    return pipes


def test_the_fake_overwrites_earlier_outputs(tiny: Components) -> None:
    """The fake does to a caller that keeps an output what CUDA graphs would (so the next test can fail)."""
    pool = GraphPool()
    unet = OverwritingUNet(tiny.unet, pool, None)
    sample, t = torch.randn(2, 4, 8, 8), torch.tensor([500, 700])
    embeds = torch.randn(2, 77, tiny.unet.config.cross_attention_dim)
    with torch.inference_mode():
        first = unet(sample, t, encoder_hidden_states=embeds)[0]
        assert not first.isnan().any()
        unet(sample, t, encoder_hidden_states=embeds)
    assert first.isnan().all() and pool.overwritten == 1


@pytest.mark.parametrize("max_batch", [None, 2], ids=["one-call", "a-call-per-session"])
def test_shared_results_equal_unshared_ones_with_overwritten_outputs(tiny: Components, max_batch: int | None) -> None:
    pool = GraphPool()
    graphed = dataclasses.replace(tiny, unet=OverwritingUNet(tiny.unet, pool, max_batch),
                                  vae=OverwritingVae(tiny.vae, pool))
    alone, together = _pipes(tiny, 3), _pipes(graphed, 3)
    compared = 0
    for frame in range(4):
        images = random_frames(3, seed=40 + frame)
        expected = [pipe(image) for pipe, image in zip(alone, images, strict=True)]
        got = run_shared(list(zip(together, images, strict=True)))
        for e, g in zip(expected, got, strict=True):
            assert g.is_warmup == e.is_warmup
            if not e.is_warmup:
                torch.testing.assert_close(g.latents, e.latents, atol=5e-4, rtol=1e-3)
                assert np.abs(g.image.astype(int) - e.image.astype(int)).max() <= 2
                compared += 1
    assert compared == 3 * 3
    assert pool.overwritten >= 2 * 4  # earlier outputs really were overwritten during the shared calls
