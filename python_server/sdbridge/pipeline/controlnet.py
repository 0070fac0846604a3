"""ControlNet conditioning for StreamPipeline: the models (`ControlNets`, shared by every pipeline like the
UNet) and one pipeline's per-slot control state (`ControlStream`).

A ControlNet (diffusers `ControlNetModel`, SD1.5/2.1 or SDXL family: it takes the UNet's sample, timesteps,
text embeddings and SDXL `added_cond_kwargs`) adds residuals to the UNet's down blocks and middle block. Several
ControlNets add their residuals up (diffusers' MultiControlNetModel does the same).

The image-only part is computed once per control image. A ControlNet's forward runs
`controlnet_cond_embedding(image)` (a few convolutions, independent of the timestep) and adds it to the
sample; `ControlNets` makes each model's conditioning embedding pass through an input that already is an
embedding (B, C0, h, w) (C0 = block_out_channels[0], never the 3 image channels), so `ControlStream` embeds
a control image when it is set and reuses the embedding for every slot and step that frame is denoised in.
A host (numpy) control image equal to the previous one is not uploaded or embedded again; a device tensor is
embedded again unless it is the same object (comparing device tensors would wait for the device).

Stream Batch: slot s of a call denoises a frame that entered s // fbs calls ago, so it gets that frame's
control. The stream keeps the embeddings per slot and shifts them with the pipeline's latent buffer:
    [step 0: the newest frame's][step 1: one call ago] ... [step n-1: n-1 calls ago]
The negative-prompt samples of CFG modes FULL and INITIALIZE get the same control as their positive slot.

Live settings (StreamConfig, declared in sdbridge/params.py): `controlnet_scale` (conditioning scale, default
1), `controlnet_start` / `controlnet_end` (the fraction of the denoising steps where the model acts, default
0 and 1), each a tuple of (model name, value). Step i of the n steps in t_index_list is off when
i / n < start or (i + 1) / n > end: the rule of diffusers' ControlNet pipelines (their `controlnet_keep`),
applied to the steps StreamDiffusion runs. A slot whose frame came with no control image gets scale 0.
A model whose scale is 0 in every slot of a call is not run (scale 0 is exactly no ControlNet).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from sdbridge.errors import ConfigError, InputError
from sdbridge.pipeline import streams

DEFAULT_SCALE, DEFAULT_START, DEFAULT_END = 1.0, 0.0, 1.0
_SETTINGS = ("controlnet_scale", "controlnet_start", "controlnet_end")


class ControlNets:
    """Named ControlNet models on the pipeline's device and dtype (shared by every pipeline of a server)."""

    def __init__(self, models: Mapping[str, torch.nn.Module]) -> None:
        if not models:
            raise ConfigError("ControlNets got no model; give at least one {name: ControlNetModel}")
        self.models = dict(models)
        for name, model in self.models.items():
            _accept_embedded(name, model)

    @property
    def names(self) -> tuple[str, ...]:
        """The models' names, in the order their residuals are added."""
        return tuple(self.models)

    def embed(self, name: str, images: torch.Tensor) -> torch.Tensor:
        """The conditioning embedding (B, C0, H/8, W/8) of control images (B, 3, H, W) in [0, 1]."""
        model = self.models[name]
        bgr = model.config.controlnet_conditioning_channel_order == "bgr"  # type: ignore[union-attr]
        embedding = model.controlnet_cond_embedding(images.flip(1) if bgr else images)  # type: ignore[operator]
        return embedding.flip(1) if bgr else embedding  # the forward flips "bgr" input: undone in advance

    def residuals(self, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor, added: dict | None,
                  control: ControlInputs) -> tuple[list[torch.Tensor], torch.Tensor] | None:
        """The summed, per-sample scaled residuals (down blocks, middle block) for a UNet batch, or None when
        every model's scale is 0 in every sample. sample (B, C, h, w), timesteps (B,), embeds (B, L, D)."""
        down: list[torch.Tensor] | None = None
        mid: torch.Tensor | None = None
        for name, cond, scale, peak in zip(self.names, control.conds, control.scales, control.peaks, strict=True):
            if peak == 0.0:
                continue
            d, m = self.models[name](sample, timesteps, encoder_hidden_states=embeds, controlnet_cond=cond,
                                     conditioning_scale=1.0, added_cond_kwargs=added, return_dict=False)
            w = scale.view(-1, 1, 1, 1).to(m.dtype)
            d, m = [r * w for r in d], m * w
            down = d if down is None else [a + b for a, b in zip(down, d, strict=True)]
            mid = m if mid is None else mid + m
        return None if down is None or mid is None else (down, mid)


def _accept_embedded(name: str, model: torch.nn.Module) -> None:
    """Let `model`'s conditioning embedding pass through an input that already is its output."""
    embedding = getattr(model, "controlnet_cond_embedding", None)
    if embedding is None:
        raise ConfigError(f"ControlNet {name!r} is a {type(model).__name__}, not a diffusers ControlNetModel; "
                          "load it with diffusers.ControlNetModel.from_pretrained")
    if getattr(embedding, "_sdbridge_passes_embedded", False):
        return
    channels = embedding.conv_in.in_channels
    if embedding.conv_out.out_channels == channels:
        raise ConfigError(f"ControlNet {name!r}: its embedding has as many channels ({channels}) as its image; "
                          "an embedding cannot be told from an image")
    compute = embedding.forward

    def forward(cond: torch.Tensor) -> torch.Tensor:
        return compute(cond) if cond.shape[1] == channels else cond  # (B, C0, h, w): embedded already

    embedding.forward = forward
    embedding._sdbridge_passes_embedded = True


@dataclasses.dataclass(frozen=True)
class ControlInputs:
    """The ControlNet inputs of one UNet batch, batch-aligned with its sample (one entry per model)."""

    nets: ControlNets
    conds: tuple[torch.Tensor, ...]  # per model: (B, C0, h, w) conditioning embeddings
    scales: tuple[torch.Tensor, ...]  # per model: (B,) float32 conditioning scale of each sample (0: off)
    peaks: tuple[float, ...]  # per model: the largest scale (host value): 0 skips the model

    @staticmethod
    def concat(parts: Sequence[ControlInputs]) -> ControlInputs:
        """Several requests' inputs as one batch (their pipelines share one ControlNets)."""
        count = len(parts[0].conds)
        return ControlInputs(parts[0].nets, tuple(torch.cat([p.conds[k] for p in parts]) for k in range(count)),
                             tuple(torch.cat([p.scales[k] for p in parts]) for k in range(count)),
                             tuple(max(p.peaks[k] for p in parts) for k in range(count)))

    def unet_kwargs(self, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
                    added: dict | None) -> dict[str, Any]:
        """The UNet's keyword arguments carrying the residuals ({} when no model acts on this batch)."""
        residuals = self.nets.residuals(sample, timesteps, embeds, added, self)
        if residuals is None:
            return {}
        return {"down_block_additional_residuals": residuals[0], "mid_block_additional_residual": residuals[1]}


def settings(config: Any, name: str) -> tuple[float, float, float]:
    """(scale, start, end) of the model `name` in a StreamConfig (defaults 1, 0, 1)."""
    values = [dict(getattr(config, key)) for key in _SETTINGS]
    return (values[0].get(name, DEFAULT_SCALE), values[1].get(name, DEFAULT_START), values[2].get(name, DEFAULT_END))


def step_active(step: int, steps: int, start: float, end: float) -> bool:
    """Whether step `step` of `steps` lies in the guidance window [start, end] (diffusers' controlnet_keep)."""
    return not (step / steps < start or (step + 1) / steps > end)


def check_settings(nets: ControlNets | None, config: Any) -> None:
    """Refuse settings naming a model that is not loaded, or a window whose start is not before its end."""
    known = () if nets is None else nets.names
    for key in _SETTINGS:
        for name, _ in getattr(config, key):
            if name not in known:
                raise unknown_controlnet(key, name, known)
    for name in known:
        _, start, end = settings(config, name)
        if start >= end:
            raise ConfigError(f"controlnet_start={start} must be below controlnet_end={end} for ControlNet "
                              f"{name!r}; lower the start or raise the end")


def unknown_controlnet(key: str, name: str, known: Sequence[str]) -> ConfigError:
    """The refusal of a `key` (controlnet_scale/start/end) entry naming `name`, none of the loaded ControlNets
    `known` (the pipeline's own check, and the server's where a Params enters: sdbridge.serving.served_names)."""
    return ConfigError(f"{key} names ControlNet {name!r}, not loaded; loaded: {list(known) or 'none'} (a server "
                       f"loads one with --controlnet {name}=SOURCE)")


class ControlStream:
    """One pipeline's control images: embedded once each, kept per Stream Batch slot (module docstring).

    Order of calls per frame: `set_image` (any number, between frames), `stage`, `inputs` (per UNet batch),
    `advance` after a Stream Batch call; `restart` whenever the pipeline's buffers restart. Without models
    (nets None) every call does nothing and `inputs` is None."""

    def __init__(self, nets: ControlNets | None, components: Any, config: Any) -> None:
        check_settings(nets, config)
        if nets is not None and getattr(components.unet, "memory_format", None) is not None:
            raise ConfigError(f"ControlNets need the UNet in torch (accel eager or compile) to add their residuals; "
                              f"{type(components.unet).__name__} is an engine without those inputs")
        self.nets = nets
        self._device, self._dtype = components.device, components.dtype
        self._size = (config.width, config.height, config.frame_buffer_size)
        self._last_set: dict[str, object] = {}  # the last image given per model: an unchanged one is skipped
        self._pending: dict[str, torch.Tensor] = {}  # (fbs, 3, H, W) in [0, 1], not yet embedded
        self._current: dict[str, torch.Tensor] = {}  # (fbs, C0, h, w) embedding of the newest image
        self._buffer: dict[str, tuple[torch.Tensor, tuple[bool, ...]]] = {}  # ((n-1)*fbs, ...), "had an image"
        self._staged: dict[str, tuple[torch.Tensor, tuple[bool, ...]]] = {}  # this call's slots
        self._scales: dict[tuple, torch.Tensor] = {}
        self._shape = (1, 1, 0, 0)  # (steps, fbs, h, w)
        self._batched = True  # the staged call's layout

    def check(self, config: Any) -> None:
        """Refuse settings for models not loaded (see check_settings)."""
        check_settings(self.nets, config)

    def set_image(self, name: str, image: np.ndarray | torch.Tensor) -> None:
        """The control image of model `name` for the next frames: uint8 (H, W, 3) / (B, H, W, 3) pixels, or a
        float tensor (3, H, W) / (B, 3, H, W) in [0, 1] (sdbridge.pipeline.control_planes); B is 1 or fbs.
        Resized to (height, width) when its size differs. Not embedded again when unchanged (module docstring)."""
        if self.nets is None or name not in self.nets.models:
            loaded = [] if self.nets is None else list(self.nets.names)
            raise InputError(f"control image for ControlNet {name!r}, not loaded; loaded: {loaded or 'none'} "
                             "(give the pipeline controlnets=ControlNets({name: model}))")
        last = self._last_set.get(name)
        if last is image or (isinstance(image, np.ndarray) and isinstance(last, np.ndarray)
                             and image.shape == last.shape and np.array_equal(image, last)):
            return
        self._pending[name] = control_tensor(image, *self._size, self._device, self._dtype)
        self._last_set[name] = image.copy() if isinstance(image, np.ndarray) else image

    def restart(self, config: Any, latent_hw: tuple[int, int]) -> None:
        """Empty the per-slot buffers ((steps - 1) * fbs slots without an image); keep the newest image's
        embedding when its batch and size still fit."""
        steps, fbs = config.steps, config.frame_buffer_size
        self._shape, self._size = (steps, fbs, *latent_hw), (config.width, config.height, fbs)
        for name, images in list(self._pending.items()):  # set before a size change: no longer fits
            if (images.shape[0], *images.shape[2:]) != (fbs, config.height, config.width):
                del self._pending[name]
                self._last_set.pop(name, None)
        for name in () if self.nets is None else self.nets.names:
            current = self._current.get(name)
            if current is not None and (current.shape[0], *current.shape[2:]) != (fbs, *latent_hw):
                del self._current[name]
                self._last_set.pop(name, None)
            self._buffer[name] = (self._zeros(name, (steps - 1) * fbs), (False,) * ((steps - 1) * fbs))
        self._scales.clear()

    def stage(self, batched: bool) -> None:
        """Embed the images set since the last frame; lay out this call's slots (batched: the newest frame's,
        then the buffer's; sequential: the newest frame's for every step)."""
        if self.nets is None:
            return
        self._batched = batched
        for name, images in self._pending.items():
            streams.used_here(images)  # set on the worker thread's stream, dropped here (pipeline/streams.py)
            self._current[name] = self.nets.embed(name, images)  # (fbs, C0, h, w)
        self._pending.clear()
        fbs = self._shape[1]
        for name in self.nets.names:
            current = self._current.get(name)
            slots, valid = (self._zeros(name, fbs), (False,) * fbs) if current is None else (current, (True,) * fbs)
            if batched:
                buffered, had = self._buffer[name]
                streams.used_here(buffered)  # a restart's empty buffer is the worker thread's, advance drops it
                slots, valid = torch.cat([slots, buffered]), valid + had
            self._staged[name] = (slots, valid)

    def advance(self, fbs: int) -> None:
        """After a Stream Batch call: the staged slots but the finished ones become the buffer."""
        for name, (slots, valid) in self._staged.items():
            self._buffer[name] = (slots[:-fbs], valid[:-fbs])

    def inputs(self, lo: int, hi: int, negatives: int, config: Any) -> ControlInputs | None:
        """The inputs for slots lo:hi of the staged call, with `negatives` negative samples first."""
        if self.nets is None:
            return None
        batched = self._batched
        conds, scales, peaks = [], [], []
        steps, fbs = self._shape[0], self._shape[1]
        for name in self.nets.names:
            slots, valid = self._staged[name]
            if batched:
                slots, valid = slots[lo:hi], valid[lo:hi]
            values = settings(config, name)
            per_slot = [values[0] * step_active(s // fbs, steps, values[1], values[2]) * ok
                        for s, ok in zip(range(lo, hi), valid, strict=True)]
            per_sample = per_slot[:negatives] + per_slot
            conds.append(torch.cat([slots[:negatives], slots]) if negatives else slots)
            scales.append(self._scale_tensor(tuple(per_sample)))
            peaks.append(max(per_sample))
        return ControlInputs(self.nets, tuple(conds), tuple(scales), tuple(peaks))

    def _scale_tensor(self, values: tuple[float, ...]) -> torch.Tensor:
        """(B,) float32 on the device, made once per distinct tuple (no host-to-device copy per frame)."""
        hit = self._scales.get(values)
        if hit is None:
            if len(self._scales) > 64:  # settings changed many times: start over
                self._scales.clear()
            hit = self._scales[values] = torch.tensor(values, dtype=torch.float32, device=self._device)
        return hit

    def _zeros(self, name: str, count: int) -> torch.Tensor:
        assert self.nets is not None
        channels = self.nets.models[name].controlnet_cond_embedding.conv_out.out_channels  # type: ignore[union-attr]
        return torch.zeros((count, channels, *self._shape[2:]), device=self._device, dtype=self._dtype)


def control_tensor(image: np.ndarray | torch.Tensor, width: int, height: int, fbs: int, device: torch.device,
                   dtype: torch.dtype) -> torch.Tensor:
    """A control image as the model's input (fbs, 3, height, width) in [0, 1] (see ControlStream.set_image)."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)) if isinstance(image, np.ndarray) else image
    if tensor.dtype == torch.uint8:
        if tensor.dim() not in (3, 4) or tensor.shape[-1] != 3:
            raise InputError(f"control image of shape {tuple(tensor.shape)}: uint8 pixels must be (H, W, 3) or "
                             "(B, H, W, 3) RGB")
        tensor = (tensor.to(device) if tensor.dim() == 4 else tensor.to(device)[None]).permute(0, 3, 1, 2)
        tensor = tensor.to(torch.float32) / 255.0
    elif tensor.is_floating_point() and tensor.dim() in (3, 4) and tensor.shape[-3] == 3:
        tensor = tensor.to(device, torch.float32)
        tensor = tensor if tensor.dim() == 4 else tensor[None]
    else:
        raise InputError(f"control image of shape {tuple(tensor.shape)} and dtype {tensor.dtype}: give uint8 "
                         "(H, W, 3) pixels or a float (3, H, W) tensor in [0, 1]")
    if tensor.shape[0] not in (1, fbs):
        raise InputError(f"control image batch {tensor.shape[0]} must be 1 or frame_buffer_size={fbs}")
    if tuple(tensor.shape[2:]) != (height, width):
        tensor = torch.nn.functional.interpolate(tensor, size=(height, width), mode="bilinear", antialias=True,
                                                 align_corners=False)
    return tensor.expand(fbs, -1, -1, -1).to(dtype).contiguous()


def tiny_controlnet(components: Any, seed: int = 0) -> torch.nn.Module:
    """A random-weight ControlNet for a random preset's UNet ("tiny", "tiny-sdxl": tests and demos), built with
    diffusers' ControlNetModel.from_unet. Its zero-initialised output convolutions (which make a fresh ControlNet
    add nothing) get small random weights, so that it changes the image, and its conditioning embedding He-scaled
    ones (with the default initialisation the embedding fades through its convolutions and hardly depends on the
    image). The same components and seed give the same weights in any process (the layers diffusers initialises
    at random are made under `seed`, not the global generator: a recording replays with the same ControlNet)."""
    from diffusers import ControlNetModel

    factor = components.vae_scale_factor  # the conditioning embedding downsamples by 2 per block after the first
    blocks = int(np.log2(factor)) + 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ControlNetModel.from_unet(components.unet,
                                        conditioning_embedding_out_channels=(8,) * (blocks - 1) + (16,))
    generator = torch.Generator().manual_seed(seed)
    embedding = net.controlnet_cond_embedding
    zeroed = [embedding.conv_out, *net.controlnet_down_blocks, net.controlnet_mid_block]
    with torch.no_grad():
        for module in zeroed:
            for param in module.parameters():
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
        for conv in [embedding.conv_in, *embedding.blocks, embedding.conv_out]:  # He-scaled: the default init fades
            fan_in = conv.weight[0].numel()
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
    net = net.to(components.device).eval()
    return net if components.dtype == torch.float32 else net.to(components.dtype)  # (diffusers warns on any cast)
