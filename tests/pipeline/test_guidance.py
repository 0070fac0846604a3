"""RCFG costs and equivalences, counted with a UNet wrapper."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from sdbridge.pipeline import CfgMode, StreamConfig, StreamPipeline
from sdbridge.pipeline.guidance import unet_evaluations
from tests.conftest import random_frames


class CountingUNet(torch.nn.Module):
    """Forwards to a UNet and records the batch size of every call."""

    def __init__(self, unet: torch.nn.Module) -> None:
        super().__init__()
        self.inner = unet
        self.batches: list[int] = []

    def forward(self, sample, *args, **kwargs):
        self.batches.append(int(sample.shape[0]))
        return self.inner(sample, *args, **kwargs)


def counted(tiny, mode, batched, fbs=1, guidance_scale=1.4):
    unet = CountingUNet(tiny.unet)
    comps = dataclasses.replace(tiny, unet=unet)
    pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=[0, 16, 32, 45], cfg_mode=mode,
                                              guidance_scale=guidance_scale, frame_buffer_size=fbs,
                                              use_denoising_batch=batched))
    pipe.prepare(prompt="castle", negative_prompt="blurry")
    return pipe, unet


EXPECTED_PER_FRAME = {CfgMode.NONE: 4, CfgMode.FULL: 8, CfgMode.SELF: 4, CfgMode.INITIALIZE: 5}


@pytest.mark.parametrize("mode", list(CfgMode))
@pytest.mark.parametrize("fbs", [1, 2])
def test_stream_batch_runs_one_unet_call_of_the_paper_size(tiny, mode, fbs):
    pipe, unet = counted(tiny, mode, batched=True, fbs=fbs)
    for frame in random_frames(3, batch=fbs if fbs > 1 else None):
        pipe(frame)
    assert unet.batches == [EXPECTED_PER_FRAME[mode] * fbs] * 3
    assert unet_evaluations(mode, 4, fbs) == EXPECTED_PER_FRAME[mode] * fbs


@pytest.mark.parametrize("mode", list(CfgMode))
def test_sequential_runs_one_call_per_step(tiny, mode):
    pipe, unet = counted(tiny, mode, batched=False)
    pipe(random_frames(1)[0])
    assert len(unet.batches) == 4
    assert sum(unet.batches) == EXPECTED_PER_FRAME[mode]


@pytest.mark.parametrize("mode", [CfgMode.FULL, CfgMode.SELF, CfgMode.INITIALIZE])
def test_guidance_one_equals_no_guidance(tiny, mode):
    frames = random_frames(5, seed=3)
    plain, _ = counted(tiny, CfgMode.NONE, batched=True, guidance_scale=1.0)
    guided, _ = counted(tiny, mode, batched=True, guidance_scale=1.0)
    strong, _ = counted(tiny, mode, batched=True, guidance_scale=3.0)
    for frame in frames:
        a, b, c = plain(frame), guided(frame), strong(frame)
    torch.testing.assert_close(b.latents, a.latents, atol=1e-4, rtol=1e-5)
    assert (c.latents - a.latents).abs().max() > 1e-2  # guidance does act when > 1
