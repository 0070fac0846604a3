"""txt2img sessions: frames generated from the session's prompt alone, paced by the client's credits.

A client turns it on with `Params.txt2img = true` (protocol 1.2; the server offers the Txt2img capability). The
value also reaches the session's pipeline (`StreamConfig.txt2img`: a call ignores its input image and generates
from the prompt), in order with the other Prompt/Params updates. Then:

- the client asks for frames with `Credit{granted: n}` (client -> server): each spends one of its credits, like a
  Frame, and is answered by one Result, which returns the credit. More than the free credits (`credits` minus the
  frames and requests in flight) is refused whole with NO_CREDIT naming `Credit.granted`;
- the worker gets one placeholder frame per request (an opaque black RGBA8 frame at the model's size: the
  pipeline does not look at it), at most one waiting at a time: the next is handed over when the previous
  request's Result (or failure) went back, so requests never replace each other in the latest-wins slot;
- a generated Result has the model's size (Welcome.model width x height), RGBA8, top-down, and a frame id the
  server counts per session (1, 2, 3, ...); `source_frame_id` names the generated frame it shows (Stream Batch
  latency and warm-up flags as for img2img);
- a request counts as a Frame for `limits.idle_session_s` (a txt2img session that asks for frames is not idle);
- Frames are refused while txt2img is on (BAD_PARAM on `Frame`, the frame's credit comes back): a session either
  streams its own frames or generated ones, never both at once;
- `Params.txt2img = false` ends it: requests not yet handed to the worker are dropped and their credits come
  back in one Credit; a request already with the worker still gets its Result.

A Credit from a client whose session is not in txt2img mode is refused (BAD_PARAM on `Credit`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from sdbridge.errors import FieldError
from sdbridge.protocol import messages as m
from sdbridge.runtime.pixels import Layout, PixelFormat, RowOrder
from sdbridge.runtime.sessions import FrameJob, Session, SessionTable
from sdbridge.serving.outbound import Outbound


class Txt2ImgError(FieldError):
    """A refused txt2img request, or a Frame sent while txt2img is on."""


def frame_refused(session: Session, frame_id: int) -> Txt2ImgError:
    """The refusal of a Frame sent while the session is in txt2img mode."""
    return Txt2ImgError(m.ErrorCode.BAD_PARAM, "Frame",
                        f"Frame {frame_id} refused: session {session.session_id} is in txt2img mode "
                        f"(Params.txt2img=true), which generates frames from the prompt alone; ask for them with "
                        f"Credit messages, or send Params with txt2img=false before sending frames again")


class Txt2ImgRequests:
    """Turns txt2img on and off for sessions, takes their Credit requests and feeds the worker (I/O thread only)."""

    def __init__(self, table: SessionTable, outbound: Outbound, model_size: Callable[[], tuple[int, int]]) -> None:
        self.table = table
        self.outbound = outbound
        self.model_size = model_size  # the (width, height) of generated frames
        # answers a request at once on this thread when the model runs inline (passthrough); False: it does not
        self.run_inline: Callable[[Session, FrameJob], bool] | None = None
        self._placeholders: dict[tuple[int, int], bytes] = {}

    def switch(self, session: Session, on: bool) -> None:
        """Params.txt2img arrived (already queued for the pipeline): on, or off with unstarted requests dropped."""
        session.txt2img = on
        if on:
            return
        dropped, session.txt2img_owed = session.txt2img_owed, 0
        waiting = session.slot.take()
        if waiting is not None and not self.is_placeholder(waiting):
            session.slot.put(waiting)  # a Frame sent before txt2img went on: it goes ahead
        elif waiting is not None:
            dropped += 1
        for _ in range(dropped):
            session.credit_returned()
        if dropped:
            self.outbound.give_credit(session, dropped)

    def on_credit(self, session: Session, credit: m.Credit) -> None:
        """A client's request for `credit.granted` generated Results (refused whole when it cannot be served)."""
        if not session.txt2img:
            raise Txt2ImgError(m.ErrorCode.BAD_PARAM, "Credit",
                               f"Credit(granted={credit.granted}) from a client asks for generated frames, but "
                               f"session {session.session_id} is not in txt2img mode; send Params with "
                               f"txt2img=true first (the server offers the Txt2img capability), or send Frames")
        free = session.credits - session.in_flight
        if credit.granted < 1 or credit.granted > free:
            raise Txt2ImgError(m.ErrorCode.NO_CREDIT if credit.granted else m.ErrorCode.BAD_PARAM, "Credit.granted",
                               f"Credit.granted={credit.granted} with {session.in_flight} frames in flight and "
                               f"credits={session.credits}: ask for 1 to {free} generated frames (one per credit "
                               f"you hold; each Result returns one)")
        session.last_frame_at = time.monotonic()  # limits.idle_session_s: asking for frames is not being idle
        for _ in range(credit.granted):
            session.frame_taken()
        session.txt2img_owed += credit.granted
        self.feed(session)

    def feed(self, session: Session) -> None:
        """Hand the worker the session's next request when none waits (after a request, and after each answer)."""
        while session.txt2img_owed > 0 and not session.closed and not session.slot.pending:
            session.txt2img_owed -= 1
            job = self._job(session)
            if self.run_inline is not None and self.run_inline(session, job):
                continue  # answered at once (the passthrough model): the loop hands over the next request
            self.table.submit_frame(session, job)

    def is_placeholder(self, job: FrameJob) -> bool:
        """True for a request's placeholder frame (its pixels are one of ours, not a client's)."""
        owner = job.payload.obj if isinstance(job.payload, memoryview) else job.payload
        return any(owner is pixels for pixels in self._placeholders.values())

    def _job(self, session: Session) -> FrameJob:
        session.txt2img_frame_id += 1
        width, height = self.model_size()
        layout = Layout.packed(width, height, PixelFormat.RGBA8, RowOrder.TOP_DOWN)
        pixels = self._placeholders.get((width, height))
        if pixels is None:
            frame = np.zeros((height, width, 4), dtype=np.uint8)
            frame[..., 3] = 255  # opaque: the client's alpha goes back into the Result
            pixels = self._placeholders.setdefault((width, height), frame.tobytes())
        return FrameJob(session.txt2img_frame_id, 0, layout, memoryview(pixels), time.perf_counter(), taken=None)
