"""IP-Adapter style images (sdbridge.pipeline.ip_adapter): ours equals diffusers' IP-Adapter img2img pipeline on
the same tiny random weights; scale 0 (or no style) is bit-identical to no adapter; a style image is encoded once;
Stream Batch equals the sequential reference in every CFG mode; shared UNet batches."""

from __future__ import annotations

import types

import pytest
import torch

from sdbridge.errors import ConfigError, InputError
from sdbridge.pipeline import CfgMode, StreamConfig, StreamPipeline
from sdbridge.pipeline.components import load_components
from sdbridge.pipeline.ip_adapter import IpAdapter
from sdbridge.pipeline.ip_adapter_tiny import tiny_image_encoder, tiny_ip_adapter, tiny_state_dict
from sdbridge.pipeline.shared_batch import can_share, run_shared
from sdbridge.pipeline.style_images import StyleStream
from tests.conftest import random_frames

T_INDEX = {1: [32], 2: [16, 45], 3: [0, 25, 45]}
PROMPT, NEGATIVE = "a watercolor castle", "blurry, dark"


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "plus"])
def styled(request) -> tuple:
    """Fresh "tiny" components (the session's `tiny` is left untouched) with a random IP-Adapter attached."""
    comps = load_components("tiny", device="cpu", dtype=torch.float32)
    return comps, tiny_ip_adapter(comps, plus=request.param, seed=3)


def _pipe(comps, adapter, *, batched=True, steps=2, fbs=1, mode=CfgMode.NONE, **settings) -> StreamPipeline:
    cfg = StreamConfig(width=64, height=64, t_index_list=T_INDEX[steps], cfg_mode=mode, guidance_scale=1.5, delta=0.8,
                       seed=7, frame_buffer_size=fbs, use_denoising_batch=batched, **settings)
    pipe = StreamPipeline(comps, cfg, ip_adapter=adapter)
    pipe.prepare(prompt=PROMPT, negative_prompt=NEGATIVE)
    return pipe


def _run(pipe, frames) -> list[torch.Tensor]:
    return [pipe(frame).latents for frame in frames]


@pytest.mark.parametrize("guidance", [1.0, 1.5])
def test_one_step_equals_diffusers_ip_adapter_img2img(styled, guidance):
    """Ours against diffusers' StableDiffusionImg2ImgPipeline with load_ip_adapter (the same random adapter file
    loaded into its own copy of the UNet), the same image encoder, latents, noise, prompt embeddings and timestep,
    one step; guidance 1.5 is CFG FULL against diffusers' CFG (the negative image embedding on its negative half)."""
    from diffusers import LCMScheduler, StableDiffusionImg2ImgPipeline
    from PIL import Image

    from sdbridge.pipeline.images import to_model_tensor
    from sdbridge.pipeline.presets import LCM_SCHEDULER_CONFIG

    comps, adapter = styled
    frame, style = random_frames(2, seed=3)
    mode = CfgMode.NONE if guidance == 1.0 else CfgMode.FULL  # 999 - 20 * 25 = 499: t_index 25 (see test_controlnet)
    cfg = StreamConfig(width=64, height=64, t_index_list=[25], seed=7, use_denoising_batch=False, cfg_mode=mode,
                       guidance_scale=guidance)
    ours = StreamPipeline(comps, cfg, ip_adapter=adapter)
    ours.prepare(prompt=PROMPT)
    ours.style.set_image("painting", style)
    got = ours(frame).latents
    fresh = load_components("tiny", device="cpu", dtype=torch.float32)
    theirs = StableDiffusionImg2ImgPipeline(
        vae=fresh.vae, text_encoder=fresh.text_encoder, tokenizer=fresh.tokenizer, unet=fresh.unet,
        scheduler=LCMScheduler.from_config(LCM_SCHEDULER_CONFIG), safety_checker=None,
        feature_extractor=adapter.image_processor, image_encoder=adapter.encoder, requires_safety_checker=False)
    theirs.load_ip_adapter(tiny_state_dict(comps.unet.config, adapter.encoder.config, adapter.plus, seed=3),
                           subfolder="", weight_name="")
    theirs.set_progress_bar_config(disable=True)
    with torch.inference_mode():
        x0 = ours.vae_encode(to_model_tensor(frame, 64, 64, 1, comps.device, comps.dtype))
        embeds = ours.prompt_encoder.resolve(PROMPT, cfg.prompt_interpolation).embeds
        negative = ours.prompt_encoder.resolve("", cfg.prompt_interpolation).embeds
    timesteps = []
    out = theirs(prompt_embeds=embeds, negative_prompt_embeds=negative, image=x0,
                 ip_adapter_image=Image.fromarray(style), height=64, width=64, strength=0.5, num_inference_steps=2,
                 guidance_scale=guidance,
                 output_type="latent", generator=torch.Generator().manual_seed(7),
                 callback_on_step_end=lambda _p, _i, t, kw: timesteps.append(int(t)) or kw).images
    assert timesteps == [499]
    torch.testing.assert_close(got, out, atol=1e-5, rtol=1e-5)
    ours.update(ip_adapter_scale=0.0)  # able to fail: without the style our result is far from theirs
    assert (ours(frame).latents - out).abs().max() > 1e-2


@pytest.mark.parametrize("mode", list(CfgMode))
def test_scale_zero_or_no_style_is_exactly_no_adapter(styled, tiny, mode):
    comps, adapter = styled
    frames, style = random_frames(3, seed=8), random_frames(1, seed=9)[0]
    plain = _run(_pipe(tiny, None, mode=mode), frames)
    no_style = _run(_pipe(comps, adapter, mode=mode), frames)
    off = _pipe(comps, adapter, mode=mode, ip_adapter_scale=0.0)
    off.style.set_image("a", style)
    on = _pipe(comps, adapter, mode=mode, ip_adapter_scale=0.5)
    on.style.set_image("a", style)
    for a, b, c in zip(plain, no_style, _run(off, frames), strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    for a, d in zip(plain, _run(on, frames), strict=True):
        assert (a - d).abs().max() > 1e-2  # able to fail: scale 0.5 changes the output


def test_a_style_image_is_encoded_and_projected_once(styled):
    comps, adapter = styled
    runs: list[int] = []
    hook = adapter.encoder.register_forward_hook(lambda *_: runs.append(1))
    try:
        adapter.negative()  # the Plus negative (an all-zero image's encoding) is computed once, up front
        before, base, projected = adapter.encodes, len(runs), comps.unet.encoder_hid_proj.runs
        style = random_frames(1, seed=21)[0]
        first, second = _pipe(comps, adapter), _pipe(comps, adapter)
        for frame in random_frames(3, seed=22):
            first.style.set_image("a", style.copy())  # equal pixels, a new array each frame
            second.style.set_image("b", style.copy())  # another pipeline on the same adapter: the same cache
            first(frame)
            second(frame)
        assert adapter.encodes - before == 1 and len(runs) - base == 1
        assert comps.unet.encoder_hid_proj.runs - projected == 2  # projected once per pipeline, not per frame
        changed = style.copy()
        changed[0, 0, 0] ^= 1
        first.style.set_image("a", changed)  # able to fail: one changed pixel is encoded
        assert adapter.encodes - before == 2 and len(runs) - base == 2
        first(random_frames(1, seed=23)[0])
        assert comps.unet.encoder_hid_proj.runs - projected == 3  # able to fail: the new style is projected
    finally:
        hook.remove()


CASES = [(2, 1, mode) for mode in CfgMode] + [(3, 2, CfgMode.FULL), (3, 1, CfgMode.INITIALIZE)]


@pytest.mark.parametrize(("steps", "fbs", "mode"), CASES)
def test_batched_equals_sequential_with_style(styled, steps, fbs, mode):
    comps, adapter = styled
    frames = random_frames(2 + steps, batch=fbs if fbs > 1 else None, seed=steps)
    styles = random_frames(2, seed=40)
    results = []
    for batched in (False, True):
        pipe = _pipe(comps, adapter, batched=batched, steps=steps, fbs=fbs, mode=mode, ip_adapter_scale=0.8)
        pipe.style.set_image("a", styles[0], weight=2.0)
        pipe.style.set_image("b", styles[1], weight=1.0)
        results.append(_run(pipe, frames))
    sequential, batched_out = results
    lag = steps - 1
    for k in range(len(frames) - lag):
        torch.testing.assert_close(batched_out[k + lag], sequential[k], atol=1e-4, rtol=1e-5)


def test_sdxl_batched_equals_sequential_with_style(tiny_sdxl):
    comps = load_components("tiny-sdxl", device="cpu", dtype=torch.float32)
    adapter = tiny_ip_adapter(comps, seed=5)
    frames, style = random_frames(3, seed=50), random_frames(1, seed=51)[0]
    out = []
    for batched in (False, True):
        pipe = _pipe(comps, adapter, batched=batched, mode=CfgMode.INITIALIZE)
        pipe.style.set_image("a", style)
        out.append(_run(pipe, frames))
    for k in range(2):
        torch.testing.assert_close(out[1][k + 1], out[0][k], atol=1e-4, rtol=1e-5)
    plain = _run(_pipe(tiny_sdxl, None, mode=CfgMode.INITIALIZE), frames)
    assert (plain[0] - out[0][0]).abs().max() > 1e-2  # able to fail: the style changes the SDXL output


def test_blend_weights(styled):
    comps, adapter = styled
    frames, styles = random_frames(2, seed=60), random_frames(2, seed=61)
    only_a = _pipe(comps, adapter)
    only_a.style.set_image("a", styles[0])
    blended = _pipe(comps, adapter)
    blended.style.set_image("a", styles[0], weight=3.0)
    blended.style.set_image("b", styles[1], weight=0.0)  # weight 0: left out of the blend
    a, b = _run(only_a, frames), _run(blended, frames)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    blended.style.set_weights([("b", 1.0)])  # able to fail: b now takes a quarter of the blend
    assert (blended(frames[0]).latents - only_a(frames[0]).latents).abs().max() > 1e-3
    with pytest.raises(InputError, match="style 'c' is not set"):
        blended.style.set_weights([("c", 1.0)])
    with pytest.raises(InputError, match=r"weight=-1\.0 must be a finite number >= 0"):
        blended.style.set_weights([("a", -1.0)])
    with pytest.raises(InputError, match=r"give \(H, W, 3\) uint8 RGB pixels"):
        blended.style.set_image("d", styles[0][..., :2])
    blended.style.remove("a")
    blended.style.remove("b")
    assert not blended.style.active and blended.style.scale(blended.config) == 0.0


def test_shared_batches_need_the_same_adapter_and_scale(styled):
    comps, adapter = styled
    frames, styles = random_frames(3, seed=70), random_frames(2, seed=71)
    make = lambda scale, style: _set(_pipe(comps, adapter, ip_adapter_scale=scale), style)  # noqa: E731
    alone = [_run(make(0.7, styles[i]), frames) for i in range(2)]
    a, b = make(0.7, styles[0]), make(0.7, styles[1])  # different images, one scale: they share
    assert can_share(a, b)
    together = [run_shared([(a, f), (b, f)]) for f in frames]
    for k in range(len(frames)):  # up to summation order (batch 2 vs 1), amplified by the random adapter: 2e-3
        torch.testing.assert_close(together[k][0].latents, alone[0][k], atol=5e-3, rtol=1e-3)
        torch.testing.assert_close(together[k][1].latents, alone[1][k], atol=5e-3, rtol=1e-3)
    # able to fail: each sample got its own style (a's frames with b's style are far from a's)
    assert (together[-1][0].latents - alone[1][-1]).abs().max() > 5e-2
    assert not can_share(a, make(0.3, styles[0]))  # one scale per UNet call
    assert not can_share(a, _pipe(comps, adapter))  # no style: scale 0
    assert can_share(make(0.0, styles[0]), _pipe(comps, adapter))  # both at 0


def _set(pipe: StreamPipeline, style) -> StreamPipeline:
    pipe.style.set_image("s", style)
    return pipe


def test_engines_and_missing_adapters_are_refused(styled, tiny):
    comps, adapter = styled
    engine = types.SimpleNamespace(unet=types.SimpleNamespace(config=types.SimpleNamespace()), device="cpu",
                                   dtype=torch.float32)
    with pytest.raises(ConfigError, match=r"accelerated engine .* use the eager, compile backend"):
        IpAdapter(engine, {}, tiny_image_encoder())
    with pytest.raises(ConfigError, match="carries an IP-Adapter: give the pipeline that IpAdapter"):
        StyleStream(None, comps)
    with pytest.raises(ConfigError, match="already carries one"):
        IpAdapter(comps, {}, adapter.encoder)
    with pytest.raises(ConfigError, match="this pipeline has no IP-Adapter"):
        _pipe(tiny, None).style.set_image("a", random_frames(1)[0])
    with pytest.raises(ConfigError, match=r"ip_adapter_scale=3\.0 must be a number in \[0, 2\]"):
        _pipe(comps, adapter, ip_adapter_scale=3.0)
