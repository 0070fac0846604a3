"""ControlNet in StreamPipeline (sdbridge.pipeline.controlnet) on tiny random-weight ControlNets: Stream Batch
equals the sequential reference with each slot on its own frame's control image, scale 0 and slots outside the
guidance window are exactly no ControlNet, an unchanged control image is embedded once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from sdbridge.errors import ConfigError, InputError
from sdbridge.pipeline import CfgMode, StreamConfig, StreamPipeline
from sdbridge.pipeline.controlnet import ControlNets, step_active, tiny_controlnet
from tests.conftest import random_frames

T_INDEX = {1: [32], 2: [16, 45], 3: [0, 25, 45]}


@pytest.fixture(scope="module")
def nets(tiny) -> ControlNets:
    return ControlNets({"depth": tiny_controlnet(tiny, seed=1)})


def _pipe(comps, nets: ControlNets | None, *, batched: bool = True, steps: int = 2, fbs: int = 1,
          mode: CfgMode = CfgMode.NONE, **settings) -> StreamPipeline:
    cfg = StreamConfig(width=64, height=64, t_index_list=T_INDEX[steps], cfg_mode=mode, guidance_scale=1.5, delta=0.8,
                       seed=7, frame_buffer_size=fbs, use_denoising_batch=batched, **settings)
    pipe = StreamPipeline(comps, cfg, nets)
    pipe.prepare(prompt="a watercolor castle", negative_prompt="blurry, dark")
    return pipe


def _run(pipe: StreamPipeline, frames, controls) -> list[torch.Tensor]:
    out = []
    for frame, control in zip(frames, controls, strict=True):
        if control is not None:
            pipe.control.set_image("depth", control)
        out.append(pipe(frame).latents)
    return out


CASES = [("tiny", 2, 1, mode, ()) for mode in CfgMode] + [
    ("tiny", 3, 2, CfgMode.FULL, ()),
    ("tiny", 3, 1, CfgMode.INITIALIZE, (("depth", 0.34),)),  # end 0.34: only step 0 of 3 has the ControlNet
    ("tiny_sdxl", 2, 1, CfgMode.SELF, ()),
]


@pytest.mark.parametrize(("family", "steps", "fbs", "mode", "end"), CASES)
def test_batched_equals_sequential_with_controlnet(family, steps, fbs, mode, end, request):
    comps = request.getfixturevalue(family)
    nets = ControlNets({"depth": tiny_controlnet(comps, seed=1)})
    frames = random_frames(2 + steps, batch=fbs if fbs > 1 else None, seed=steps)
    controls = random_frames(2 + steps, batch=fbs if fbs > 1 else None, seed=100 + steps)
    make = lambda batched: _pipe(comps, nets, batched=batched, steps=steps, fbs=fbs, mode=mode,  # noqa: E731
                                 controlnet_end=end)
    sequential = _run(make(False), frames, controls)
    batched = _run(make(True), frames, controls)
    lag = steps - 1
    for k in range(len(frames) - lag):
        torch.testing.assert_close(batched[k + lag], sequential[k], atol=1e-4, rtol=1e-5)  # test_stream_batch's
    # able to fail: frame 0 conditioned on frame 1's control image (what the newest frame's control for every slot
    # would give) is far from frame 0 on its own
    shifted = _run(make(False), frames[:1], controls[1:2])
    assert (shifted[0] - sequential[0]).abs().max() > 1e-2


def test_one_step_equals_diffusers_controlnet_img2img(tiny, nets):
    """Ours against diffusers' StableDiffusionControlNetImg2ImgPipeline on the same weights, latents, noise,
    prompt embeddings and timestep, guidance off, one step (LCM: the result is the consistency step's x0)."""
    from diffusers import LCMScheduler, StableDiffusionControlNetImg2ImgPipeline
    from PIL import Image

    from sdbridge.pipeline.images import to_model_tensor
    from sdbridge.pipeline.presets import LCM_SCHEDULER_CONFIG

    frame, control = random_frames(2, seed=3)
    # diffusers at num_inference_steps=2 and strength 0.5 runs one step, the 2-step ladder's last timestep
    # 999 - 20 * 25 = 499, which is t_index 25 of our 50-step ladder
    cfg = StreamConfig(width=64, height=64, t_index_list=[25], seed=7, use_denoising_batch=False)
    ours = StreamPipeline(tiny, cfg, nets)
    ours.prepare(prompt="a watercolor castle")
    ours.control.set_image("depth", control)
    got = ours(frame).latents
    theirs = StableDiffusionControlNetImg2ImgPipeline(
        vae=tiny.vae, text_encoder=tiny.text_encoder, tokenizer=tiny.tokenizer, unet=tiny.unet,
        controlnet=nets.models["depth"], scheduler=LCMScheduler.from_config(LCM_SCHEDULER_CONFIG),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    theirs.set_progress_bar_config(disable=True)
    with torch.inference_mode():
        x0 = ours.vae_encode(to_model_tensor(frame, 64, 64, 1, tiny.device, tiny.dtype))  # both start from these
        embeds = ours.prompt_encoder.resolve("a watercolor castle", cfg.prompt_interpolation).embeds
    timesteps = []
    out = theirs(prompt_embeds=embeds, image=x0, control_image=Image.fromarray(control), height=64, width=64,
                 strength=0.5, num_inference_steps=2, guidance_scale=1.0, output_type="latent",
                 generator=torch.Generator().manual_seed(7), controlnet_conditioning_scale=1.0,
                 callback_on_step_end=lambda _p, _i, t, kw: timesteps.append(int(t)) or kw).images
    assert timesteps == [499]
    torch.testing.assert_close(got, out, atol=1e-5, rtol=1e-5)
    # able to fail: without the ControlNet our result is far from theirs
    plain = StreamPipeline(tiny, cfg)
    plain.prepare(prompt="a watercolor castle")
    assert (plain(frame).latents - out).abs().max() > 1e-2


def test_an_unchanged_control_image_is_not_embedded_again(tiny, nets):
    embedded = []
    hook = nets.models["depth"].controlnet_cond_embedding.conv_in.register_forward_hook(
        lambda *_: embedded.append(1))
    try:
        pipe = _pipe(tiny, nets, steps=2)
        frames = random_frames(4, seed=5)
        control = random_frames(1, seed=6)[0]
        for frame in frames:
            pipe.control.set_image("depth", control.copy())  # equal pixels, a new array each frame
            pipe(frame)
        assert len(embedded) == 1  # once, though 4 frames x 2 slots were conditioned on it
        changed = control.copy()
        changed[0, 0, 0] ^= 1
        pipe.control.set_image("depth", changed)
        pipe(frames[0])
        assert len(embedded) == 2
        tensor = torch.rand(3, 64, 64)
        pipe.control.set_image("depth", tensor)
        pipe.control.set_image("depth", tensor)  # the same device tensor again: not uploaded or embedded again
        pipe(frames[1])
        pipe(frames[2])
        assert len(embedded) == 3
    finally:
        hook.remove()


@pytest.mark.parametrize("mode", [CfgMode.NONE, CfgMode.FULL])
def test_scale_zero_is_exactly_no_controlnet(tiny, nets, mode):
    frames, controls = random_frames(3, seed=8), random_frames(3, seed=9)
    plain = _run(_pipe(tiny, None, mode=mode), frames, [None] * 3)
    off = _run(_pipe(tiny, nets, mode=mode, controlnet_scale=(("depth", 0.0),)), frames, controls)
    on = _run(_pipe(tiny, nets, mode=mode, controlnet_scale=(("depth", 0.5),)), frames, controls)
    for a, b in zip(plain, off, strict=True):
        assert torch.equal(a, b)
    for a, c in zip(plain[1:], on[1:], strict=True):  # on[0]: the warm-up slot, no image (see below)
        assert (a - c).abs().max() > 1e-2  # able to fail: scale 0.5 changes the output


def test_slots_outside_the_guidance_window_get_no_residual(tiny, nets):
    """Steps 0 and 1 of 2, window [0.5, 1]: step 0's slot (and, in FULL, its negative sample) gets exactly zero
    residuals, step 1's does not; the window is diffusers' controlnet_keep rule."""
    assert [step_active(i, 2, 0.5, 1.0) for i in range(2)] == [False, True]
    assert [step_active(i, 3, 0.0, 0.34) for i in range(3)] == [True, False, False]
    residuals, conds = [], []
    hooks = [tiny.unet.register_forward_pre_hook(
        lambda _m, _a, kwargs: residuals.append(kwargs.get("mid_block_additional_residual")), with_kwargs=True),
        nets.models["depth"].register_forward_pre_hook(
        lambda _m, _a, kwargs: conds.append(kwargs["controlnet_cond"]), with_kwargs=True)]
    try:
        pipe = _pipe(tiny, nets, mode=CfgMode.FULL, controlnet_start=(("depth", 0.5),))
        for frame, control in zip(random_frames(3, seed=10), random_frames(3, seed=11), strict=True):
            pipe.control.set_image("depth", control)
            pipe(frame)
    finally:
        for hook in hooks:
            hook.remove()
    mid = residuals[-1]  # samples: [negative step 0, negative step 1, step 0, step 1]
    assert mid.shape[0] == 4
    per_sample = mid.flatten(1).abs().amax(1)
    assert per_sample[0] == 0 and per_sample[2] == 0
    assert per_sample[1] > 0 and per_sample[3] > 0
    cond = conds[-1]  # the negative samples get the same control as their slots; the two frames' differ
    assert torch.equal(cond[0], cond[2]) and torch.equal(cond[1], cond[3]) and not torch.equal(cond[2], cond[3])


def test_a_frame_without_a_control_image_gets_none(tiny, nets):
    """Before the first control image the ControlNet adds nothing (and its slot stays off while buffered)."""
    frames = random_frames(3, seed=12)
    plain = _run(_pipe(tiny, None), frames, [None] * 3)
    late = _run(_pipe(tiny, nets), frames, [None, random_frames(1, seed=13)[0], None])
    assert torch.equal(plain[0], late[0]) and torch.equal(plain[1], late[1])  # warm-up, frame 0: no image yet
    assert (plain[2] - late[2]).abs().max() > 1e-2  # frame 1's slot has an image


def test_bad_settings_are_refused_naming_the_value(tiny, nets):
    with pytest.raises(ConfigError, match="controlnet_scale names ControlNet 'canny', not loaded; loaded: "):
        _pipe(tiny, nets, controlnet_scale=(("canny", 1.0),))
    with pytest.raises(ConfigError, match=r"controlnet_start=0\.6 must be below controlnet_end=0\.5"):
        _pipe(tiny, nets, controlnet_start=(("depth", 0.6),), controlnet_end=(("depth", 0.5),))
    with pytest.raises(ConfigError, match=r"controlnet_scale\[0\] depth=3\.0 must be a number in \[0, 2\]"):
        _pipe(tiny, nets, controlnet_scale=(("depth", 3.0),))
    pipe = _pipe(tiny, nets)
    with pytest.raises(ConfigError, match="controlnet_end names ControlNet 'normal'"):
        pipe.update(controlnet_end=(("normal", 0.5),))
    pipe.update(controlnet_scale=(("depth", 0.25),))
    assert pipe.config.controlnet_scale == (("depth", 0.25),)
    with pytest.raises(InputError, match="control image for ControlNet 'normal', not loaded"):
        pipe.control.set_image("normal", np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(InputError, match=r"control image of shape \(64, 64\)"):
        pipe.control.set_image("depth", np.zeros((64, 64), np.uint8))
    with pytest.raises(InputError, match="not loaded; loaded: none"):
        _pipe(tiny, None).control.set_image("depth", np.zeros((64, 64, 3), np.uint8))


def test_an_engine_unet_is_refused(tiny, nets):
    """An accelerated engine (a runner with a fixed memory_format, no residual inputs) cannot take ControlNets."""

    class Engine(torch.nn.Module):
        memory_format = torch.contiguous_format

    engine = dataclasses.replace(tiny, unet=Engine())
    StreamPipeline(engine, StreamConfig(width=64, height=64))  # able to fail: accepted without ControlNets
    with pytest.raises(ConfigError, match="Engine is an engine without those inputs"):
        StreamPipeline(engine, StreamConfig(width=64, height=64), nets)


def test_a_size_change_drops_control_images_of_the_old_size(tiny, nets):
    pipe = _pipe(tiny, nets)
    pipe.control.set_image("depth", random_frames(1, seed=14)[0])  # 64x64, not yet embedded
    pipe.update(width=32, height=32)
    assert pipe(random_frames(1, size=32, seed=15)[0]).latents.shape[-1] == 4  # no 64x64 embedding in a 32x32 batch
    pipe.control.set_image("depth", random_frames(1, size=32, seed=16)[0])
    pipe(random_frames(1, size=32, seed=17)[0])
    out = pipe(random_frames(1, size=32, seed=18)[0])
    plain = _pipe(tiny, None)
    plain.update(width=32, height=32)
    plain(random_frames(1, size=32, seed=15)[0])
    plain(random_frames(1, size=32, seed=17)[0])
    assert (plain(random_frames(1, size=32, seed=18)[0]).latents - out.latents).abs().max() > 1e-3  # conditioned
