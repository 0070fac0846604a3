"""TensorRT engines of ControlNets (NVIDIA GPUs only; NOT RUN HERE: this machine has no GPU and no TensorRT).

Same discipline as the UNet's engines (tensorrt_backend.py): each ControlNet's ONNX graph (controlnet_export.py,
cached under its own key: weights hash, ControlNet name, dtype, opset) is built into a serialized engine with one
optimisation profile spanning the ShapeRange, cached in engines/ under `tensorrt_backend.engine_key` (the ONNX
key's digest, the shape range, the TensorRT version, the GPU architecture, the workspace) plus the ControlNet's
name. At run time the residual outputs are allocated from `residual_layout`, bound by address with the inputs
(`TrtRunner.run_into`, which checks each output's shape against the engine's) and the engine runs on torch's
current CUDA stream. The CPU tests cover the keys, the profiles and the binding on a fake `tensorrt` module.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from sdbridge.acceleration.base import AccelOptions, ShapeRange
from sdbridge.acceleration.controlnet_export import cached_controlnet_onnx, embedding_channels
from sdbridge.acceleration.controlnet_runtime import EngineCall, EngineControlNet
from sdbridge.acceleration.engine_cache import EngineCache, EngineKey
from sdbridge.acceleration.tensorrt_backend import (
    ENGINE_FILE,
    TensorRTBackend,
    TrtRunner,
    build_engine,
    engine_key,
    gpu_arch,
)
from sdbridge.errors import InputError

if TYPE_CHECKING:
    from sdbridge.pipeline import Components
    from sdbridge.pipeline.controlnet import ControlNets


def controlnet_profiles(components: Components, model: torch.nn.Module, shapes: ShapeRange
                        ) -> dict[str, list[tuple[int, ...]]]:
    """(min, opt, max) shape of every input of a ControlNet graph for its optimisation profile."""
    f, c = components.vae_scale_factor, components.latent_channels
    config: Any = model.config
    c0 = embedding_channels(model)
    out: dict[str, list[tuple[int, ...]]] = {}
    for i in range(3):
        b, h, w = shapes.batch[i], shapes.height[i] // f, shapes.width[i] // f
        rows: dict[str, tuple[int, ...]] = {"sample": (b, c, h, w), "timestep": (b,),
                                            "encoder_hidden_states": (b, 77, int(config.cross_attention_dim)),
                                            "cond_embedding": (b, c0, h, w)}
        if getattr(config, "addition_embed_type", None) == "text_time":
            pooled = int(config.projection_class_embeddings_input_dim) - 6 * int(config.addition_time_embed_dim)
            rows.update({"text_embeds": (b, pooled), "time_ids": (b, 6)})
        for name, shape in rows.items():
            out.setdefault(name, []).append(shape)
    return out


def controlnet_trt_keys(onnx: dict[str, tuple[Path, EngineKey]], shapes: ShapeRange, version: str, arch: str
                        ) -> dict[str, EngineKey]:
    """{ControlNet name: its TensorRT engine key} from the ControlNets' ONNX keys."""
    return {name: engine_key(onnx_key, shapes, version, arch, {"controlnet": name})
            for name, (_, onnx_key) in onnx.items()}


def ranged(run: EngineCall, shapes: ShapeRange, factor: int, name: str) -> EngineCall:
    """`run` refusing a call outside the engine's shape range (InputError naming the fix), like the UNet's."""
    def call(inputs: tuple[torch.Tensor, ...], outputs: tuple[torch.Tensor, ...]) -> None:
        b, h, w = inputs[0].shape[0], inputs[0].shape[2] * factor, inputs[0].shape[3] * factor
        if not shapes.contains(b, h, w):
            raise InputError(f"ControlNet {name!r}: batch {b} at {w}x{h} is outside its TensorRT engine's range (batch "
                             f"{shapes.batch}, width {shapes.width}, height {shapes.height}, as min/opt/max); build "
                             "engines covering that size and batch with `sdbridge build-engines --profile ...`")
        run(inputs, outputs)
    return call


def trt_controlnets(components: Components, nets: ControlNets, options: AccelOptions) -> ControlNets:
    """`nets` with every model's per-step part built into a TensorRT engine (cached) and run by it. Not run here."""
    from sdbridge.pipeline import ModelFamily
    from sdbridge.pipeline.controlnet import ControlNets

    backend = TensorRTBackend()
    backend.check(components)
    onnx = cached_controlnet_onnx(components, nets, options)
    keys = controlnet_trt_keys(onnx, options.shapes, backend.version(), gpu_arch(components.device))
    cache = EngineCache(options.engines_dir)
    sdxl = components.family is ModelFamily.SDXL
    models = {}
    for name, key in keys.items():
        def produce(folder: Path, step: Callable[[str], None], name: str = name) -> None:
            step(f"TensorRT build of ControlNet {name}")
            build_engine(onnx[name][0], folder / ENGINE_FILE,
                         controlnet_profiles(components, nets.models[name], options.shapes),
                         dtype=components.dtype, progress=options.progress, description=f"controlnet {name}")

        engine = cache.get_or_build(key, produce, steps=1, progress=options.progress)
        runner = TrtRunner(engine.file(ENGINE_FILE), components.device, options.shapes, f"controlnet {name}")
        models[name] = EngineControlNet(nets.models[name],
                                        ranged(runner.run_into, options.shapes, components.vae_scale_factor, name),
                                        sdxl, f"ControlNet {name!r} on TensorRT {backend.version()}")
    return ControlNets(models)
