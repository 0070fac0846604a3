"""Everything that goes back to a client: encoding (guarded), Errors, Credits, Results (with the check that the
client still reads them) and worker failures; and the outbox that carries worker output to the I/O thread.

Only the I/O thread sends; the worker thread only appends to the outbox and wakes the I/O thread.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from sdbridge.errors import BridgeError, ProtocolError
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import ResultJob, Session, SessionTable
from sdbridge.runtime.worker import WorkerFailure
from sdbridge.serving.observers import ObserverSet
from sdbridge.serving.stats import ServerStats
from sdbridge.serving.wire_maps import RUNTIME_FORMATS, RUNTIME_ROWS
from sdbridge.transport.zmq_server import RouterTransport

log = logging.getLogger(__name__)

#: Closes a session (removes it from the table, tells the observers) and logs why.
CloseSession = Callable[[Session, str], None]


class Outbound:
    """Sends to clients over the ROUTER transport (set once the server has bound it)."""

    def __init__(self, table: SessionTable, stats: ServerStats, send_hwm: int) -> None:
        self.table = table
        self.stats = stats
        self.send_hwm = send_hwm
        self.transport: RouterTransport | None = None
        self.observers: ObserverSet | None = None  # told of each Result sent
        self.close_session: CloseSession = lambda session, why: None
        self.wake: Callable[[], None] | None = None  # wakes the I/O thread (None: output is already on it)
        self.answered: Callable[[Session], None] | None = None  # after a frame's answer (txt2img: the next request)
        self._outbox: deque[ResultJob | WorkerFailure] = deque()

    # ------------------------------------------------------------------ sending

    def send(self, identity: bytes, message: m.Message, payload: object | None = None) -> bool:
        """Encode and send one message to one peer; False when it was not sent. Never raises on encoding:
        a message that cannot be encoded (a bug of ours: values are checked where they enter) is logged once
        and replaced by an INTERNAL Error to that peer."""
        assert self.transport is not None
        try:
            data = codec.encode(message)
        except Exception as exc:
            self.stats.internal_errors += 1
            log.error("cannot encode a %s for peer %r: %s", type(message).__name__, identity, exc, exc_info=True)
            if not isinstance(message, m.ErrorMsg):
                self.send(identity, m.ErrorMsg(
                    code=m.ErrorCode.INTERNAL, field=type(message).__name__,
                    message=f"internal server error: a {type(message).__name__} for this session could not be "
                            f"encoded ({type(exc).__name__}: {exc}); the session stays up, please report this "
                            f"with the server log"))
            return False
        return self.transport.send(identity, data, payload)

    def error(self, identity: bytes, code: m.ErrorCode, message: str, field_name: str = "",
              frame_id: int | None = None, session_closed: bool = False) -> None:
        """Send an Error (counted server-wide and for the peer's session)."""
        self.stats.count(code)
        session = self.table.get(identity)
        if session is not None:
            session.stats.messages_rejected += 1
        log.debug("error %s to %r: %s", code.name, identity, message)
        self.send(identity, m.ErrorMsg(code=code, message=message, field=field_name, frame_id=frame_id,
                                       session_closed=session_closed))

    def internal(self, session: Session | None, identity: bytes, what: str, exc: BaseException,
                 close: bool = False) -> None:
        """Something of ours raised while working for one session: log it once, tell that session (Error
        INTERNAL naming `what`), and close the session when it cannot go on. Never raises."""
        self.stats.internal_errors += 1
        log.error("internal error while %s for %r", what, identity, exc_info=exc)
        after = "the session is closed, send Hello again" if close else "the session stays up"
        try:
            self.error(identity, m.ErrorCode.INTERNAL,
                       f"internal server error while {what} ({type(exc).__name__}: {exc}); {after}; please "
                       f"report this with the server log", session_closed=close)
            if close and session is not None and not session.closed:
                self.close_session(session, f"internal error while {what}")
        except Exception:  # reporting failed too: the log line above is all we can do
            log.exception("could not report an internal error to %r", identity)

    def give_credit(self, session: Session, granted: int) -> None:
        """Send a Credit (one that meets a full send queue waits in the peer's backlog: never lost, or the
        client would wait for it forever)."""
        self.send(session.identity, m.Credit(granted=granted))

    def announce_shutdown(self) -> None:
        """Bye to every session, then flush what waited for room as far as it goes now."""
        if self.transport is None:
            return
        for session in self.table.sessions():
            self.send(session.identity, m.Bye(reason="server shutting down"))
        self.transport.flush()

    # ------------------------------------------------------------------ worker output

    def on_worker_output(self, item: ResultJob | WorkerFailure) -> None:
        """Worker thread: queue a result or failure and wake the I/O thread (inline: already on it)."""
        self._outbox.append(item)
        if self.wake is not None:
            self.wake()

    def flush_outbox(self) -> None:
        """I/O thread: deliver what the worker finished, each to its own live session."""
        while self._outbox:
            item = self._outbox.popleft()
            session = self.table.get(item.identity)
            if session is None or session.session_id != item.session_id:
                continue  # the session ended meanwhile: its output goes to nobody
            if item.frame_id is not None:  # a processed (or failed) frame frees its credit
                session.credit_returned()
            self.deliver(session, item)
            if item.frame_id is not None and self.answered is not None and not session.closed:
                self.answered(session)

    def deliver(self, session: Session, item: ResultJob | WorkerFailure) -> None:
        """Send a result or a worker failure to its session. Never raises: a failure of ours is reported to
        that session (with the frame's credit, which its Result would have returned) and logged once."""
        try:
            if isinstance(item, WorkerFailure):
                self.send_failure(session, item)
            else:
                self.send_result(session, item)
        except Exception as exc:  # a bug of ours must not stop the I/O loop
            what = f"sending the result of frame {item.frame_id}" if item.frame_id is not None else \
                "reporting a failed Prompt/Params update"
            self.internal(session, session.identity, what, exc)
            if item.frame_id is not None and not session.closed:
                self.give_credit(session, 1)

    def send_result(self, session: Session, result: ResultJob) -> None:
        """Send one Result (header + pixels); free a session that does not read its Results."""
        layout = result.layout
        header = m.ResultHeader(
            frame_id=result.frame_id,
            width=layout.width,
            height=layout.height,
            stride=layout.stride,
            pixel_format=RUNTIME_FORMATS[layout.pixel_format],
            row_order=RUNTIME_ROWS[layout.row_order],
            session_id=session.session_id,
            stream_id=result.stream,
            capture_time_us=result.client_timestamp_us,
            send_time_us=result.client_send_us,
            queue_wait_us=int(result.timings["queue_wait"] * 1e6),
            inference_us=int(result.timings["inference"] * 1e6),
            encode_us=int((result.timings["decode"] + result.timings["encode"]) * 1e6),
            is_warmup=result.is_warmup,
            skipped=result.skipped,
            source_frame_id=result.source_frame_id,
            credits_granted=1,
        )
        transport = self.transport
        assert transport is not None
        dropped_before = transport.stats.send_dropped_hwm
        sent = self.send(session.identity, header, result.pixels)
        if transport.backlog_payloads(session.identity) > session.credits or (
                not sent and transport.stats.send_dropped_hwm > dropped_before):
            # A Result waits in the backlog only behind a full send queue (ServerConfig.send_hwm, from credits
            # and limits.max_queued_results); an honest client has at most `credits` Results outstanding, so
            # more waiting means it does not read. Free its session so it costs no more pipeline work, and drop
            # what waits for it: it pins at most send_hwm messages (its queue) plus `credits` Results.
            self.stats.sessions_not_reading += 1
            transport.drop_backlog(session.identity)
            self.close_session(session, f"not reading its results (send queue full at {self.send_hwm} "
                                        f"messages, from session.credits and limits.max_queued_results, and "
                                        f"more than credits={session.credits} Results waiting behind it)")
            return
        if self.observers is not None:
            self.observers.result_sent(session, result)
        session.last_seen = time.monotonic()  # the heartbeat timeout counts from the last result too
        session.result_sent(result.timings["inference"], result.skipped,
                            time.perf_counter() - result.received_at)  # receive -> sent, all included

    def send_failure(self, session: Session, failure: WorkerFailure) -> None:
        """Report a frame or update the worker could not process (the frame's credit goes back)."""
        exc = failure.error
        if isinstance(exc, ProtocolError):
            code = m.ErrorCode(exc.code)
        elif isinstance(exc, BridgeError | ValueError):
            code = m.ErrorCode.BAD_PARAM
        else:
            code = m.ErrorCode.INTERNAL
        what = f"frame {failure.frame_id}" if failure.frame_id is not None else "a Prompt/Params update"
        self.error(session.identity, code, f"{what} failed: {type(exc).__name__}: {exc}",
                   frame_id=failure.frame_id)
        if failure.frame_id is not None:
            self.give_credit(session, 1)
