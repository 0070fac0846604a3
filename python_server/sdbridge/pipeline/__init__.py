"""The StreamDiffusion pipeline: Stream Batch, RCFG, similarity filter, cached prompts, TAESD.

    from sdbridge.pipeline import StreamPipeline, StreamConfig, CfgMode, load_components
    comps = load_components("tiny", device="cpu", dtype=torch.float32)
    pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=[0, 16, 32, 45]))
    pipe.prepare(prompt="a watercolor castle", negative_prompt="blurry")
    result = pipe(image)   # image: HxWx3 uint8 RGB
"""

from __future__ import annotations

from sdbridge.pipeline.components import Components, ModelFamily, VaeChoice, load_components
from sdbridge.pipeline.config import Interpolation, StreamConfig, StreamResult
from sdbridge.pipeline.guidance import CfgMode
from sdbridge.pipeline.identity import IdentityPipeline
from sdbridge.pipeline.stream import StreamPipeline


def build_pipeline(components: Components, config: StreamConfig) -> StreamPipeline | IdentityPipeline:
    """The pipeline for `components`: IdentityPipeline for "identity", else StreamPipeline."""
    if components.family is ModelFamily.IDENTITY:
        return IdentityPipeline(config)
    return StreamPipeline(components, config)


__all__ = [
    "CfgMode", "Components", "IdentityPipeline", "Interpolation", "ModelFamily", "StreamConfig",
    "StreamPipeline", "StreamResult", "VaeChoice", "build_pipeline", "load_components",
]
