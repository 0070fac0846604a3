"""Named style images and their live blend (sdbridge.pipeline.style_images): `set_style_image` and
`update(style_blend=...)`. A blend equals diffusers' IP-Adapter img2img pipeline given the weighted average of the
styles' image embeddings; all weights 0 is bit-identical to no adapter; unknown names and too many images are
refused; the blend is computed once per change, the image encoder runs once per distinct image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdbridge.errors import ConfigError, InputError
from sdbridge.pipeline import CfgMode, StreamConfig, StreamPipeline
from sdbridge.pipeline.components import load_components
from sdbridge.pipeline.ip_adapter_tiny import tiny_ip_adapter, tiny_state_dict
from sdbridge.pipeline.style_images import StyleImages
from tests.conftest import random_frames

PROMPT = "a watercolor castle"


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "plus"])
def styled(request) -> tuple:
    """Fresh "tiny" components with a random IP-Adapter attached (the session's `tiny` is left untouched)."""
    comps = load_components("tiny", device="cpu", dtype=torch.float32)
    return comps, tiny_ip_adapter(comps, plus=request.param, seed=3)


def _pipe(comps, adapter, mode=CfgMode.NONE, **settings) -> StreamPipeline:
    cfg = StreamConfig(width=64, height=64, t_index_list=[16, 45], cfg_mode=mode, guidance_scale=1.5, delta=0.8,
                       seed=7, **settings)
    pipe = StreamPipeline(comps, cfg, ip_adapter=adapter)
    pipe.prepare(prompt=PROMPT, negative_prompt="blurry")
    return pipe


def _run(pipe, frames) -> list[torch.Tensor]:
    return [pipe(frame).latents for frame in frames]


@pytest.mark.parametrize("guidance", [1.0, 1.5])
def test_a_blend_equals_diffusers_given_the_weighted_average_embedding(styled, guidance):
    """Ours with style_blend [(a, 2), (b, 1)] against diffusers' StableDiffusionImg2ImgPipeline fed
    ip_adapter_image_embeds = (2 e_a + e_b) / 3, e_x from diffusers' own encode_image; one step; guidance 1.5 is
    CFG FULL against diffusers' CFG (its negative image embedding on the negative half)."""
    from diffusers import LCMScheduler, StableDiffusionImg2ImgPipeline
    from PIL import Image

    from sdbridge.pipeline.images import to_model_tensor
    from sdbridge.pipeline.presets import LCM_SCHEDULER_CONFIG

    comps, adapter = styled
    frame, style_a, style_b = random_frames(3, seed=13)
    mode = CfgMode.NONE if guidance == 1.0 else CfgMode.FULL
    cfg = StreamConfig(width=64, height=64, t_index_list=[25], seed=7, use_denoising_batch=False, cfg_mode=mode,
                       guidance_scale=guidance)
    ours = StreamPipeline(comps, cfg, ip_adapter=adapter)
    ours.prepare(prompt=PROMPT)
    ours.set_style_image("a", style_a)
    ours.set_style_image("b", style_b)
    ours.update(style_blend=[("a", 2.0), ("b", 1.0)])
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
        e_a, negative = theirs.encode_image(Image.fromarray(style_a), "cpu", 1, adapter.plus)
        e_b, _ = theirs.encode_image(Image.fromarray(style_b), "cpu", 1, adapter.plus)
        mixed = ((2.0 * e_a + e_b) / 3.0)[None]  # (1, images=1, D) or (1, 1, T, D)
        embeds = [torch.cat([negative[None], mixed]) if guidance > 1.0 else mixed]
        x0 = ours.vae_encode(to_model_tensor(frame, 64, 64, 1, comps.device, comps.dtype))
        text = ours.prompt_encoder.resolve(PROMPT, cfg.prompt_interpolation).embeds
        empty = ours.prompt_encoder.resolve("", cfg.prompt_interpolation).embeds
    out = theirs(prompt_embeds=text, negative_prompt_embeds=empty, image=x0, ip_adapter_image_embeds=embeds,
                 height=64, width=64, strength=0.5, num_inference_steps=2, guidance_scale=guidance,
                 output_type="latent", generator=torch.Generator().manual_seed(7)).images
    torch.testing.assert_close(got, out, atol=1e-5, rtol=1e-5)
    ours.update(style_blend=[("a", 1.0)])  # able to fail: style a alone is far from the blend
    assert (ours(frame).latents - out).abs().max() > 1e-3


@pytest.mark.parametrize("mode", list(CfgMode))
def test_all_weights_zero_is_exactly_no_adapter(styled, tiny, mode):
    comps, adapter = styled
    frames, styles = random_frames(3, seed=80), random_frames(2, seed=81)
    plain = _run(_pipe(tiny, None, mode=mode), frames)
    off = _pipe(comps, adapter, mode=mode)
    off.set_style_image("a", styles[0])
    off.set_style_image("b", styles[1])
    off.update(style_blend=[("a", 0.0), ("b", 0.0)])
    assert not off.style.active and off.style.scale(off.config) == 0.0
    for a, b in zip(plain, _run(off, frames), strict=True):
        assert torch.equal(a, b)
    on = _pipe(comps, adapter, mode=mode)
    on.set_style_image("a", styles[0])
    on.set_style_image("b", styles[1])
    on.update(style_blend=[("a", 0.0), ("b", 0.5)])  # able to fail: one positive weight styles the frames
    assert (plain[-1] - _run(on, frames)[-1]).abs().max() > 1e-2


def test_an_empty_blend_uses_every_style_and_a_named_blend_leaves_the_others_out(styled):
    comps, adapter = styled
    frames, styles = random_frames(2, seed=90), random_frames(2, seed=91)
    only_a = _pipe(comps, adapter)
    only_a.set_style_image("a", styles[0])
    both = _pipe(comps, adapter)
    both.set_style_image("a", styles[0])
    both.set_style_image("b", styles[1])
    assert both.style.weights() == {"a": 1.0, "b": 1.0}  # no style_blend: each at its own weight
    assert (_run(both, frames)[-1] - _run(only_a, frames)[-1]).abs().max() > 1e-3
    selected = _pipe(comps, adapter, style_blend=())
    selected.set_style_image("a", styles[0])
    selected.set_style_image("b", styles[1])
    selected.update(style_blend=[("a", 1.5)])  # b left out
    assert selected.style.weights() == {"a": 1.5, "b": 0.0}
    for x, y in zip(_run(selected, frames), _run(_fresh_only_a(comps, adapter, styles[0]), frames), strict=True):
        assert torch.equal(x, y)
    selected.update(style_blend=[])  # back to every style at its own weight
    assert selected.style.weights() == {"a": 1.0, "b": 1.0}


def _fresh_only_a(comps, adapter, style) -> StreamPipeline:
    pipe = _pipe(comps, adapter)
    pipe.set_style_image("a", style)
    return pipe


def test_unknown_names_bad_weights_and_too_many_images_are_refused(styled):
    comps, adapter = styled
    styles = random_frames(3, seed=95)
    pipe = _pipe(comps, adapter)
    pipe.set_style_image("forest", styles[0])
    pipe.set_style_image("desert", styles[1])
    with pytest.raises(InputError, match=r"style 'snow' is not set on this session; send its StyleImage first "
                                         r"\(known styles: \['desert', 'forest'\]\)"):
        pipe.update(style_blend=[("snow", 1.0)])
    assert pipe.config.style_blend == ()  # the refused update changed nothing
    with pytest.raises(ConfigError, match=r"style_blend"):
        pipe.update(style_blend=[("forest", 3.0)])  # the registry's range [0, 2]
    pipe.style.max_images = 2
    with pytest.raises(InputError, match=r"holds 2 style images, the limit limits.max_style_images=2"):
        pipe.set_style_image("snow", styles[2])
    pipe.set_style_image("forest", styles[2])  # replacing one by its name is no new image
    assert pipe.style.names == ("forest", "desert")
    with pytest.raises(InputError, match=r"give \(H, W, 3\) uint8 RGB pixels"):
        pipe.set_style_image("desert", styles[0].astype(np.float32))
    with pytest.raises(ConfigError, match="this pipeline has no IP-Adapter"):
        _pipe(load_components("tiny", device="cpu", dtype=torch.float32), None).set_style_image("a", styles[0])


def test_the_blend_is_computed_once_per_change_and_each_image_encoded_once(styled):
    comps, adapter = styled
    frames, styles = random_frames(4, seed=100), random_frames(2, seed=101)
    pipe = _pipe(comps, adapter)
    encodes = adapter.encodes
    pipe.set_style_image("a", styles[0])
    pipe.set_style_image("b", styles[1])
    pipe.update(style_blend=[("a", 1.0), ("b", 1.0)])
    blends = pipe.style.blends
    for frame in frames:
        pipe.update(style_blend=[("a", 1.0), ("b", 1.0)], guidance_scale=1.2)  # the same blend every frame
        pipe.set_style_image("a", styles[0].copy())  # the same pixels again
        pipe(frame)
    assert pipe.style.blends == blends
    pipe.update(style_blend=[("a", 1.0), ("b", 0.5)])  # able to fail: a new weight is blended again
    assert pipe.style.blends == blends + 1
    assert adapter.encodes - encodes <= 2  # at most once per distinct image (the cache may already hold them)
    changed = styles[1].copy()
    changed[3, 3, 1] ^= 8
    before = adapter.encodes
    pipe.set_style_image("b", changed)  # the same name, new content: replaced and encoded
    assert adapter.encodes == before + 1 and pipe.style.blends == blends + 2


def test_update_sets_style_images_before_choosing_the_blend(styled):
    comps, adapter = styled
    styles = random_frames(2, seed=110)
    pipe = _pipe(comps, adapter)
    images = StyleImages.of({"forest": styles[0], "desert": styles[1]})
    pipe.update(style_images=images, style_blend=[("desert", 1.0)])
    assert pipe.style.names == ("forest", "desert") and pipe.style.weights() == {"forest": 0.0, "desert": 1.0}
    assert str(images) == "style images ['forest', 'desert']"  # a session snapshot shows names, not pixels
    assert images == StyleImages.of([("forest", styles[0].copy()), ("desert", styles[1])])
    with pytest.raises(InputError, match="style_images: got dict; give a StyleImages"):
        pipe.update(style_images={"x": styles[0]})


def test_a_starting_blend_applies_once_the_styles_it_names_are_set(styled):
    comps, adapter = styled
    styles = random_frames(3, seed=120)
    pipe = _pipe(comps, adapter, style_blend=(("desert", 1.0), ("forest", 0.5)))
    pipe.set_style_image("forest", styles[0])
    assert pipe.style.weights() == {"forest": 1.0}  # "desert" not set yet: the styles so far at their own weight
    pipe.set_style_image("desert", styles[1])
    assert pipe.style.weights() == {"forest": 0.5, "desert": 1.0}  # now the starting blend holds
    pipe.set_style_image("rain", styles[2])
    assert pipe.style.weights() == {"forest": 0.5, "desert": 1.0, "rain": 0.0}  # and leaves later styles out
