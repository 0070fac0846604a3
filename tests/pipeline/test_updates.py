"""Live updates without rebuild: prompt changes under every CFG mode, prompt and seed blends."""

from __future__ import annotations

import pytest
import torch

from sdbridge.pipeline import CfgMode, Interpolation, StreamConfig, StreamPipeline
from sdbridge.pipeline.blending import slerp
from tests.conftest import random_frames


def make(comps, mode=CfgMode.FULL, prompt="a watercolor castle", seed=4, **kw):
    cfg = StreamConfig(width=64, height=64, t_index_list=[0, 16, 32, 45], cfg_mode=mode, guidance_scale=2.0,
                       seed=seed, **kw)
    pipe = StreamPipeline(comps, cfg)
    pipe.prepare(prompt=prompt, negative_prompt="blurry, low quality")
    return pipe


@pytest.mark.parametrize("family", ["tiny", "tiny_sdxl"])
@pytest.mark.parametrize("mode", list(CfgMode))
def test_prompt_change_equals_a_fresh_pipeline_once_the_buffer_cycles(request, family, mode):
    """After update(prompt=B), once n frames went through, the stream equals one prepared with B.

    This catches the original's update_prompt bug (it dropped the negative embedding, so FULL and
    INITIALIZE with guidance > 1 broke after a prompt change).
    """
    comps = request.getfixturevalue(family)
    frames = random_frames(12, seed=5)
    changed, fresh = make(comps, mode), make(comps, mode, prompt="a dark forest")
    for f in frames[:4]:
        changed(f)
    changed.update(prompt="a dark forest")
    after = [changed(f) for f in frames[4:]]
    reference = [fresh(f) for f in frames[4:]]
    lag = changed.latency_frames
    for got, want in zip(after[lag:], reference[lag:], strict=True):
        torch.testing.assert_close(got.latents, want.latents, atol=1e-4, rtol=1e-5)
    assert not after[0].is_warmup  # no restart: the stream keeps flowing
    assert (after[0].latents - reference[0].latents).abs().max() > 1e-3  # slots begun under the old prompt


def test_negative_prompt_change_applies(tiny):
    frames = random_frames(8, seed=6)
    a, b = make(tiny), make(tiny)
    b.update(negative_prompt="oversaturated")
    outs = [(a(f), b(f)) for f in frames]
    assert (outs[-1][0].latents - outs[-1][1].latents).abs().max() > 1e-3


def test_each_text_is_encoded_once(tiny):
    pipe = make(tiny)
    calls = pipe.prompt_encoder.encode_calls
    pipe.update(prompt="forest")
    pipe.update(prompt="a watercolor castle")
    pipe.update(prompt=[("forest", 0.5), ("a watercolor castle", 0.5)])
    pipe.update(prompt="forest")
    assert pipe.prompt_encoder.encode_calls == calls + 1


@pytest.mark.parametrize("interpolation", list(Interpolation))
def test_weighted_prompt_blend(tiny, interpolation):
    pipe = make(tiny, prompt_interpolation=interpolation)
    enc = pipe.prompt_encoder
    castle, forest = enc.encode("castle").embeds, enc.encode("forest").embeds
    pipe.update(prompt=[("castle", 0.7), ("forest", 0.3)])
    got = pipe._cond.embeds
    linear = interpolation is Interpolation.LINEAR
    want = 0.7 * castle + 0.3 * forest if linear else slerp(castle, forest, 0.3)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    pipe.update(prompt=[("castle", 1.0), ("forest", 0.0)])
    torch.testing.assert_close(pipe._cond.embeds, castle)


def test_blend_with_one_full_weight_equals_the_plain_prompt(tiny):
    frames = random_frames(6, seed=8)
    plain = make(tiny, prompt="castle")
    blended = make(tiny, prompt=[("castle", 2.0), ("forest", 0.0)])
    for f in frames:
        a, b = plain(f), blended(f)
    torch.testing.assert_close(a.latents, b.latents)


@pytest.mark.parametrize("interpolation", list(Interpolation))
def test_seed_blend(tiny, interpolation):
    one = make(tiny, seed=1)
    blend = make(tiny, seed=[(1, 1.0), (9, 0.0)], seed_interpolation=interpolation)
    torch.testing.assert_close(blend._noise, one._noise)
    blend.update(seed=[(1, 0.5), (9, 0.5)])
    mixed = blend._noise
    assert 0.9 < float(mixed.std()) < 1.1  # still unit-variance noise
    assert (mixed - one._noise).abs().max() > 0.1
    blend.update(seed=9)
    other = make(tiny, seed=9)
    torch.testing.assert_close(blend._noise, other._noise)


def test_runtime_parameters_change_without_restart(tiny):
    pipe = make(tiny, mode=CfgMode.SELF)
    for f in random_frames(4):
        pipe(f)
    unet = pipe.components.unet
    pipe.update(guidance_scale=1.2, delta=0.5, seed=3, t_index_list=[10, 20, 30, 40], similarity_threshold=0.9,
                max_skip_frames=2, cfg_mode=CfgMode.FULL)
    result = pipe(random_frames(1, seed=9)[0])
    assert not result.is_warmup and pipe.components.unet is unet
    pipe.update(t_index_list=[30, 45])  # fewer steps: the stream restarts (warm-up again), nothing reloads
    assert pipe(random_frames(1)[0]).is_warmup
    assert pipe.latency_frames == 1
