"""One UNet call for several StreamPipelines that share components (the server's sessions).

Each pipeline keeps its own prompt, guidance, seed noise, schedule and stream-batch buffers; only the
UNet evaluation is merged: the requests of k pipelines are concatenated along the batch axis, run as
one call, and split back. Every sample's output depends only on its own inputs (the UNet has no
cross-sample operations in eval mode), so a merged call gives each pipeline what its own call would,
up to floating-point summation order (tests/pipeline/test_shared_batch.py bounds the difference).
A UNet that accepts a limited batch (an engine built for a batch range) says so with a `max_batch`
attribute; the requests are then run in as few calls as fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sdbridge.errors import ConfigError
from sdbridge.pipeline.config import StreamResult
from sdbridge.pipeline.live_lora import live_weights
from sdbridge.pipeline.stream import StagedFrame, StreamPipeline, UnetRequest


def can_share(a: StreamPipeline, b: StreamPipeline) -> bool:
    """True when the UNet requests of a and b can be concatenated: same components, latent size and live LoRA
    weights (one UNet call runs its adapters at one set of weights)."""
    return (a.components is b.components and a.config.use_denoising_batch and b.config.use_denoising_batch
            and live_weights(a.components.live_loras, a.config.lora_weights)
            == live_weights(b.components.live_loras, b.config.lora_weights)
            and (a.config.width, a.config.height) == (b.config.width, b.config.height))


@torch.inference_mode()
def run_shared(calls: Sequence[tuple[StreamPipeline, np.ndarray | torch.Tensor]]) -> list[StreamResult]:
    """Process one frame per pipeline with a single UNet call over all of them; results in call order.

    Frames the similarity filter skips are answered without entering the batch. Raises ConfigError when
    two pipelines cannot share a batch (check with `can_share` first).
    """
    if not calls:
        return []
    first = calls[0][0]
    for pipe, _ in calls[1:]:
        if not can_share(first, pipe):
            raise ConfigError("run_shared needs pipelines on the same components, size and Stream Batch; "
                              "group them with can_share() and run the others separately")
    staged = [pipe.stage(image) for pipe, image in calls]
    requests = [s.request for s in staged if isinstance(s, StagedFrame) and s.request is not None]
    outputs: list[torch.Tensor] = []
    keep = len(requests) > 1  # outputs wait for other model calls before they are used: see _merged_unet
    for chunk in _chunks(requests, getattr(first.components.unet, "max_batch", None)):
        outputs += _merged_unet(first, chunk, keep)
    done = iter(outputs)
    return [s if isinstance(s, StreamResult) else s.pipeline.complete(s, next(done)) for s in staged]


def _chunks(requests: list[UnetRequest], max_batch: int | None) -> list[list[UnetRequest]]:
    """Consecutive groups whose total batch stays within max_batch (an engine's range; None = no limit)."""
    chunks: list[list[UnetRequest]] = []
    total = 0
    for request in requests:
        if chunks and (max_batch is None or total + len(request) <= max_batch):
            chunks[-1].append(request)
            total += len(request)
        else:
            chunks.append([request])
            total = len(request)
    return chunks


def _merged_unet(pipe: StreamPipeline, requests: list[UnetRequest], keep: bool) -> list[torch.Tensor]:
    """Run the requests (at least one) as one batch; returns each request's slice of the output.

    `keep`: the slices are used after other model calls (the next chunk's UNet call, the other sessions' VAE
    decodes), so the output is copied first. A CUDA-graph runner (torch.compile mode "reduce-overhead") returns
    memory that the next call of any compiled module overwrites.
    """
    if len(requests) == 1:
        out = pipe.run_unet(requests[0])
        return [out.clone() if keep else out]
    added = None
    if requests[0].added is not None:
        added = {key: torch.cat([r.added[key] for r in requests]) for key in requests[0].added}  # type: ignore[index]
    out = pipe.call_unet(torch.cat([r.sample for r in requests]), torch.cat([r.timesteps for r in requests]),
                         torch.cat([r.embeds for r in requests]), added)  # (sum of len(r), C, h, w)
    return list(torch.split(out.clone() if keep else out, [len(r) for r in requests]))
