"""ONNX export of a ControlNet's per-step part (its residual outputs), with dynamic batch, height and width, and its
engine key (cached in engines/ like the UNet's and under the same discipline: engine_cache.EngineKey).

The image-only part of a ControlNet (its conditioning embedding, a few convolutions) runs once per control image
in torch (sdbridge.pipeline.controlnet.ControlNets.embed); the graph takes that embedding, so an engine runs only
what runs per step and slot:

    controlnet.onnx   sample (B,C,h,w) float, timestep (B,) int64, encoder_hidden_states (B,L,D) float,
                      cond_embedding (B,C0,h,w) float [+ text_embeds (B,P), time_ids (B,6) for SDXL]
                      -> down_0 ... down_{n-1} (B,c_i,h_i,w_i), mid (B,c,h',w')   (conditioning scale 1)

`residual_layout` gives each output's channels and downsampling (from the model's config), so a runner can
allocate the outputs before a run. Uses torch's TorchScript-based exporter, like onnx_export.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from sdbridge.acceleration.base import AccelOptions, ShapeRange
from sdbridge.acceleration.engine_cache import EngineCache, EngineKey
from sdbridge.acceleration.onnx_export import OnnxGraph, denoiser_inputs, export, onnx_key, weights_hash
from sdbridge.errors import EngineBuildError

if TYPE_CHECKING:
    from sdbridge.pipeline import Components
    from sdbridge.pipeline.controlnet import ControlNets

CONTROLNET_FILE = "controlnet.onnx"
COMPONENT = "controlnet"


@dataclass(frozen=True)
class Residual:
    """One residual output: its name, channels and how many times the latent is halved to reach its size."""

    name: str
    channels: int
    halvings: int

    def shape(self, batch: int, height: int, width: int) -> tuple[int, int, int, int]:
        """Its shape for a latent of height x width (each halving: stride-2 convolution, padding 1: ceil)."""
        for _ in range(self.halvings):
            height, width = -(-height // 2), -(-width // 2)
        return batch, self.channels, height, width


def residual_layout(model: torch.nn.Module) -> tuple[Residual, ...]:
    """The residual outputs of a diffusers ControlNetModel in forward order (down blocks, then mid): conv_in's
    output, each down block's resnets, its downsampler (all but the last block), then the mid block."""
    config: Any = model.config
    blocks, layers = len(config.down_block_types), int(config.layers_per_block)
    halvings = [0]
    for i in range(blocks):
        halvings += [i] * layers + ([i + 1] if i < blocks - 1 else [])
    downs = list(model.controlnet_down_blocks)  # type: ignore[arg-type]
    if len(downs) != len(halvings):
        raise EngineBuildError(f"ControlNet has {len(downs)} down residuals, its config says {len(halvings)} "
                               f"({blocks} blocks of {layers} layers); export needs a diffusers ControlNetModel")
    out = [Residual(f"down_{i}", int(conv.out_channels), h)
           for i, (conv, h) in enumerate(zip(downs, halvings, strict=True))]
    return (*out, Residual("mid", int(model.controlnet_mid_block.out_channels), blocks - 1))  # type: ignore[union-attr]


class ControlNetModule(torch.nn.Module):
    """controlnet(sample, timestep, encoder_hidden_states, cond_embedding[, text_embeds, time_ids]) -> residuals.

    Holds the model of `nets` (whose embedding passes an embedding through: ControlNets installs that)."""

    def __init__(self, nets: ControlNets, name: str, sdxl: bool) -> None:
        super().__init__()
        self.model = nets.models[name]
        self.sdxl = sdxl

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                cond_embedding: torch.Tensor, text_embeds: torch.Tensor | None = None,
                time_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        added = {"text_embeds": text_embeds, "time_ids": time_ids} if self.sdxl else None
        down, mid = self.model(sample, timestep, encoder_hidden_states=encoder_hidden_states,
                               controlnet_cond=cond_embedding, conditioning_scale=1.0, added_cond_kwargs=added,
                               return_dict=False)
        return (*down, mid)


def embedding_channels(model: torch.nn.Module) -> int:
    """C0: the channels of the model's conditioning embedding (the graph's cond_embedding input)."""
    return int(model.controlnet_cond_embedding.conv_out.out_channels)  # type: ignore[union-attr]


def controlnet_graph(components: Components, nets: ControlNets, name: str, shapes: ShapeRange) -> OnnxGraph:
    """The graph of ControlNet `name` with example inputs at the `opt` shapes of `shapes`."""
    from sdbridge.pipeline import ModelFamily

    model = nets.models[name]
    sdxl = components.family is ModelFamily.SDXL
    inputs, names, axes = denoiser_inputs(components, model.config, shapes, sdxl,
                                          {"cond_embedding": embedding_channels(model)})
    outputs = tuple(r.name for r in residual_layout(model))
    for i, out in enumerate(outputs):
        axes[out] = {0: "batch", 2: f"height_{i}", 3: f"width_{i}"}
    return OnnxGraph(COMPONENT, CONTROLNET_FILE, ControlNetModule(nets, name, sdxl).eval(), inputs, names, outputs,
                     axes)


def controlnet_onnx_key(components: Components, nets: ControlNets, name: str, weights: str = "") -> EngineKey:
    """The key of ControlNet `name`'s ONNX file: its weights hash (`weights`: given when known), the model it
    conditions, dtype, torch's exporter version, opset; dynamic shapes (like onnx_export.onnx_keys)."""
    return onnx_key(COMPONENT, components, weights or weights_hash(nets.models[name]),
                    {"controlnet": name, "input": "cond_embedding", "device": components.device.type})


def cached_controlnet_onnx(components: Components, nets: ControlNets, options: AccelOptions
                           ) -> dict[str, tuple[Path, EngineKey]]:
    """{ControlNet name: (its ONNX file, key)}, exported into the engine cache when not there yet."""
    cache = EngineCache(options.engines_dir)
    out = {}
    for name in nets.names:
        key = controlnet_onnx_key(components, nets, name)

        def produce(folder: Path, step: Callable[[str], None], name: str = name) -> None:
            step(f"export ControlNet {name} to ONNX")
            export(controlnet_graph(components, nets, name, options.shapes), folder / CONTROLNET_FILE)

        engine = cache.get_or_build(key, produce, steps=1, progress=options.progress)
        out[name] = (engine.file(CONTROLNET_FILE), key)
    return out
