"""ONNX Runtime output equals torch eager output within a stated tolerance, in every CFG mode.

Tolerance (float32, CPU): final latents within atol 1e-4 + rtol 1e-4 of torch's, decoded uint8 images
within 2 levels, for every output that is not a warm-up. Warm-up outputs (flagged `is_warmup`) come from
the all-zero stream buffers: the UNet's first GroupNorm then sees a constant map (variance ~0) and divides
rounding noise by sqrt(eps), so any two correct implementations differ there (measured up to 0.4 for the
tiny UNet on an all-zero sample, 1e-6 on random samples); those outputs are only checked to be flagged alike.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdbridge.pipeline import CfgMode, Components, StreamConfig, StreamPipeline
from tests.conftest import random_frames

LATENT_ATOL = LATENT_RTOL = 1e-4
IMAGE_LEVELS = 2


def _compare(eager: Components, ort: Components, config: StreamConfig, frames: list[np.ndarray],
             txt2img: bool = False) -> None:
    a, b = StreamPipeline(eager, config), StreamPipeline(ort, config)
    a.prepare(prompt="a castle in the rain", negative_prompt="blurry")
    b.prepare(prompt="a castle in the rain", negative_prompt="blurry")
    for frame in frames:
        ra, rb = (a.txt2img(), b.txt2img()) if txt2img else (a(frame), b(frame))
        assert ra.is_warmup == rb.is_warmup
        if ra.is_warmup:
            continue
        torch.testing.assert_close(rb.latents, ra.latents, atol=LATENT_ATOL, rtol=LATENT_RTOL)
        assert np.abs(ra.image.astype(int) - rb.image.astype(int)).max() <= IMAGE_LEVELS


@pytest.mark.parametrize("mode", list(CfgMode))
def test_tiny_every_cfg_mode(tiny: Components, tiny_ort: Components, mode: CfgMode) -> None:
    config = StreamConfig(width=64, height=64, t_index_list=(0, 32), cfg_mode=mode, guidance_scale=1.6, delta=0.8)
    _compare(tiny, tiny_ort, config, random_frames(3, 64, seed=1))


@pytest.mark.parametrize("mode", list(CfgMode))
def test_small_every_cfg_mode(small: Components, small_ort: Components, mode: CfgMode) -> None:
    config = StreamConfig(width=64, height=64, t_index_list=(16, 32), cfg_mode=mode, guidance_scale=1.4)
    _compare(small, small_ort, config, random_frames(2, 64, seed=2))


@pytest.mark.parametrize("mode", [CfgMode.FULL, CfgMode.INITIALIZE])
def test_tiny_sdxl_conditioning(tiny_sdxl: Components, tiny_sdxl_ort: Components, mode: CfgMode) -> None:
    """SDXL family: text_embeds and time_ids go through the exported graph."""
    config = StreamConfig(width=64, height=64, t_index_list=(16, 32), cfg_mode=mode, guidance_scale=1.5)
    _compare(tiny_sdxl, tiny_sdxl_ort, config, random_frames(2, 64, seed=3))


def test_other_sizes_batches_and_modes_need_no_new_export(tiny: Components, tiny_ort: Components,
                                                          engines_dir: object) -> None:
    """Resolution, frame_buffer_size, sequential mode and txt2img all run on the one export (dynamic axes)."""
    from pathlib import Path

    before = sorted(p.name for p in Path(str(engines_dir)).iterdir())
    wide = [np.random.default_rng(4).integers(0, 256, (80, 96, 3), dtype=np.uint8)] * 2
    _compare(tiny, tiny_ort, StreamConfig(width=96, height=80, t_index_list=(16, 32)), wide)
    _compare(tiny, tiny_ort, StreamConfig(width=64, height=64, t_index_list=(16, 32), frame_buffer_size=2,
                                          cfg_mode=CfgMode.FULL, guidance_scale=1.3),
             random_frames(2, 64, seed=5, batch=2))
    _compare(tiny, tiny_ort, StreamConfig(width=64, height=64, t_index_list=(8, 24, 40), use_denoising_batch=False,
                                          cfg_mode=CfgMode.SELF, guidance_scale=1.2), random_frames(2, 64, seed=6))
    _compare(tiny, tiny_ort, StreamConfig(width=64, height=64, t_index_list=(16, 32)), [np.zeros(1)] * 2,
             txt2img=True)
    assert sorted(p.name for p in Path(str(engines_dir)).iterdir()) == before


def test_runtime_parameters_need_no_rebuild(tiny: Components, tiny_ort: Components) -> None:
    """Prompt, seed, guidance, delta and strength (t_index_list) change between frames on the same sessions."""
    config = StreamConfig(width=64, height=64, t_index_list=(16, 32), cfg_mode=CfgMode.SELF, guidance_scale=1.2)
    a, b = StreamPipeline(tiny, config), StreamPipeline(tiny_ort, config)
    frames = random_frames(4, 64, seed=7)
    for pipe in (a, b):
        pipe.prepare(prompt="first")
    for i, frame in enumerate(frames):
        if i == 2:
            for pipe in (a, b):
                pipe.update(prompt="second", seed=9, guidance_scale=1.8, delta=0.5, t_index_list=(24, 40))
        ra, rb = a(frame), b(frame)
        if not ra.is_warmup:
            torch.testing.assert_close(rb.latents, ra.latents, atol=LATENT_ATOL, rtol=LATENT_RTOL)


def test_full_vae_export(engines_dir: object) -> None:
    """The full AutoencoderKL (posterior mean and decoder) exports and matches too."""
    from pathlib import Path

    from sdbridge.acceleration import AccelOptions, BackendChoice, accelerate
    from sdbridge.pipeline import load_components

    full = load_components("tiny", vae="full")
    ort = accelerate(full, AccelOptions(BackendChoice.ONNXRUNTIME, engines_dir=Path(str(engines_dir)), progress=False))
    config = StreamConfig(width=64, height=64, t_index_list=(16, 32), cfg_mode=CfgMode.SELF, guidance_scale=1.2)
    _compare(full, ort, config, random_frames(2, 64, seed=8))
    images = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        want = full.vae.encode(images).latent_dist.mean  # type: ignore[union-attr]
        torch.testing.assert_close(ort.vae.encode(images).latent_dist.mean, want, atol=1e-5, rtol=1e-4)  # type: ignore
