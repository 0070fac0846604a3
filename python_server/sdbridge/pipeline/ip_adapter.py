"""IP-Adapter style reference images for StreamPipeline: the adapter (`IpAdapter`, attached to the shared UNet,
with its image encoder and an embedding cache); one pipeline's styles and their blend: sdbridge.pipeline.style_images.

An IP-Adapter (SD1.5/2.1 or SDXL; plain: the CLIP image embedding, Plus: the image encoder's penultimate hidden
states) is loaded into the UNet as diffusers' `load_ip_adapter` does (`UNet2DConditionModel._load_ip_adapter_weights`:
an `encoder_hid_proj` image projection and IPAdapterAttnProcessor2_0 cross-attention processors). The UNet then
needs `added_cond_kwargs["image_embeds"]`: a list with one (B, images, D) (plain) or (B, images, T, D) (Plus)
tensor, batch-aligned with the sample; style_images.StyleStream.added supplies it for every UNet batch.

The image encoder runs once per style image: `IpAdapter.embed` caches the embedding by a SHA-256 of the pixels
(shared by every pipeline on the adapter, bounded), never per frame. A pipeline's styles are named images with
weights, blended like prompts (a weighted average of the encoder outputs, weights normalised to 1; see
sdbridge.pipeline.style_images for what selects them: the live `style_blend`). The
negative image embedding, for the negative-prompt samples of CFG modes FULL and INITIALIZE, is what diffusers
uses: zeros (plain), the encoding of an all-zero image (Plus).

Live setting (StreamConfig, declared in sdbridge/params.py): `ip_adapter_scale` [0, 2]. A pipeline with no style
image (or all weights 0) runs at scale 0; at scale 0 the processors skip the image attention, so the output is
bit-identical to the UNet without the adapter (tests/pipeline/test_ip_adapter.py). The scale lives on the shared
UNet's processors: `StyleStream.apply_scale` sets it before each of the pipeline's UNet calls (like live LoRA
weights), and pipelines at different effective scales do not share a UNet batch (shared_batch.can_share).
Accelerated UNets (ONNX Runtime, TensorRT engines) have no image projection and no image_embeds input: the
adapter refuses them (IpAdapter on such components).
"""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sdbridge import params
from sdbridge.config import LimitsConfig
from sdbridge.errors import ConfigError, InputError
from sdbridge.pipeline import cached_attention

DEFAULT_SCALE: float = params.BY_NAME["ip_adapter_scale"].default
CACHE_SIZE = 32  # style embeddings kept per adapter (a few KB each)
ENGINE_BACKENDS = "eager, compile"


def has_ip_adapter(unet: Any) -> bool:
    """True when `unet` carries an IP-Adapter image projection (it then needs image_embeds)."""
    config = getattr(unet, "config", None)
    return getattr(config, "encoder_hid_dim_type", None) == "ip_image_proj"


class IpAdapter:
    """One IP-Adapter attached to a Components' UNet, with its image encoder (shared by every pipeline)."""

    #: style images one pipeline on this adapter holds at most: limits.max_style_images (the server may set another)
    max_style_images: int = LimitsConfig().max_style_images

    def __init__(self, components: Any, state_dict: dict[str, dict[str, torch.Tensor]], image_encoder: Any,
                 image_processor: Any = None, cache_size: int = CACHE_SIZE) -> None:
        """Load `state_dict` ({"image_proj": ..., "ip_adapter": ...}, the IP-Adapter file format diffusers'
        load_ip_adapter reads) into components.unet; image_encoder: a CLIPVisionModelWithProjection."""
        unet = components.unet
        if not hasattr(unet, "_load_ip_adapter_weights"):
            raise ConfigError(f"IP-Adapter: the UNet is an accelerated engine ({type(unet).__name__}) without the "
                              f"adapter's image projection and cross-attention inputs; use the {ENGINE_BACKENDS} "
                              "backend")
        if has_ip_adapter(unet):
            raise ConfigError("IP-Adapter: the UNet already carries one; load the components again for another")
        if not {"image_proj", "ip_adapter"} <= set(state_dict):
            raise ConfigError(f"IP-Adapter weights have keys {sorted(state_dict)}; need 'image_proj' and "
                              "'ip_adapter' (an ip-adapter*.safetensors or .bin file)")
        cached_attention.unwrap(unet)  # diffusers re-creates self-attention processors from their class
        unet._load_ip_adapter_weights([state_dict], low_cpu_mem_usage=False)
        unet.encoder_hid_proj.to(components.device, components.dtype)
        for processor in self._processors(unet):
            processor.to(components.device, components.dtype)
        from diffusers.models.embeddings import ImageProjection

        first = unet.encoder_hid_proj.image_projection_layers[0]
        self.plus = not isinstance(first, ImageProjection)
        self._embed_dim = None if self.plus else int(first.image_embeds.in_features)
        unet.encoder_hid_proj = CachedProjection(unet.encoder_hid_proj)  # projected once per style batch
        self.unet, self.device, self.dtype = unet, components.device, components.dtype
        self.encoder = image_encoder.to(components.device, components.dtype).eval()
        if image_processor is None:
            from transformers import CLIPImageProcessor

            size = int(self.encoder.config.image_size)
            image_processor = CLIPImageProcessor(size=size, crop_size=size)  # what load_ip_adapter registers
        self.image_processor = image_processor
        self._cache: collections.OrderedDict[bytes, torch.Tensor] = collections.OrderedDict()
        self._cache_size = cache_size
        self._negative: torch.Tensor | None = None
        self.encodes = 0  # image encoder runs (style images embedded), for tests and the bench

    @staticmethod
    def _processors(unet: Any) -> list[Any]:
        from diffusers.models.attention_processor import IPAdapterAttnProcessor, IPAdapterAttnProcessor2_0

        return [p for p in unet.attn_processors.values()
                if isinstance(p, (IPAdapterAttnProcessor, IPAdapterAttnProcessor2_0))]

    def set_scale(self, scale: float) -> None:
        """The image attention's scale on every adapter processor (0: skipped, exactly no adapter)."""
        for processor in self._processors(self.unet):
            if processor.scale != [scale]:
                processor.scale = [scale]

    @torch.inference_mode()
    def embed(self, image: np.ndarray) -> torch.Tensor:
        """The encoder output of one style image (H, W, 3) uint8 RGB: (1, D) plain, (1, T, D) Plus; cached by
        content hash (an equal image is not encoded again)."""
        pixels = _style_pixels(image)
        key = hashlib.sha256(repr(pixels.shape).encode() + pixels.tobytes()).digest()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        values = self.image_processor(pixels, return_tensors="pt").pixel_values
        embedding = self._encode(values.to(self.device, self.dtype))
        self.encodes += 1
        self._cache[key] = embedding
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return embedding

    def negative(self) -> torch.Tensor:
        """The negative image embedding diffusers uses: zeros (plain), the all-zero image's encoding (Plus)."""
        if self._negative is None:
            if self.plus:
                size = int(self.encoder.config.image_size)
                zeros = torch.zeros(1, 3, size, size, device=self.device, dtype=self.dtype)
                with torch.inference_mode():
                    self._negative = self._encode(zeros)
            else:
                self._negative = torch.zeros(1, self._embed_dim, device=self.device, dtype=self.dtype)
        return self._negative

    def _encode(self, values: torch.Tensor) -> torch.Tensor:
        if self.plus:
            return self.encoder(values, output_hidden_states=True).hidden_states[-2]
        return self.encoder(values).image_embeds


class CachedProjection(torch.nn.Module):
    """The UNet's IP-Adapter image projection (diffusers' MultiIPAdapterImageProjection), its output kept for the
    last few image_embeds lists it saw: StyleStream hands the same tensors to every frame until the style changes,
    so the projection (a Plus adapter's resampler is several attention layers) runs once per style and batch shape,
    not per frame. A new tensor (another style, a shared batch's concatenation) is projected."""

    def __init__(self, projection: torch.nn.Module, size: int = 8) -> None:
        super().__init__()
        self.projection = projection
        self._size = size
        self._seen: collections.OrderedDict[tuple[int, ...], tuple[list[torch.Tensor], list[torch.Tensor]]] = \
            collections.OrderedDict()
        self.runs = 0  # projections computed, for tests

    @property
    def image_projection_layers(self) -> Any:
        """The wrapped projection's layers (diffusers reads them)."""
        return self.projection.image_projection_layers

    def forward(self, image_embeds: list[torch.Tensor]) -> list[torch.Tensor]:
        key = tuple(id(t) for t in image_embeds)
        hit = self._seen.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], image_embeds, strict=True)):
            self._seen.move_to_end(key)
            return hit[1]
        out = self.projection(image_embeds)
        self.runs += 1
        if not torch.is_grad_enabled() or torch.is_inference_mode_enabled():
            self._seen[key] = (list(image_embeds), out)  # the inputs held: their ids stay theirs
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
        return out


def _style_pixels(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """A style image as a contiguous (H, W, 3) uint8 RGB host array, or InputError naming what is wrong."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        what = f"{type(image).__name__} {getattr(image, 'dtype', '')} {getattr(image, 'shape', '')}"
        raise InputError(f"style image: got {what.strip()}; give (H, W, 3) uint8 RGB pixels")
    if min(image.shape[:2]) < 1:
        raise InputError(f"style image: size {image.shape[1]}x{image.shape[0]} is empty; give at least 1x1 pixels")
    return np.ascontiguousarray(image)


def concat_added(values: Sequence[Any]) -> Any:
    """Concatenate one added_cond_kwargs entry of several UNet requests along the batch: tensors, or lists of
    tensors (image_embeds: one per adapter)."""
    if isinstance(values[0], list):
        return [torch.cat(parts) for parts in zip(*values, strict=True)]
    return torch.cat(list(values))
