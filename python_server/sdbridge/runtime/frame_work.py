"""A frame's work apart from scheduling: its session's pipeline, its input pixels, the model call, its result.

`begin` is the host work before the model (the pipeline for the frame's size, a prompt transition's next
step, the pixel decode to the pipeline's RGB input: for a pipeline on a CUDA device, on the device from a pinned
buffer, runtime.device_pixels; for a pipeline with ControlNets, the frame's planes as its control images,
runtime.control_inputs); `call` is the model call (one frame, or one shared batch of several sessions' frames:
sdbridge.pipeline.shared_batch), which the worker runs on its device lane (runtime.device_lane) as
`call_and_download`: the call, what each output depicts (runtime.frame_book) and, for outputs on a staged
device (CUDA), their packing into the client's layout on the device and ONE device->host copy for the whole
call, so the lane's event after the call also says the pixels are down; `end` is the host work after it: the
output in the client's layout (the finished download, or runtime/pixels.py's conversion), with the alpha of
the frame the output depicts, and the result naming that frame.

A session's pipeline is touched by one thread at a time: before `begin` changes it (a new pipeline, a
transition step), or runs it on the host (the passthrough model), it calls `settle(session)`, which returns
once no call of that session's frames is left in the lane.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sdbridge.runtime.control_inputs import ControlPlanes
from sdbridge.runtime.frame_book import Carried, FrameBook, fit_alpha
from sdbridge.runtime.pipeline_api import (
    PipelineFactory,
    PipelineResult,
    SessionPipeline,
    SizePolicy,
    result_job,
)
from sdbridge.runtime.pixels import Layout, from_pipeline, pixel_view, to_pipeline
from sdbridge.runtime.sessions import FrameJob, ResultJob, Session, blend_prompts


@dataclass
class Begun:
    """A frame whose pipeline and input pixels are ready, between FrameWork.begin and FrameWork.end."""

    session: Session
    job: FrameJob
    pipeline: SessionPipeline
    rgb: Any  # (h, w, 3) uint8 at the processing size: numpy, or a CUDA tensor once uploaded
    alpha: Any  # the client's alpha, (H, W) uint8: numpy, or a CUDA tensor; None for RGB8
    marks: tuple[float, float, float]  # perf_counter at start, after setup, after pixel decode (and upload)
    cuda_device: Any = None  # the torch.device the input was uploaded to, else None
    book: FrameBook | None = None  # the session's frame book (made on the worker thread, read in the lane call)


@dataclass
class Called:
    """A frame's model output as its lane call leaves it: the frame the output depicts and, for an output on a
    staged device, its download in the client's layout, started in the call (None: `end` converts it)."""

    out: PipelineResult
    source: Carried
    pixels: Any = None  # runtime.device_pixels.PendingPixels or PendingSlice


class FrameWork:
    """Pipelines, pixel conversion and result building for the worker (see the module docstring)."""

    def __init__(self, build: PipelineFactory, size_policy: SizePolicy, default_prompt: Mapping[str, Any],
                 passthrough: bool, wrap: Callable[[Session, SessionPipeline], SessionPipeline] | None,
                 settle: Callable[[Session], None], controls: ControlPlanes | None = None) -> None:
        self._build = build
        self._controls = controls if controls is not None else ControlPlanes()  # planes -> ControlNet images
        self._size_policy = size_policy
        self._default_prompt = dict(default_prompt)
        self._passthrough = passthrough
        self._wrap = wrap
        self._settle = settle
        self._books: dict[int, FrameBook] = {}  # session id -> what its outputs depict

    def retain(self, session_ids: set[int]) -> None:
        """Forget the frame books of sessions that are gone (once they outnumber the live ones)."""
        if len(self._books) > 2 * len(session_ids) + 8:
            self._books = {k: v for k, v in self._books.items() if k in session_ids}
            self._controls.forget(session_ids)

    def begin(self, session: Session, job: FrameJob) -> Begun | ResultJob:
        """Pipeline, prompt transition and input pixels for a frame (or the finished passthrough result)."""
        t0 = time.perf_counter()
        size = self._size_policy(job.layout)
        pipeline = self._ensure_pipeline(session, size)
        if session.transition is not None:
            self._settle(session)
            transition = session.transition
            position = transition.advance(time.monotonic())
            if position >= 1.0:
                session.transition = None
                session.prompt_values["prompt"] = transition.target
                pipeline.update(prompt=transition.target)
            else:
                pipeline.update(prompt=blend_prompts(transition.start, transition.target, position))
        t1 = time.perf_counter()
        if self._passthrough and size == (job.layout.width, job.layout.height):
            self._settle(session)  # runs the pipeline here: after its frames in the lane, in order
            view = pixel_view(job.payload, job.layout)  # (H, W, 3) strided view of the wire bytes
            out = pipeline(view)
            if out.image is view:
                t2 = time.perf_counter()
                # the client's own bytes: resend the wire frame that holds them (zero-copy) if there is one
                pixels = job.keep if job.keep is not None else np.frombuffer(job.payload, dtype=np.uint8)
                timings = {"queue_wait": t0 - job.received_at, "setup": t1 - t0, "decode": 0.0,
                           "inference": t2 - t1, "encode": 0.0}
                source = self._book(session).depicted(Carried(job.frame_id, None), _lag(session), out.skipped)
                return result_job(session, job, job.layout, pixels, timings, out, source.frame_id)
        rgb, alpha, device = _decode(pipeline, job, size)  # (h, w, 3) uint8, alpha (H, W)
        if self._controls.used_by(pipeline):  # this frame's control images and motion, before it is staged
            if self._controls.touches(pipeline, job.planes):
                self._settle(session)  # set_image changes the pipeline: none of its calls may be in the lane
            self._controls.apply(session.session_id, pipeline, job.planes, rgb)
        return Begun(session, job, pipeline, rgb, alpha, (t0, t1, time.perf_counter()), device, self._book(session))

    @staticmethod
    def call(group: list[Begun]) -> list[PipelineResult]:
        """The model call for the frames of `group` (one shared UNet/VAE batch when several); outputs in order."""
        if len(group) == 1:
            return [group[0].pipeline(group[0].rgb)]
        from sdbridge.pipeline.shared_batch import run_shared

        return list(run_shared([(b.pipeline, b.rgb) for b in group]))  # type: ignore[misc]

    def call_and_download(self, group: list[Begun]) -> list[Called]:
        """The device lane's call: `call`, then `downloads` (the results' device->host copy is part of the call,
        so the lane's event after it also says the pixels are down)."""
        return self.downloads(group, self.call(group))

    def downloads(self, group: list[Begun], outs: list[PipelineResult]) -> list[Called]:
        """What each output depicts (its session's frame book, in call order) and, for outputs on a staged device
        (CUDA), their conversion to the client's layout on the device and ONE device->host copy for the whole
        group (runtime.device_pixels.DevicePixels.download_many); numpy outputs are left to `end`."""
        called = [Called(out, (b.book or self._book(b.session)).depicted(
            Carried(b.job.frame_id, b.alpha), _lag(b.session), bool(out.skipped))) for b, out in zip(group, outs,
                                                                                                     strict=True)]
        if all(getattr(type(b.pipeline), "image_on_device", None) is None for b in group):  # numpy: no torch needed
            return called
        from sdbridge.runtime.device_pixels import stage_downloads

        for c, pending in zip(called, stage_downloads([(c.out.image, c.source.alpha, _client_layout(b.job.layout))
                                                       for b, c in zip(group, called, strict=True)]), strict=True):
            c.pixels = pending
        return called

    def end(self, begun: Begun, out: PipelineResult, inference_s: float, called: Called | None = None) -> ResultJob:
        """The output in the client's layout, with the alpha of the frame it depicts; inference_s: the call's
        seconds (with a shared batch: the whole shared call); `called`: what `call_and_download` left (None: done
        here)."""
        started = time.perf_counter()
        job = begun.job
        client_layout = _client_layout(job.layout)
        if called is None:
            called = self.downloads([begun], [out])[0]
        source = called.source
        pixels = called.pixels.result() if called.pixels is not None else _encode(out.image, source.alpha,
                                                                                 client_layout)  # (H, W, bpp)
        t0, t1, t2 = begun.marks
        timings = {
            "queue_wait": t0 - job.received_at,
            "setup": t1 - t0,
            "decode": t2 - t1,
            "inference": inference_s,
            "encode": time.perf_counter() - started,
        }
        return result_job(begun.session, job, client_layout, pixels, timings, out, source.frame_id)

    def _book(self, session: Session) -> FrameBook:
        book = self._books.get(session.session_id)
        if book is None:
            book = self._books[session.session_id] = FrameBook()
        return book

    def _ensure_pipeline(self, session: Session, size: tuple[int, int]) -> SessionPipeline:
        if session.pipeline is not None and session.pipeline_size == size:
            return session.pipeline
        self._settle(session)  # the old pipeline's frames finish (and name their sources) first
        pipeline = self._build(size[0], size[1])
        old_encoder = getattr(session.pipeline, "prompt_encoder", None)
        new_encoder = getattr(pipeline, "prompt_encoder", None)
        if old_encoder is not None and new_encoder is not None:  # a new size: the texts need no new encoding
            new_encoder.adopt(old_encoder)
        if self._wrap is not None:
            pipeline = self._wrap(session, pipeline)
        values = {**self._default_prompt, **session.prompt_values}
        prepare_args = {k: values.pop(k) for k in ("prompt", "negative_prompt") if k in values}
        pipeline.prepare(**prepare_args)
        if values:
            try:
                pipeline.update(**values)
            except Exception:  # values sent before the first frame were invalid: forget them, report
                session.prompt_values = {k: v for k, v in session.prompt_values.items() if k in prepare_args}
                raise
        session.pipeline = pipeline
        session.pipeline_size = size
        self._book(session).reset()
        return pipeline


def _client_layout(layout: Layout) -> Layout:
    """The packed layout of a frame's result: the client's size, format and row order, no row padding."""
    return Layout.packed(layout.width, layout.height, layout.pixel_format, layout.row_order)


def _lag(session: Session) -> int:
    return int(getattr(session.pipeline, "latency_frames", 0))


def _decode(pipeline: SessionPipeline, job: FrameJob, size: tuple[int, int]) -> tuple[Any, Any, Any]:
    """(rgb, alpha, CUDA device or None) of a frame: for a pipeline that takes its frames on its device
    (runtime.device_pixels; on CUDA: pinned, non_blocking upload, conversion on the device, not run on a GPU
    here), else runtime/pixels.py's numpy conversion."""
    if getattr(type(pipeline), "image_on_device", None) is None:  # numpy only: no torch needed
        rgb, alpha = to_pipeline(job.payload, job.layout, size)
        return rgb, alpha, None
    from sdbridge.runtime.device_pixels import device_pixels_for

    pixels = device_pixels_for(pipeline)
    assert pixels is not None
    rgb, alpha = pixels.upload(job.payload, job.layout, size)
    return rgb, alpha, pixels.device if pixels.device.type == "cuda" else None


def _encode(image: Any, alpha: Any, layout: Layout) -> np.ndarray:
    """A pipeline output in the client's packed layout, with the depicted frame's alpha (resized if needed)."""
    if isinstance(image, np.ndarray) and (alpha is None or isinstance(alpha, np.ndarray)):
        return from_pipeline(image, fit_alpha(alpha, layout.width, layout.height), layout)
    from sdbridge.runtime.device_pixels import to_client

    return to_client(image, alpha, layout)
