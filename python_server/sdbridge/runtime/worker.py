"""The worker thread: schedules the sessions' frames and pipeline updates; its device lane runs the model.

Each turn serves the session with work that was charged the least worker time so far (the fair share,
runtime.queues.FairShare; ties go round-robin): it applies the session's pending updates (large prompt
blends are encoded a slice per turn: runtime.updates), takes its latest frame, converts it to the
pipeline's RGB top-down input at the processing size (and uploads it to the model's device), and submits
the model call to the device lane (runtime.device_lane). While the lane runs that call, the worker thread
does the next frame's host work; a call's outputs are converted back to the client's layout (with the
alpha of the frame each output depicts: runtime.frame_book) once the lane reports it finished, in
submission order. The lane holds at most two calls (one running, one ready to start), so frames wait in
the latest-wins slots, not behind the device. The turn's host seconds and the call's device seconds are
charged to the sessions whose frames used them, so a session whose requests cost more (a long
t_index_list, prompt blends) gets proportionally fewer turns while others wait. Other waiting sessions at
most one quantum ahead, or whose frames cost no more than the first's, may share the turn's call (one
UNet and VAE batch: sdbridge.pipeline.shared_batch); its time is split between them by their UNet samples.
`pipelined=False` runs each call on the worker thread itself (serial). A factory that comes with the lane its
compiled model was warmed on (device_lane.WarmedFactory) has its lane adopted: the calls run on the thread that
recorded the warm-up's CUDA graphs. Finished results and errors leave through callbacks; the server sends them
from its I/O thread.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sdbridge.errors import BridgeError
from sdbridge.runtime.batch_window import BatchWindow
from sdbridge.runtime.control_inputs import ControlPlanes
from sdbridge.runtime.cuda_thread import bind_thread
from sdbridge.runtime.device_lane import DeviceLane, InlineLane, LaneJob, lane_for
from sdbridge.runtime.frame_work import Begun, FrameWork
from sdbridge.runtime.pipeline_api import (
    PipelineFactory,
    SessionPipeline,
    SizePolicy,
    WorkerFailure,
    frame_units,
    shares_unet_batch,
)
from sdbridge.runtime.queues import FairShare
from sdbridge.runtime.sessions import FrameJob, ResultJob, Session, SessionTable
from sdbridge.runtime.updates import UpdateApplier

__all__ = ["PipelineFactory", "Worker", "WorkerFailure"]

log = logging.getLogger(__name__)


class Worker:
    """Owns the worker thread (and its device lane). `start()` then `stop()`; `stop` joins the thread.

    `passthrough=True` (the identity model) hands the pipeline a zero-copy RGB view of the wire pixels;
    when the pipeline returns that very view unchanged, the client's own bytes go back as the result
    (same stride and row order) instead of being converted twice. `pipelined=False`: every model call runs
    on the worker thread, no overlap (the serial worker).
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
        pipelined: bool = True,
        controls: ControlPlanes | None = None,
        device: str | None = None,
    ) -> None:
        self._table = table
        self._device = device  # the model's device: the worker and lane threads make it their current CUDA device
        self._on_result = on_result
        self._on_failure = on_failure
        # wrap: e.g. the session recorder (sdbridge.record): sees every call of a session's pipeline
        # controls: a frame's planes -> its ControlNet images (runtime.control_inputs; default: no id map)
        self._frames = FrameWork(build_pipeline, size_policy, dict(default_prompt or {}), passthrough, wrap,
                                 self._settle, controls)
        # Run the frames of all sessions that have one pending, at the same size, as one UNet call
        # (sdbridge.pipeline.shared_batch). Wrapped (recorded) pipelines always run alone.
        self._share = share_unet_batch
        self._pipelined = pipelined
        self._build = build_pipeline  # a WarmedFactory hands the lane its model was warmed on to lane_for
        self._lane: DeviceLane | InlineLane = InlineLane()
        self._collected: list[ResultJob] = []  # finished while settling a session, not yet held by the loop
        self._updates = UpdateApplier(dict(default_prompt or {}), lambda session, exc: self._fail(session, None, exc))
        self.fair_share = FairShare()  # worker seconds charged per session id
        self._window = BatchWindow()  # how long a shared call's frames are waited for (runtime.batch_window)
        self._early: dict[int, FrameJob] = {}  # session id -> its frame, taken while the next call's were gathered
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = False

    def start(self) -> None:
        """Start the worker thread (and, when pipelined, its device lane)."""
        if self._thread is not None:
            return
        if self._pipelined:
            self._lane = lane_for(self._build, self._table.wake, self._device)
        self._thread = threading.Thread(target=self._run, name="sdbridge-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the thread to stop after the frames it has begun and join it; True when it ended."""
        self._stop.set()
        self._table.wake()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        ended = not self._thread.is_alive()
        return self._lane.close(timeout) and ended

    @property
    def idle(self) -> bool:
        """True while the thread waits and would take a new frame at once."""
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
        bind_thread(self._device)
        held: list[ResultJob] = []  # finished, published once their sessions' waiting frames have been taken
        while not self._stop.is_set():
            held = self._release(held + self._collect())  # results of sessions with no frame waiting go back now
            with self._table.work:
                chosen = self._choose() if self._lane.has_room else []
                if not chosen:
                    if self._lane.busy:  # a call runs: wait for it (or, with room, for a frame to begin)
                        self._wait_lane(idle=self._lane.has_room)
                        continue
                    if held:
                        self._publish_all(held)
                        held = []
                        continue
                    self._idle = True
                    self._table.work.wait(0.25)
                    self._idle = False
                    continue
            # partners join for their frames: a slice of a large blend of theirs waits for a turn of their own
            jobs = [(s, self._early.pop(s.session_id, None) or self._charged_take(s, slices=s is chosen[0]))
                    for s in chosen]
            held = self._release(held)
            self._submit([(s, job) for s, job in jobs if job is not None])
        while self._lane.busy:  # stopping: the calls already submitted finish and go back
            with self._table.work:
                self._wait_lane(idle=False)
            held += self._collect()
        self._publish_all(held + self._collect())

    def _wait_lane(self, idle: bool) -> None:
        """Wait (table lock held) until the lane's oldest call finished or a frame arrives."""
        if self._lane.ready:
            return
        self._idle = idle  # (a frame queued now is handed over at once: see hand_over)
        self._table.work.wait(self._lane.poll_s(0.25))
        self._idle = False

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
        if pause > 0 and self._lane.busy:  # its result is not back yet: its next frame follows that result
            return []  # (the worker waits for the lane; serving another session now would cost it a turn)
        if pause > 0:
            self._idle = True  # (a frame queued now is handed over at once: see hand_over)
            self._table.work.wait(pause)
            self._idle = False
            sessions = self._table.sessions()
        if self._share and self._lane.busy and not self._lane.ready:  # a call runs: gather the next one's frames
            sessions = self._await_partners(sessions)
        by_id = {s.session_id: s for s in sessions if s.has_work or s.session_id in self._early}
        ranked = self.fair_share.order(by_id)
        if not self._share or not ranked:
            return [by_id[k] for k in ranked[:1]]
        # a partner at most one quantum ahead, or whose frame costs no more than the first's (it cannot slow
        # that turn much): a costlier session far ahead would slow every turn of the others
        near = set(self.fair_share.partners(ranked))
        units = frame_units(by_id[ranked[0]].pipeline)
        return [by_id[ranked[0]], *(by_id[k] for k in ranked[1:]
                                   if k in near or frame_units(by_id[k].pipeline) <= units)]

    def _await_partners(self, sessions: list[Session]) -> list[Session]:
        """While a call runs, wait for the frames of the sessions that usually answer a result within the batch
        window (runtime.batch_window) until each has one, the call finishes or the window closes; returns the
        sessions then. Called with the table's lock held. A frame that arrives meanwhile is taken at once (the I/O
        thread hands it over: `_idle`), so a second frame of its session that follows it does not replace it."""
        window = self._window.seconds
        deadline = time.perf_counter() + window
        while window > 0 and not self._lane.ready and not self._stop.is_set():
            for s in sessions:
                if s.slot.pending and not len(s.updates) and s.session_id not in self._early:
                    job = self._charged_take(s, slices=False)  # (no update to apply: it never waits)
                    if job is not None:
                        self._early[s.session_id] = job
            now = time.perf_counter()
            idle = [s.session_id for s in sessions if not s.has_work and s.session_id not in self._early]
            if now >= deadline or not self.fair_share.answering(idle, window, now):
                break
            self._idle = True
            self._table.work.wait(deadline - now)  # a frame's arrival or the call's end notifies
            self._idle = False
            sessions = self._table.sessions()
        return sessions

    def _forget_gone(self) -> None:
        """Drop the records of sessions that are gone (once they outnumber the live ones)."""
        live = {s.session_id for s in self._table.sessions()}
        self._early = {k: job for k, job in self._early.items() if k in live}
        if len(self.fair_share) > 2 * len(live) + 8:
            self.fair_share.retain(live)
        self._frames.retain(live)

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
        """One turn for one session on the calling thread: apply its pending updates, process its latest frame,
        publish (the inline path; the worker thread is not running)."""
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
        `slices`), once its frames in the lane are finished (they keep the values they were submitted with)."""
        if len(session.updates):
            self._settle(session)
            self._updates.apply(session, slices)

    def _settle(self, session: Session) -> None:
        """Return once no call of `session`'s frames is in the lane (its results are collected, in order):
        then its pipeline may be changed or run on this thread."""
        while any(b.session is session for group in self._lane.tags() for b in group):
            with self._table.work:
                if not self._lane.ready:
                    self._table.work.wait(self._lane.poll_s(0.05))
            self._collected += self._collect_lane()

    def _run_job(self, session: Session, job: FrameJob) -> ResultJob | None:
        """Process one frame on this thread (its time charged to the session); a failure is reported at once
        and returns None."""
        start = time.perf_counter()
        try:
            begun = self._frames.begin(session, job)
            if isinstance(begun, Begun):
                called = time.perf_counter()
                out = self._frames.call([begun])[0]
                begun = self._frames.end(begun, out, time.perf_counter() - called)
        except Exception as exc:
            self._failed(session, job, exc)
            return None
        finally:
            self.fair_share.charge(session.session_id, time.perf_counter() - start)
        return self._account(session, begun)

    def _submit(self, jobs: list[tuple[Session, FrameJob]]) -> None:
        """Begin the frames (host work, charged to each) and submit their calls to the lane: those whose
        pipelines can share a batch as one call."""
        from sdbridge.pipeline.shared_batch import can_share

        groups: list[list[Begun]] = []
        for session, job in jobs:
            start = time.perf_counter()
            try:
                begun: Begun | ResultJob | None = self._frames.begin(session, job)
            except Exception as exc:
                self._failed(session, job, exc)
                begun = None
            self.fair_share.charge(session.session_id, time.perf_counter() - start)
            if isinstance(begun, ResultJob):
                self._collected.append(self._account(session, begun))
            elif begun is not None:
                pipe = begun.pipeline
                group = next((g for g in groups if len(jobs) > 1 and shares_unet_batch(pipe)
                              and shares_unet_batch(g[0].pipeline) and can_share(g[0].pipeline, pipe)),
                             None)  # type: ignore[arg-type]
                if group is None:
                    groups.append([begun])
                else:
                    group.append(begun)
        for group in groups:
            self._lane.submit(functools.partial(self._frames.call_and_download, group), group, group[0].cuda_device)

    def _collect(self) -> list[ResultJob]:
        """The results finished since the last collection, in submission order (never blocks)."""
        results, self._collected = self._collected, []
        return results + self._collect_lane()

    def _collect_lane(self) -> list[ResultJob]:
        results: list[ResultJob] = []
        for call in self._lane.finished():
            results += self._complete(call)
        return results

    def _complete(self, call: LaneJob) -> list[ResultJob]:
        """The results of a finished call: its device seconds split by frame_units, then each output converted
        (charged to its own session)."""
        group: list[Begun] = call.tag
        units = [frame_units(b.pipeline) for b in group]
        self._window.call_took(call.seconds)
        for b, share in zip(group, units, strict=True):
            self.fair_share.charge(b.session.session_id, call.seconds * share / sum(units))
        if call.error is not None:  # the model failed: every frame of this call gets the error
            for b in group:
                self._failed(b.session, b.job, call.error)
            return []
        results: list[ResultJob] = []
        for b, called in zip(group, call.value, strict=True):  # FrameWork.Called: output, source, download
            ended = time.perf_counter()
            try:
                results.append(self._account(b.session, self._frames.end(b, called.out, call.seconds, called)))
            except Exception as exc:
                self._failed(b.session, b.job, exc)
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

    def _fail(self, session: Session, frame_id: int | None, exc: Exception) -> None:
        if not isinstance(exc, BridgeError):
            log.error("session %d: pipeline failed on frame %s", session.session_id, frame_id, exc_info=exc)
        self._on_failure(WorkerFailure(session.identity, session.session_id, frame_id, exc))
