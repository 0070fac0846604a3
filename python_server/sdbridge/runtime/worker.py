"""The worker thread: the only thread that calls pipelines.

Each turn serves the session with work that was charged the least worker time so far (the fair share,
runtime.queues.FairShare; ties go round-robin): it applies the session's pending updates (large prompt
blends are encoded a slice per turn: runtime.updates), takes its latest frame, converts it to the
pipeline's RGB top-down input at the processing size, runs the session's own pipeline and converts the
output back to the client's layout. The turn's seconds are charged to the session, so a session whose
requests cost more (a long t_index_list, prompt blends) gets proportionally fewer turns while others wait.
Other waiting sessions at most one quantum ahead, or whose frames cost no more than the first's, may share
the turn's UNet call; that call's time is split between them by their UNet samples. Finished results and
errors leave through callbacks; the server sends them from its I/O thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sdbridge.errors import BridgeError
from sdbridge.runtime.pipeline_api import (
    PipelineFactory,
    PipelineResult,
    SessionPipeline,
    SizePolicy,
    WorkerFailure,
    frame_units,
    result_job,
    shares_unet_batch,
)
from sdbridge.runtime.pixels import Layout, from_pipeline, pixel_view, to_pipeline
from sdbridge.runtime.queues import FairShare
from sdbridge.runtime.sessions import FrameJob, ResultJob, Session, SessionTable, blend_prompts
from sdbridge.runtime.updates import UpdateApplier

log = logging.getLogger(__name__)


@dataclass
class _Begun:
    """A frame whose pipeline and input pixels are ready, between Worker._begin and Worker._end."""

    session: Session
    job: FrameJob
    pipeline: SessionPipeline
    rgb: np.ndarray  # (h, w, 3) uint8 at the processing size
    alpha: np.ndarray | None  # the client's alpha to put back, (H, W)
    marks: tuple[float, float, float]  # perf_counter at start, after setup, after pixel decode


class Worker:
    """Owns the worker thread. `start()` then `stop()`; `stop` joins the thread.

    `passthrough=True` (the identity model) hands the pipeline a zero-copy RGB view of the wire pixels;
    when the pipeline returns that very view unchanged, the client's own bytes go back as the result
    (same stride and row order) instead of being converted twice.
    """

    def __init__(
        self,
        table: SessionTable,
        build_pipeline: PipelineFactory,
        size_policy: SizePolicy,
        on_result: Callable[[ResultJob], None],
        on_failure: Callable[[WorkerFailure], None],
        default_prompt: Mapping[str, Any] | None = None,
        passthrough: bool = False,
        wrap: Callable[[Session, SessionPipeline], SessionPipeline] | None = None,
        share_unet_batch: bool = False,
    ) -> None:
        self._table = table
        self._build = build_pipeline
        self._size_policy = size_policy
        self._on_result = on_result
        self._on_failure = on_failure
        self._default_prompt = dict(default_prompt or {})
        self._passthrough = passthrough
        self._wrap = wrap  # e.g. the session recorder (sdbridge.record): sees every call of a session's pipeline
        # Run the frames of all sessions that have one pending, at the same size, as one UNet call
        # (sdbridge.pipeline.shared_batch). Wrapped (recorded) pipelines always run alone.
        self._share = share_unet_batch
        self._updates = UpdateApplier(self._default_prompt, lambda session, exc: self._fail(session, None, exc))
        self.fair_share = FairShare()  # worker seconds charged per session id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = False

    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="sdbridge-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the thread to stop after its current frame and join it; True when it ended."""
        self._stop.set()
        self._table.wake()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def idle(self) -> bool:
        """True while the thread waits for work (so a new frame would be taken at once)."""
        return self._idle

    def hand_over(self, job: FrameJob, timeout: float = 0.002) -> None:
        """Wait (up to `timeout` s) until an idle worker has taken `job`; returns at once when busy.

        Called by the I/O thread right after queuing a frame. Blocking here releases the GIL to the
        worker at once; otherwise the I/O thread could read the client's next frame first, and the
        latest-wins slot would drop a frame the worker was free to process.
        """
        if self._idle and job.taken is not None:
            job.taken.wait(timeout)

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        held: list[ResultJob] = []  # finished, published once their sessions' waiting frames have been taken
        while not self._stop.is_set():
            held = self._release(held)  # results of sessions with no frame waiting go back now
            with self._table.work:
                chosen = self._choose()
                if not chosen:
                    if held:
                        self._publish_all(held)
                        held = []
                        continue
                    self._idle = True
                    self._table.work.wait(0.25)
                    self._idle = False
                    continue
            # partners join for their frames: a slice of a large blend of theirs waits for a turn of their own
            jobs = [(s, self._charged_take(s, slices=s is chosen[0])) for s in chosen]
            jobs = [(s, job) for s, job in jobs if job is not None]
            held = self._release(held)
            if len(jobs) == 1:
                result = self._run_job(*jobs[0])
                held += [result] if result is not None else []
            elif jobs:
                held += self._run_together(jobs)
        self._publish_all(held)

    def _release(self, held: list[ResultJob]) -> list[ResultJob]:
        """Publish the held results of sessions with no frame waiting; return the others, still held.

        A client sends its next frame when a result comes back. Published while its session still has a
        frame waiting in the latest-wins slot, that next frame would replace the waiting one (dropped, its
        credit returned: the client then sends two at once, and keeps one frame in flight instead of two).
        So a result waits until its session's waiting frame has left the slot: a turn of its own, or no
        frame waiting. Without this, thread scheduling alone made a 2-credit client lose frames, and a
        client lost half its turns to another session's long turns.
        """
        waiting = {r.session_id for r in held if (s := self._table.get(r.identity)) is not None
                   and s.session_id == r.session_id and s.slot.pending}
        self._publish_all([r for r in held if r.session_id not in waiting])
        return [r for r in held if r.session_id in waiting]

    def _choose(self) -> list[Session]:
        """The session to serve now (least charged with work), then its partners for a shared UNet call.

        Called with the table's lock held. When the session served last (and still behind the others) will
        likely send its next frame within a few ms, it waits that long for it (FairShare.anticipation).
        """
        self._forget_gone()
        sessions = self._table.sessions()
        pause = self.fair_share.anticipation([s.session_id for s in sessions if s.has_work])
        if pause > 0:
            self._idle = True  # (a frame queued now is handed over at once: see hand_over)
            self._table.work.wait(pause)
            self._idle = False
            sessions = self._table.sessions()
        by_id = {s.session_id: s for s in sessions if s.has_work}
        ranked = self.fair_share.order(by_id)
        if not self._share or not ranked:
            return [by_id[k] for k in ranked[:1]]
        # a partner at most one quantum ahead, or whose frame costs no more than the first's (it cannot slow
        # that turn much): a costlier session far ahead would slow every turn of the others
        near = set(self.fair_share.partners(ranked))
        units = frame_units(by_id[ranked[0]].pipeline)
        return [by_id[ranked[0]], *(by_id[k] for k in ranked[1:]
                                   if k in near or frame_units(by_id[k].pipeline) <= units)]

    def _forget_gone(self) -> None:
        """Drop the fair-share records of sessions that are gone (once they outnumber the live ones)."""
        if len(self.fair_share) > 2 * len(self._table) + 8:
            self.fair_share.retain({s.session_id for s in self._table.sessions()})

    def _charged_take(self, session: Session, slices: bool) -> FrameJob | None:
        start = time.perf_counter()
        try:
            return self._take(session, slices)
        finally:
            self.fair_share.charge(session.session_id, time.perf_counter() - start)

    def _publish_all(self, results: list[ResultJob]) -> None:
        for result in results:
            self._publish(result)

    def serve(self, session: Session) -> None:
        """One turn for one session: apply its pending updates, process its latest frame, publish."""
        self._forget_gone()
        job = self._take(session)
        if job is not None:
            result = self._run_job(session, job)
            if result is not None:
                self._publish(result)

    def _take(self, session: Session, slices: bool = True) -> FrameJob | None:
        """Take the session's latest frame, then apply its pending updates.

        The frame is taken first: every update that arrived before it is then already queued (the I/O
        thread queues in arrival order), so a Prompt sent before a Frame applies to that Frame (a blend of
        more new texts than one turn encodes applies once they are encoded: runtime.updates).
        """
        job = session.slot.take()
        if job is not None:
            self.fair_share.arrived(session.session_id, job.received_at)
            if job.taken is not None:
                job.taken.set()
        self._apply_updates(session, slices)
        return None if session.closed else job

    def run_now(self, session: Session, job: FrameJob) -> ResultJob | None:
        """Process `job` at once on the calling thread, after the session's pending updates (the inline path
        of the identity model: no slot, no hand-off). A failure is reported as usual and returns None."""
        self._forget_gone()
        self._apply_updates(session)
        if session.closed:
            return None
        return self._run_job(session, job)

    def _apply_updates(self, session: Session, slices: bool = True) -> None:
        """Apply the session's queued Prompt/Params updates in arrival order (a large blend: one slice, if
        `slices`)."""
        if len(session.updates):
            self._updates.apply(session, slices)

    def _run_job(self, session: Session, job: FrameJob) -> ResultJob | None:
        """Process one frame (its time charged to the session); a failure is reported at once and returns None."""
        start = time.perf_counter()
        try:
            result = self._process(session, job)
        except Exception as exc:
            self._failed(session, job, exc)
            return None
        finally:
            self.fair_share.charge(session.session_id, time.perf_counter() - start)
        return self._account(session, result)

    def _run_together(self, jobs: list[tuple[Session, FrameJob]]) -> list[ResultJob]:
        """Frames of several sessions: those whose pipelines can share a UNet batch run as one call."""
        from sdbridge.pipeline.shared_batch import can_share

        results: list[ResultJob] = []
        groups: list[list[_Begun]] = []
        for session, job in jobs:
            start = time.perf_counter()
            try:
                begun: _Begun | ResultJob | None = self._begin(session, job)
            except Exception as exc:
                self._failed(session, job, exc)
                begun = None
            self.fair_share.charge(session.session_id, time.perf_counter() - start)
            if isinstance(begun, ResultJob):
                results.append(self._account(session, begun))
            elif begun is not None:
                pipe = begun.pipeline
                group = next((g for g in groups if shares_unet_batch(pipe) and shares_unet_batch(g[0].pipeline)
                              and can_share(g[0].pipeline, pipe)), None)  # type: ignore[arg-type]
                if group is None:
                    groups.append([begun])
                else:
                    group.append(begun)
        for group in groups:
            results += self._run_group(group)
        return results

    def _run_group(self, group: list[_Begun]) -> list[ResultJob]:
        """One pipeline call for the group (a shared UNet batch when several); its time split by frame_units."""
        from sdbridge.pipeline.shared_batch import run_shared

        start = time.perf_counter()
        try:
            if len(group) == 1:
                outs = [group[0].pipeline(group[0].rgb)]
            else:
                outs = run_shared([(b.pipeline, b.rgb) for b in group])  # type: ignore[misc]
        except Exception as exc:  # the model failed: every frame of this call gets the error
            outs = []
            for b in group:
                self._failed(b.session, b.job, exc)
        done = time.perf_counter()
        units = [frame_units(b.pipeline) for b in group]
        for b, share in zip(group, units, strict=True):
            self.fair_share.charge(b.session.session_id, (done - start) * share / sum(units))
        results: list[ResultJob] = []
        for b, out in zip(group, outs, strict=False):
            ended = time.perf_counter()
            results.append(self._account(b.session, self._end(b, out, done)))
            self.fair_share.charge(b.session.session_id, time.perf_counter() - ended)
        return results

    def _failed(self, session: Session, job: FrameJob, exc: Exception) -> None:
        session.stats.frames_failed += 1
        self._fail(session, job.frame_id, exc)

    def _account(self, session: Session, result: ResultJob) -> ResultJob:
        session.stats.frames_processed += 1
        session.stats.last_timings = result.timings
        return result

    def _publish(self, result: ResultJob) -> None:
        self.fair_share.published(result.session_id, time.perf_counter())
        self._on_result(result)

    def _ensure_pipeline(self, session: Session, size: tuple[int, int]) -> SessionPipeline:
        if session.pipeline is not None and session.pipeline_size == size:
            return session.pipeline
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
        session.recent_ids.clear()
        return pipeline

    def _process(self, session: Session, job: FrameJob) -> ResultJob:
        begun = self._begin(session, job)
        if isinstance(begun, ResultJob):
            return begun
        out = begun.pipeline(begun.rgb)
        return self._end(begun, out, time.perf_counter())

    def _begin(self, session: Session, job: FrameJob) -> _Begun | ResultJob:
        """Pipeline, prompt transition and input pixels for a frame (or the finished passthrough result)."""
        t0 = time.perf_counter()
        size = self._size_policy(job.layout)
        pipeline = self._ensure_pipeline(session, size)
        if session.transition is not None:
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
            view = pixel_view(job.payload, job.layout)  # (H, W, 3) strided view of the wire bytes
            out = pipeline(view)
            if out.image is view:
                t2 = time.perf_counter()
                # the client's own bytes: resend the wire frame that holds them (zero-copy) if there is one
                pixels = job.keep if job.keep is not None else np.frombuffer(job.payload, dtype=np.uint8)
                timings = {"queue_wait": t0 - job.received_at, "setup": t1 - t0, "decode": 0.0,
                           "inference": t2 - t1, "encode": 0.0}
                return result_job(session, job, job.layout, pixels, timings, out)
        rgb, alpha = to_pipeline(job.payload, job.layout, size)  # (h, w, 3) uint8, alpha (H, W)
        return _Begun(session, job, pipeline, rgb, alpha, (t0, t1, time.perf_counter()))

    def _end(self, begun: _Begun, out: PipelineResult, inferred_at: float) -> ResultJob:
        """Convert a pipeline output back to the client's layout; inferred_at: when the pipeline call ended."""
        job = begun.job
        client_layout = Layout.packed(job.layout.width, job.layout.height, job.layout.pixel_format,
                                      job.layout.row_order)
        pixels = from_pipeline(out.image, begun.alpha, client_layout)  # (H, W, bpp)
        t0, t1, t2 = begun.marks
        timings = {
            "queue_wait": t0 - job.received_at,
            "setup": t1 - t0,
            "decode": t2 - t1,
            "inference": inferred_at - t2,  # with a shared UNet batch: the whole shared call
            "encode": time.perf_counter() - inferred_at,
        }
        return result_job(begun.session, job, client_layout, pixels, timings, out)

    def _fail(self, session: Session, frame_id: int | None, exc: Exception) -> None:
        if not isinstance(exc, BridgeError):
            log.exception("session %d: pipeline failed on frame %s", session.session_id, frame_id)
        self._on_failure(WorkerFailure(session.identity, session.session_id, frame_id, exc))
