"""The StreamDiffusion pipeline: Stream Batch, RCFG, similarity filter, cached prompts, TAESD.

    from sdbridge.pipeline import StreamPipeline, StreamConfig, CfgMode, load_components
    comps = load_components("tiny", device="cpu", dtype=torch.float32)
    pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=[0, 16, 32, 45]))
    pipe.prepare(prompt="a watercolor castle", negative_prompt="blurry")
    result = pipe(image)   # image: HxWx3 uint8 RGB
"""

from __future__ import annotations

from sdbridge.errors import ConfigError
from sdbridge.pipeline.components import Components, ModelFamily, VaeChoice, load_components
from sdbridge.pipeline.config import Interpolation, StreamConfig, StreamResult
from sdbridge.pipeline.controlnet import ControlNets
from sdbridge.pipeline.guidance import CfgMode
from sdbridge.pipeline.identity import IdentityPipeline
from sdbridge.pipeline.ip_adapter import IpAdapter
from sdbridge.pipeline.stream import StreamPipeline


def build_pipeline(components: Components, config: StreamConfig,
                   controlnets: ControlNets | None = None,
                   ip_adapter: IpAdapter | None = None) -> StreamPipeline | IdentityPipeline:
    """The pipeline for `components`: IdentityPipeline for "identity", else StreamPipeline (with `controlnets` and
    `ip_adapter`)."""
    if components.family is ModelFamily.IDENTITY:
        if controlnets is not None or ip_adapter is not None:
            raise ConfigError("the 'identity' model has no UNet for ControlNets or an IP-Adapter; load a model or "
                              "drop them")
        return IdentityPipeline(config)
    return StreamPipeline(components, config, controlnets, ip_adapter)


__all__ = [
    "CfgMode", "Components", "IdentityPipeline", "Interpolation", "ModelFamily", "StreamConfig",
    "StreamPipeline", "StreamResult", "VaeChoice", "build_pipeline", "load_components",
]
