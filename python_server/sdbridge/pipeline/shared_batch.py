"""One VAE encode, one UNet call and one VAE decode for several StreamPipelines that share components (the
server's sessions).

Each pipeline keeps its own prompt, guidance, seed noise, schedule and stream-batch buffers; only the model
evaluations are merged: every pipeline's frames are staged up to the VAE encode, encoded as one batch, its
UNet requests concatenated along the batch axis and run as one call, each pipeline's latents finished up to
the VAE decode, decoded as one batch, and every piece split back. Every sample's output depends only on its
own inputs (the UNet and the VAE have no cross-sample operations in eval mode: GroupNorm is per sample), so
a merged call gives each pipeline what its own calls would, up to floating-point summation order
(tests/pipeline/test_shared_batch.py and tests/runtime/test_shared_unet_batch.py bound the difference).
A UNet that accepts a limited batch (an engine built for a batch range) says so with a `max_batch`
attribute; the requests are then run in as few calls as fit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from sdbridge.errors import ConfigError
from sdbridge.pipeline.config import StreamResult
from sdbridge.pipeline.controlnet import ControlInputs
from sdbridge.pipeline.ip_adapter import concat_added
from sdbridge.pipeline.live_lora import live_weights
from sdbridge.pipeline.stream import PendingFrames, StagedFrame, StreamPipeline, UnetRequest


def can_share(a: StreamPipeline, b: StreamPipeline) -> bool:
    """True when the UNet requests of a and b can be concatenated: same components, latent size, live LoRA
    weights (one UNet call runs its adapters at one set of weights) and ControlNet models (their residuals are
    computed for the whole batch, each sample at its own pipeline's scale) and IP-Adapter and its effective scale
    (one scale on the shared UNet's processors per call); never with cached attention on (each session's feature bank
    is tied to its own rows: a pipeline with attention_bank > 0 runs its own UNet call; pipeline/cached_attention).
    """
    return (a.components is b.components and a.config.use_denoising_batch and b.config.use_denoising_batch
            and a.config.attention_bank == 0 and b.config.attention_bank == 0
            and a.control.nets is b.control.nets
            and a.style.adapter is b.style.adapter and a.style.scale(a.config) == b.style.scale(b.config)
            and live_weights(a.components.live_loras, a.config.lora_weights)
            == live_weights(b.components.live_loras, b.config.lora_weights)
            and (a.config.width, a.config.height) == (b.config.width, b.config.height))


@torch.inference_mode()
def run_shared(calls: Sequence[tuple[StreamPipeline, np.ndarray | torch.Tensor]]) -> list[StreamResult]:
    """Process one frame per pipeline with a single VAE encode, UNet call and VAE decode over all of them;
    results in call order.

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
    staged = _encoded([pipe.stage_input(image) for pipe, image in calls])
    requests = [s.request for s in staged if isinstance(s, StagedFrame) and s.request is not None]
    chunks = _chunks(requests, getattr(first.components.unet, "max_batch", None))
    outputs: list[torch.Tensor] = []
    for index, chunk in enumerate(chunks):  # an earlier chunk's output waits for the later chunks' UNet calls
        outputs += _merged_unet(first, chunk, keep=index < len(chunks) - 1)
    done = iter(outputs)
    return _decoded([s if isinstance(s, StreamResult) else (s, *s.pipeline.complete_latents(s, next(done)))
                     for s in staged])


def _encoded(pending: list[StreamResult | StagedFrame | PendingFrames]) -> list[StreamResult | StagedFrame]:
    """Every PendingFrames encoded in one VAE batch (the pipelines share their VAE), then staged."""
    todo = [p for p in pending if isinstance(p, PendingFrames)]
    parts: Iterator[torch.Tensor] = iter(())
    if todo:
        x0 = todo[0].pipeline.vae_encode(torch.cat([p.frames for p in todo]))  # (sum of fbs, C, h, w)
        parts = iter(torch.split(x0, [len(p.frames) for p in todo]))
    return [p.pipeline.stage_encoded(p, next(parts)) if isinstance(p, PendingFrames) else p for p in pending]


def _decoded(finished: list[StreamResult | tuple[StagedFrame, torch.Tensor, bool]]) -> list[StreamResult]:
    """Every (staged frame, finished latents, warm-up) decoded in one VAE batch, then finished; results as they are.

    The decoded slices are all turned into results before any other model call (a CUDA-graph VAE's output
    memory is overwritten by the next call: see _merged_unet)."""
    todo = [f for f in finished if isinstance(f, tuple)]
    parts: Iterator[torch.Tensor] = iter(())
    if todo:
        for staged, _, _ in todo:
            staged.timer.mark("unet")
        decoded = todo[0][0].pipeline.vae_decode(torch.cat([latents for _, latents, _ in todo]))
        parts = iter(torch.split(decoded, [len(latents) for _, latents, _ in todo]))
    return [f if isinstance(f, StreamResult) else f[0].pipeline.finish(f[1], f[2], f[0].timer, next(parts))
            for f in finished]


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

    `keep`: the slices are used after another model call (the next chunk's UNet call), so the output is copied
    first: a CUDA-graph runner (torch.compile mode "reduce-overhead") returns memory that the next call of any
    compiled module overwrites. The last chunk's slices are used (complete_latents) before the VAE decode.
    """
    if len(requests) == 1:
        out = pipe.run_unet(requests[0])
        return [out.clone() if keep else out]
    added = None
    if requests[0].added is not None:
        added = {key: concat_added([r.added[key] for r in requests]) for key in requests[0].added}  # type: ignore[index]
    controls = [r.control for r in requests if r.control is not None]  # all or none: can_share
    control = ControlInputs.concat(controls) if controls else None
    out = pipe.call_unet(torch.cat([r.sample for r in requests]), torch.cat([r.timesteps for r in requests]),
                         torch.cat([r.embeds for r in requests]), added, control)  # (sum of len(r), C, h, w)
    return list(torch.split(out.clone() if keep else out, [len(r) for r in requests]))
