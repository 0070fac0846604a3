"""What the worker needs from a session's pipeline, and what it reports when a frame or update fails.

Any object with this API serves (sdbridge.pipeline's StreamPipeline and IdentityPipeline, test fakes,
the recorder's wrapper); `frame_units` weighs a frame's share of a pipeline call shared by sessions;
`result_job` builds what goes back to the client. The worker decides by interface, never by concrete class:
`shares_unet_batch` tells whether a pipeline implements `SharedBatchPipeline`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sdbridge.runtime.pixels import Layout
from sdbridge.runtime.sessions import FrameJob, ResultJob, Session


class PipelineResult(Protocol):
    """What a pipeline call returns (see sdbridge.pipeline)."""

    image: np.ndarray  # (H, W, 3) uint8 RGB top-down
    is_warmup: bool
    skipped: bool
    timings: dict[str, float]


class SessionPipeline(Protocol):
    """The per-session pipeline API the worker relies on."""

    latency_frames: int

    def prepare(self, prompt: str = ..., negative_prompt: str = ...) -> None: ...

    def update(self, **kwargs: Any) -> None: ...

    def __call__(self, image: np.ndarray) -> PipelineResult: ...


class SharedBatchPipeline(SessionPipeline, Protocol):
    """A pipeline whose UNet call can join other sessions' in one batch (sdbridge.pipeline.shared_batch.run_shared):
    it stages a frame up to its UNet request, runs or calls the UNet, and completes the frame from its output."""

    components: Any
    config: Any

    def stage(self, image: Any) -> Any: ...

    def complete(self, staged: Any, unet_out: Any) -> Any: ...

    def run_unet(self, request: Any) -> Any: ...

    def call_unet(self, sample: Any, timesteps: Any, embeds: Any, added: Any = None) -> Any: ...


_SHARED_BATCH_METHODS = ("stage", "complete", "run_unet", "call_unet")


def shares_unet_batch(pipeline: Any) -> bool:
    """True when `pipeline`'s class implements SharedBatchPipeline (the worker may batch its UNet call with other
    sessions'). The class is asked, not the instance: a wrapper that forwards attributes (the recorder's) does
    not implement the staged calls itself, so its frames run through its own `__call__` and are recorded."""
    return all(callable(getattr(type(pipeline), name, None)) for name in _SHARED_BATCH_METHODS)


#: Builds a fresh pipeline for one session at (width, height). Shares the loaded components.
PipelineFactory = Callable[[int, int], SessionPipeline]
#: Picks the processing (width, height) for a frame of the given client layout.
SizePolicy = Callable[[Layout], tuple[int, int]]


@dataclass(frozen=True)
class WorkerFailure:
    """A frame or update that failed in the worker; sent to the session as an Error."""

    identity: bytes
    session_id: int
    frame_id: int | None
    error: Exception


def frame_units(pipeline: Any) -> float:
    """A frame's share of a shared pipeline call: its UNet samples (t_index_list steps x frame_buffer_size,
    twice with full CFG) plus its frame_buffer_size for its VAE encode and decode."""
    config = getattr(pipeline, "config", None)
    fbs = int(getattr(config, "frame_buffer_size", 1))
    full = getattr(getattr(config, "cfg_mode", None), "value", "") == "full"
    return float(int(getattr(config, "steps", 1)) * fbs * (2 if full else 1) + fbs)


def result_job(session: Session, job: FrameJob, layout: Layout, pixels: np.ndarray,
               timings: dict[str, float], out: PipelineResult, source_frame_id: int) -> ResultJob:
    """The result of `job` for its own session (pixels in `layout`), naming the input frame it depicts
    (`source_frame_id`: runtime.frame_book names it, counting frames processed, never id arithmetic)."""
    return ResultJob(
        identity=session.identity,
        session_id=session.session_id,
        frame_id=job.frame_id,
        stream=job.stream,
        layout=layout,
        pixels=pixels,
        timings=timings,
        is_warmup=bool(out.is_warmup),
        skipped=bool(out.skipped),
        client_timestamp_us=job.client_timestamp_us,
        source_frame_id=source_frame_id,
        received_at=job.received_at,
        client_send_us=job.client_send_us,
    )
