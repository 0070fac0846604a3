"""One pipeline's named IP-Adapter style images and their blend (`StyleStream`). Several named style images can be
set at once with `StreamPipeline.update(style_images=StyleImages)` (sdbridge.events.style_files: a rules file's
`[styles]`).

Style images are set by name (`set_image`; the wire's StyleImage and the preview page call
`StreamPipeline.set_style_image`). Each is embedded once per distinct content (`IpAdapter.embed`: a SHA-256 of the
pixels, shared by every pipeline on the adapter); the same name with new pixels replaces the old image. A pipeline
holds at most `max_images` of them (limits.max_style_images): one more is refused, naming the limit.

Blend. The live parameter `style_blend` (StreamConfig.style_blend, the registry's Kind.WEIGHTS, weights in [0, 2])
chooses the styles: empty (the default) gives every style image its own weight (`set_image`'s, 1 unless given), so a
lone style image styles the frames as soon as it is set; a non-empty blend gives exactly the named styles those
weights and leaves every other style image out. An unknown name is refused (the error names the known ones); all
weights 0 (or no style image) is no style: the adapter's scale is 0, bit-identical to no adapter. A pipeline's starting
style_blend (a server's `[pipeline]`) names styles that arrive later: it applies once every style it names is set.

The blended embedding is the weighted average of the styles' image-encoder outputs, weights normalised to sum 1:
sum(w_i * e_i) / sum(w_i) of the CLIP image embeddings (plain adapters) or of the encoder's penultimate hidden states
(Plus), which the adapter's image projection then turns into image tokens. It equals diffusers' IP-Adapter pipeline
given that averaged embedding as `ip_adapter_image_embeds` (tests/pipeline/test_style_blend.py). It is not diffusers'
multi-image form (`ip_adapter_image=[[a, b]]`), which concatenates both images' tokens and has no per-image weight.
It is computed once per change of the images or the weights, never per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sdbridge.errors import ConfigError, InputError
from sdbridge.events.style_files import StyleImages
from sdbridge.pipeline.blending import blend
from sdbridge.pipeline.config import Interpolation
from sdbridge.pipeline.ip_adapter import IpAdapter, has_ip_adapter


class StyleStream:
    """One pipeline's style images (named, weighted) and the image_embeds of its UNet batches."""

    def __init__(self, adapter: IpAdapter | None, components: Any) -> None:
        if adapter is None and has_ip_adapter(components.unet):
            raise ConfigError("the components' UNet carries an IP-Adapter: give the pipeline that IpAdapter "
                              "(StreamPipeline(..., ip_adapter=adapter)) so that it can feed image_embeds")
        if adapter is not None and adapter.unet is not components.unet:
            raise ConfigError("the IpAdapter was attached to another UNet; attach it to these components' UNet")
        self.adapter = adapter
        self.max_images = adapter.max_style_images if adapter is not None else 0  # limits.max_style_images
        self._styles: dict[str, tuple[torch.Tensor, float]] = {}  # name -> (embedding, its own weight)
        self._selection: tuple[tuple[str, float], ...] = ()  # style_blend: () = each style at its own weight
        self._embedding: torch.Tensor | None = None  # the blend, or None: no style (scale 0)
        self._batches: dict[tuple[int, int], list[torch.Tensor]] = {}
        self.blends = 0  # blended embeddings computed (once per change), for tests

    @property
    def names(self) -> tuple[str, ...]:
        """The style images' names."""
        return tuple(self._styles)

    @property
    def active(self) -> bool:
        """True when a style image with a positive weight conditions the frames."""
        return self._embedding is not None

    def weights(self) -> dict[str, float]:
        """Each style image's weight in the blend now (0: left out)."""
        if not self._selection:
            return {name: w for name, (_, w) in self._styles.items()}
        chosen = dict(self._selection)
        return {name: chosen.get(name, 0.0) for name in self._styles}

    def set_image(self, name: str, image: np.ndarray | torch.Tensor, weight: float = 1.0) -> None:
        """Add or replace the style image `name` (H, W, 3) uint8 RGB; `weight`: its own weight, used while
        style_blend is empty. Embedded once per distinct image; at most `max_images` names."""
        adapter = self._require()
        _check_weight(name, weight)
        if name not in self._styles and len(self._styles) >= self.max_images:
            raise InputError(f"style image {name!r}: this session holds {len(self._styles)} style images, the limit "
                             f"limits.max_style_images={self.max_images} ({sorted(self._styles)}); replace one by "
                             "its name, or raise the limit in the server config")
        entry = (adapter.embed(image), float(weight))  # type: ignore[arg-type]
        old = self._styles.get(name)
        if old is not None and old[0] is entry[0] and old[1] == entry[1]:
            return  # the same image (a cache hit) at the same weight: the blend and its projections stay
        self._styles[name] = entry
        self._reblend()

    def set_images(self, images: StyleImages) -> None:
        """set_image for each of `images` (its own weight 1)."""
        for name, image in images.images:
            self.set_image(name, image)

    def set_weights(self, weights: Sequence[tuple[str, float]]) -> None:
        """Set the own weights of named style images; names left out keep theirs (0 leaves one out)."""
        for name, weight in weights:
            self._known(name, "set_image it first")
            _check_weight(name, weight)
        for name, weight in weights:
            self._styles[name] = (self._styles[name][0], float(weight))
        self._reblend()

    def check_blend(self, style_blend: Sequence[tuple[str, float]]) -> None:
        """Refuse a style_blend naming a style image this pipeline does not hold (InputError naming the known)."""
        for name, weight in style_blend:
            self._known(name, "send its StyleImage first")
            _check_weight(name, weight)

    def select(self, style_blend: Sequence[tuple[str, float]]) -> None:
        """Choose the blend (StreamConfig.style_blend; see the module docstring); recomputed only on a change."""
        selection = tuple((str(n), float(w)) for n, w in style_blend)
        if selection == self._selection:
            return
        self.check_blend(selection)
        self._selection = selection
        self._reblend()

    def adopt(self, style_blend: Sequence[tuple[str, float]]) -> None:
        """Select a style_blend that names styles set later (a starting config's): once every style it names is set;
        until then the styles set so far each count at their own weight, as with an empty blend."""
        if style_blend and all(str(n) in self._styles for n, _ in style_blend):
            self.select(style_blend)

    def update(self, config: Any, images: StyleImages | None = None) -> None:
        """StreamPipeline.update's part: set `images` (when given), then select config.style_blend."""
        if images is not None:
            if not isinstance(images, StyleImages):
                raise InputError(f"style_images: got {type(images).__name__}; give a StyleImages "
                                 "(StyleImages.of({name: rgb}))")
            self.set_images(images)
        style_blend = getattr(config, "style_blend", ())
        if style_blend or self._selection:
            self.select(style_blend)

    def remove(self, name: str) -> None:
        """Forget the style image `name` (nothing when it is not set); a blend naming it is cleared to ()."""
        self._styles.pop(name, None)
        if any(n == name for n, _ in self._selection):
            self._selection = ()
        self._reblend()

    def _known(self, name: str, fix: str) -> None:
        if name not in self._styles:
            raise InputError(f"style_blend: style {name!r} is not set on this session; {fix} (known styles: "
                             f"{sorted(self._styles)})")

    def _reblend(self) -> None:
        weights = self.weights()
        used = [(self._styles[n][0], w) for n, w in weights.items() if w > 0]
        self._embedding = None if not used else blend([e for e, _ in used], [w for _, w in used],
                                                      Interpolation.LINEAR)
        self._batches.clear()
        self.blends += 1

    def scale(self, config: Any) -> float:
        """The effective image attention scale: config.ip_adapter_scale with a style, 0 without."""
        return float(config.ip_adapter_scale) if self._embedding is not None else 0.0

    def apply_scale(self, config: Any) -> None:
        """Set this pipeline's scale on the shared UNet's processors (before each of its UNet calls)."""
        if self.adapter is not None:
            self.adapter.set_scale(self.scale(config))

    def added(self, added: dict | None, m: int, negatives: int) -> dict | None:
        """`added` (the text conditioning's added_cond_kwargs) with image_embeds for `negatives` negative
        samples followed by m positive ones; unchanged without an adapter."""
        if self.adapter is None:
            return added
        key = (m, negatives)
        embeds = self._batches.get(key)
        if embeds is None:
            negative = self.adapter.negative()
            positive = negative if self._embedding is None else self._embedding
            parts = [(negative, negatives), (positive, m)]
            batch = torch.cat([e.unsqueeze(1).expand(k, *e.unsqueeze(1).shape[1:]) for e, k in parts if k])
            embeds = self._batches[key] = [batch.contiguous()]
        return {**(added or {}), "image_embeds": embeds}

    def _require(self) -> IpAdapter:
        if self.adapter is None:
            raise no_ip_adapter("style images")
        return self.adapter



def no_ip_adapter(what: str) -> ConfigError:
    """The refusal of `what` (style images, a style_blend) by a pipeline or server without an IP-Adapter (the
    pipeline's own check, and the server's where a Params enters: sdbridge.serving.served_names)."""
    return ConfigError(f"{what}: this pipeline has no IP-Adapter; start the server with --ip-adapter SOURCE (tiny "
                       f"to try) or give StreamPipeline(..., ip_adapter=...)")

def _check_weight(name: str, weight: float) -> None:
    if isinstance(weight, bool) or not (isinstance(weight, (int, float)) and np.isfinite(weight) and weight >= 0):
        raise InputError(f"style {name!r}: weight={weight!r} must be a finite number >= 0; 0 leaves it out")
