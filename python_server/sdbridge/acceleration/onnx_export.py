"""ONNX export of the UNet (Stream Batch x CFG batch, SDXL conditioning included) and the VAE encoder and
decoder (TAESD and the full VAE), with dynamic batch, height and width; and the weights hash of engine keys.

Input / output names (part of ENGINE_FORMAT):
    unet.onnx         sample (B,C,h,w) float, timestep (B,) int64, encoder_hidden_states (B,L,D) float
                      [+ text_embeds (B,P), time_ids (B,6) for SDXL] -> noise_pred (B,C,h,w)
    vae_encoder.onnx  images (N,3,H,W) in [-1, 1] -> latents (N,C,h,w), unscaled
    vae_decoder.onnx  latents (N,C,h,w), unscaled -> images (N,3,H,W)
Uses torch's TorchScript-based exporter (torch.onnx.export with dynamo=False), which needs only `onnx`.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from sdbridge.acceleration.base import AccelOptions, ShapeRange
from sdbridge.acceleration.engine_cache import EngineCache, EngineKey
from sdbridge.acceleration.export_modules import UnetModule, VaeDecodeModule, VaeEncodeModule, export_modules
from sdbridge.errors import BackendUnavailableError, EngineBuildError

if TYPE_CHECKING:
    from sdbridge.pipeline import Components

log = logging.getLogger(__name__)

OPSET = 17
UNET_FILE, ENCODER_FILE, DECODER_FILE = "unet.onnx", "vae_encoder.onnx", "vae_decoder.onnx"


@dataclass(frozen=True)
class OnnxGraph:
    """One exportable graph: its module, example inputs and the names and dynamic axes of its tensors."""

    component: str  # "unet" | "vae_encoder" | "vae_decoder"
    filename: str
    module: torch.nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]]


def require_onnx() -> None:
    """Raise BackendUnavailableError if the `onnx` package (needed by torch.onnx.export) is missing."""
    try:
        import onnx  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            "ONNX export needs the `onnx` package, which is not installed: "
            "pip install 'streamdiffusion-bridge[onnx]' (or pip install onnx onnxruntime)") from exc


def weights_hash(module: torch.nn.Module) -> str:
    """sha256 (first 32 hex digits) over every parameter and buffer: names, shapes, dtypes and bytes.

    Seconds for a full SD UNet; computed once per accelerate() call. Fused LoRAs change it (rebuild).
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()[:32]


def graphs(components: Components, shapes: ShapeRange) -> list[OnnxGraph]:
    """The three graphs of `components`, with example inputs at the `opt` shapes of `shapes`."""
    unet, encode, decode = export_modules(components)
    return [unet_graph(components, unet, shapes), encoder_graph(components, encode, shapes),
            decoder_graph(components, decode, shapes)]


def denoiser_inputs(components: Components, config: Any, shapes: ShapeRange, sdxl: bool,
                    latent_inputs: Mapping[str, int] | None = None
                    ) -> tuple[tuple[torch.Tensor, ...], tuple[str, ...], dict[str, dict[int, str]]]:
    """Example inputs, names and dynamic axes shared by the UNet's and a ControlNet's graphs, at the `opt` shapes.

    In order: sample (B,C,h,w), timestep (B,) int64, encoder_hidden_states (B,77,D) with D the model `config`'s
    cross_attention_dim; then each of `latent_inputs` ({name: channels}: latent-sized (B,channels,h,w) tensors);
    then for SDXL (`sdxl`) text_embeds (B,P) and time_ids (B,6), the added_cond_kwargs.
    """
    dev, dtype, f = components.device, components.dtype, components.vae_scale_factor
    b, h, w = shapes.batch[1], shapes.height[1] // f, shapes.width[1] // f
    spatial = {0: "batch", 2: "height", 3: "width"}
    inputs: list[torch.Tensor] = [torch.randn(b, components.latent_channels, h, w, device=dev, dtype=dtype),
                                  torch.full((b,), 500, device=dev, dtype=torch.int64),
                                  torch.randn(b, 77, int(config.cross_attention_dim), device=dev, dtype=dtype)]
    names = ["sample", "timestep", "encoder_hidden_states"]
    axes: dict[str, dict[int, str]] = {"sample": spatial, "timestep": {0: "batch"},
                                       "encoder_hidden_states": {0: "batch"}}
    for name, channels in (latent_inputs or {}).items():
        inputs.append(torch.randn(b, channels, h, w, device=dev, dtype=dtype))
        names.append(name)
        axes[name] = spatial
    if sdxl:  # added_cond_kwargs: pooled text embeds and (original size, crop, target size) ids
        time_dim = int(config.addition_time_embed_dim)
        pooled = int(config.projection_class_embeddings_input_dim) - 6 * time_dim
        inputs += [torch.randn(b, pooled, device=dev, dtype=dtype),
                   torch.tensor([[h * f, w * f, 0, 0, h * f, w * f]], device=dev, dtype=dtype).expand(b, -1)]
        names += ["text_embeds", "time_ids"]
        axes.update({"text_embeds": {0: "batch"}, "time_ids": {0: "batch"}})
    return tuple(inputs), tuple(names), axes


def unet_graph(components: Components, module: UnetModule, shapes: ShapeRange) -> OnnxGraph:
    """The UNet graph: batch = Stream Batch slots x CFG (guidance.unet_evaluations), h and w dynamic."""
    inputs, names, axes = denoiser_inputs(components, module.unet.config, shapes, module.sdxl)
    axes["noise_pred"] = {0: "batch", 2: "height", 3: "width"}
    return OnnxGraph("unet", UNET_FILE, module, inputs, names, ("noise_pred",), axes)


def encoder_graph(components: Components, module: VaeEncodeModule, shapes: ShapeRange) -> OnnxGraph:
    """The VAE encoder graph (TAESD's encoder or the full VAE's posterior mean)."""
    images = torch.rand(shapes.vae_batch[1], 3, shapes.height[1], shapes.width[1], device=components.device,
                        dtype=components.dtype) * 2 - 1
    return OnnxGraph("vae_encoder", ENCODER_FILE, module, (images,), ("images",), ("latents",),
                     {"images": {0: "batch", 2: "height", 3: "width"},
                      "latents": {0: "batch", 2: "latent_height", 3: "latent_width"}})


def decoder_graph(components: Components, module: VaeDecodeModule, shapes: ShapeRange) -> OnnxGraph:
    """The VAE decoder graph."""
    f = components.vae_scale_factor
    latents = torch.randn(shapes.vae_batch[1], components.latent_channels, shapes.height[1] // f,
                          shapes.width[1] // f, device=components.device, dtype=components.dtype)
    return OnnxGraph("vae_decoder", DECODER_FILE, module, (latents,), ("latents",), ("images",),
                     {"latents": {0: "batch", 2: "latent_height", 3: "latent_width"},
                      "images": {0: "batch", 2: "height", 3: "width"}})


def export(graph: OnnxGraph, path: Path) -> Path:
    """Export `graph` to `path` (large models get an external-data file next to it). Returns `path`."""
    require_onnx()
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes
            torch.onnx.export(graph.module, graph.inputs, str(path), input_names=list(graph.input_names),
                              output_names=list(graph.output_names), dynamic_axes=graph.dynamic_axes,
                              opset_version=OPSET, do_constant_folding=True, dynamo=False)
    except Exception as exc:
        raise EngineBuildError(f"ONNX export of the {graph.component} failed: {type(exc).__name__}: {exc}") from exc
    log.info("exported %s to %s (%.1f MB)", graph.component, path, path.stat().st_size / 1e6)
    return path


def onnx_keys(components: Components, shapes: ShapeRange) -> list[tuple[OnnxGraph, EngineKey]]:
    """The engine key of each of the three ONNX graphs.

    ONNX files are exported with dynamic batch, height and width, so their keys hold no shape range, and
    the backend they depend on is torch's exporter (backend "onnx", version = torch's); ONNX Runtime
    optimises them when it opens a session, so an onnxruntime upgrade needs no re-export.
    """
    assert components.unet is not None and components.vae is not None
    hashes = {"unet": weights_hash(components.unet), "vae": weights_hash(components.vae)}
    return [(graph, onnx_key(graph.component, components, hashes["unet" if graph.component == "unet" else "vae"],
                             {"vae": components.vae_choice.value, "device": components.device.type}))
            for graph in graphs(components, shapes)]


def onnx_key(component: str, components: Components, weights: str, extra: dict[str, str]) -> EngineKey:
    """The engine key of an ONNX file of `component` exported from `components` (whose model, dtype name it):
    dynamic batch, height and width, backend "onnx" at torch's version, any GPU, OPSET; `weights`: the hash of
    the exported module's weights (weights_hash); `extra`: what else the file depends on."""
    return EngineKey(
        component=component, model=components.name, weights_hash=weights,
        shapes={"dynamic": ["batch", "height", "width"]}, dtype=str(components.dtype).removeprefix("torch."),
        backend="onnx", backend_version=torch.__version__.split("+")[0], gpu_arch="any", opset=OPSET, extra=extra)


def cached_onnx(components: Components, options: AccelOptions) -> dict[str, tuple[Path, EngineKey]]:
    """The ONNX file and key of each graph ("unet", "vae_encoder", "vae_decoder"), exported if not cached."""
    cache = EngineCache(options.engines_dir)
    paths = {}
    for graph, key in onnx_keys(components, options.shapes):
        def produce(folder: Path, step: Callable[[str], None], graph: OnnxGraph = graph) -> None:
            step(f"export {graph.component} to ONNX")
            export(graph, folder / graph.filename)

        engine = cache.get_or_build(key, produce, steps=1, progress=options.progress)
        paths[graph.component] = (engine.file(graph.filename), key)
    return paths
