"""ControlNets run by an engine: `EngineControlNet` stands in for a diffusers ControlNetModel inside
sdbridge.pipeline.controlnet.ControlNets, its per-step part run by ONNX Runtime (`ort_controlnets`, here) or
TensorRT (controlnet_trt.py), its conditioning embedding still the eager model's (run once per control image).

The engine graph (controlnet_export.py) takes the embedding, so the stand-in accepts only embeddings as
`controlnet_cond` (ControlStream gives nothing else); outputs are allocated from `residual_layout` and written
in place by the engine (IO binding / tensor addresses: no copies). A conditioning scale other than 1 multiplies
the residuals afterwards (ControlNets calls with 1 and scales per sample itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from sdbridge.acceleration.base import AccelOptions
from sdbridge.acceleration.controlnet_export import cached_controlnet_onnx, embedding_channels, residual_layout
from sdbridge.errors import InputError

if TYPE_CHECKING:
    from sdbridge.pipeline import Components
    from sdbridge.pipeline.controlnet import ControlNets

#: run(inputs, outputs): the engine call, reading `inputs` in graph order and writing `outputs` in place
EngineCall = Callable[[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]], None]


class EngineControlNet(torch.nn.Module):
    """A ControlNetModel's stand-in whose residuals come from an engine (module docstring)."""

    def __init__(self, model: torch.nn.Module, run: EngineCall, sdxl: bool, description: str) -> None:
        super().__init__()
        self.controlnet_cond_embedding = model.controlnet_cond_embedding  # eager: once per control image
        self.config = model.config
        self.layout = residual_layout(model)
        self.sdxl = sdxl
        self.description = description
        self._channels = embedding_channels(model)
        self._run = run
        self.calls = 0

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                controlnet_cond: torch.Tensor, conditioning_scale: float = 1.0,
                added_cond_kwargs: dict[str, torch.Tensor] | None = None, return_dict: bool = False,
                **unused: Any) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(down residuals, mid residual) like ControlNetModel(..., return_dict=False)."""
        if controlnet_cond.shape[1] != self._channels:
            raise InputError(f"{self.description}: controlnet_cond has {controlnet_cond.shape[1]} channels; the engine "
                             f"takes the conditioning embedding ({self._channels} channels): give the ControlNet to "
                             "sdbridge.pipeline.controlnet.ControlNets, which embeds control images once")
        b, h, w = sample.shape[0], sample.shape[2], sample.shape[3]
        steps = timestep.to(torch.int64).reshape(-1).expand(b).contiguous()
        inputs = [sample, steps, encoder_hidden_states, controlnet_cond]
        if self.sdxl:
            if added_cond_kwargs is None:
                raise InputError(f"{self.description}: an SDXL ControlNet needs added_cond_kwargs (text_embeds, "
                                 "time_ids)")
            inputs += [added_cond_kwargs["text_embeds"], added_cond_kwargs["time_ids"]]
        outputs = tuple(torch.empty(r.shape(b, h, w), device=sample.device, dtype=sample.dtype) for r in self.layout)
        self._run(tuple(inputs), outputs)
        self.calls += 1
        if conditioning_scale != 1.0:
            outputs = tuple(o * conditioning_scale for o in outputs)
        return list(outputs[:-1]), outputs[-1]


def ort_controlnets(components: Components, nets: ControlNets, options: AccelOptions) -> ControlNets:
    """`nets` with every model's per-step part exported to ONNX (cached in options.engines_dir) and run by ONNX
    Runtime on the components' device (CPU run here; CUDA as onnxruntime_backend.py: not run on a GPU here)."""
    from sdbridge.acceleration.onnxruntime_backend import OnnxRuntimeBackend, OrtSession
    from sdbridge.pipeline import ModelFamily
    from sdbridge.pipeline.controlnet import ControlNets

    backend = OnnxRuntimeBackend()
    backend.check(components)
    threads = options.threads or torch.get_num_threads()
    sdxl = components.family is ModelFamily.SDXL
    models = {}
    for name, (path, _) in cached_controlnet_onnx(components, nets, options).items():
        session = OrtSession(path, components.device, threads, lambda *_: (), components.dtype, options.ort_providers)
        models[name] = EngineControlNet(nets.models[name], session.run_into, sdxl,
                                        f"ControlNet {name!r} on onnxruntime {backend.version()}")
    return ControlNets(models)
