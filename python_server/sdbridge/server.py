"""The composition root: model, sessions, worker and ROUTER transport; owns startup and shutdown.

The model is loaded once by sdbridge.served_model; every session gets its own pipeline over it.

Threads: the caller's thread runs the I/O loop (`run`), the only user of the ROUTER socket; one worker
thread (sdbridge.runtime.worker) runs every pipeline. Frames go I/O -> session slot -> worker; results
go worker -> outbox -> waker -> I/O -> the session's own routing identity, never anyone else's.

Every message is checked before anything is allocated for it: part count, part size against
limits.max_message_bytes, the FlatBuffers verifier (in the codec), then header fields against the
limits. A bad message gets an Error naming the field and the limit; the session and the server stay up.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from sdbridge import __version__
from sdbridge.config import ProcessingSize, ServerConfig
from sdbridge.errors import BridgeError, ProtocolError
from sdbridge.protocol import codec, handshake
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR
from sdbridge.runtime import budgets
from sdbridge.runtime.pixels import Layout, PixelFormat, RowOrder
from sdbridge.runtime.sessions import (
    ClientInfo,
    FrameJob,
    PipelineUpdate,
    ResultJob,
    Session,
    SessionLimitError,
    SessionTable,
)
from sdbridge.runtime.worker import PipelineFactory, Worker, WorkerFailure
from sdbridge.served_model import ModelDescription, load_model
from sdbridge.transport import curve
from sdbridge.transport.zmq_server import RouterTransport, Waker

log = logging.getLogger(__name__)

_WIRE_FORMATS: dict[m.PixelFormat, PixelFormat] = {
    m.PixelFormat.RGBA8: PixelFormat.RGBA8,
    m.PixelFormat.BGRA8: PixelFormat.BGRA8,
    m.PixelFormat.RGB8: PixelFormat.RGB8,
}
_WIRE_ROWS: dict[m.RowOrder, RowOrder] = {
    m.RowOrder.TOP_DOWN: RowOrder.TOP_DOWN,
    m.RowOrder.BOTTOM_UP: RowOrder.BOTTOM_UP,
}
_RUNTIME_FORMATS = {v: k for k, v in _WIRE_FORMATS.items()}
_RUNTIME_ROWS = {v: k for k, v in _WIRE_ROWS.items()}

#: What this server implements (Welcome.capabilities is the intersection with the client's).
SERVER_CAPABILITIES = (m.Capability.CREDITS | m.Capability.STATS | m.Capability.HEARTBEAT
                       | m.Capability.PROMPT_BLEND | m.Capability.SEED_BLEND
                       | m.Capability.NOTICES)  # Notice: preview page changes and the page address


@dataclass
class ServerStats:
    """Server-wide counters (per-session ones live in Session.stats)."""

    rejected: dict[str, int] = field(default_factory=dict)  # ErrorCode name -> count
    rejected_total: int = 0  # sum of `rejected`
    accepted: int = 0  # messages handled without an Error (accepted + rejected_total = messages handled)
    sessions_opened: int = 0
    sessions_expired: int = 0
    sessions_not_reading: int = 0  # closed because their send queue hit ServerConfig.send_hwm (results unread)
    sessions_idle: int = 0  # freed after limits.idle_session_s without a Frame
    internal_errors: int = 0  # exceptions of ours caught around one session's work (each logged once)

    def count(self, code: m.ErrorCode) -> None:
        """Count one refused message."""
        self.rejected[code.name] = self.rejected.get(code.name, 0) + 1
        self.rejected_total += 1


@dataclass
class _SessionExtra:
    """I/O-thread bookkeeping of a session."""

    in_flight: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=512))  # seconds
    inference: deque[float] = field(default_factory=lambda: deque(maxlen=512))
    skipped: int = 0
    frames_out: int = 0
    event_tokens: float = -1.0  # GameEvent/State rate limit (token bucket; -1 = full, not yet used)
    event_time: float = 0.0


#: Limits for telling which message a refused part was (is it a Frame, that spent a credit?): the size
#: checks that refused it must not hide that it was a Frame.
_PEEK_LIMITS = codec.DecodeLimits(max_width=budgets.U32_MAX, max_height=budgets.U32_MAX,
                                  max_message_bytes=2**62)
_IMAGE_HEADER_ERRORS = {m.ErrorCode.BAD_DIMENSION, m.ErrorCode.TOO_LARGE, m.ErrorCode.BAD_PIXEL_SIZE,
                        m.ErrorCode.UNSUPPORTED_PIXEL_FORMAT, m.ErrorCode.BAD_PARAM}  # codec.validate_image_header


def _percentile_us(values: deque[float], q: float) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return int(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1e6)


class BridgeServer:
    """The sdbridge server. `start()` binds and starts the worker; `run()` serves until told to stop.

    For tests and embedding: `start_in_thread()` runs the I/O loop in a background thread and
    `close()` stops everything (worker joined, sockets closed with linger 0).
    """

    def __init__(
        self,
        config: ServerConfig,
        pipeline_factory: PipelineFactory | None = None,
        model: ModelDescription | None = None,
        context: zmq.Context | None = None,
        rules_path: str | None = None,
        record_dir: str | None = None,
    ) -> None:
        """`rules_path`: a game-event rules file (docs/rules.md), reloaded when it changes. `record_dir`: record
        every session there (sdbridge.record; replay with `sdbridge replay`)."""
        self.config = config
        self._rules_path, self._record_dir = rules_path, record_dir
        self.rules: Any = None  # sdbridge.events.host.RulesHost with --rules
        self.recorder: Any = None  # sdbridge.record.recorder.Recorder with --record
        self._factory = pipeline_factory
        self.model = model
        self._ctx = context or zmq.Context.instance()
        self.table = SessionTable(config.limits.max_sessions)
        self.stats = ServerStats()
        self._extra: dict[int, _SessionExtra] = {}
        self._outbox: deque[ResultJob | WorkerFailure] = deque()
        self._stop = threading.Event()
        self._transport: RouterTransport | None = None
        self._waker: Waker | None = None
        self._worker: Worker | None = None
        self._inline = False  # True: the worker's turns run on the I/O thread (identity model)
        self._io_thread: threading.Thread | None = None
        self._started_at = time.monotonic()
        # preview page (sdbridge.preview): frame taps read by its thread, control inbox applied by the I/O loop
        self.taps: Any = None  # FrameTaps when the preview is enabled
        self.preview: Any = None  # PreviewServer when the preview is enabled
        self.preview_url = ""
        self._controls: deque[tuple[int, m.Message, str, concurrent.futures.Future[None]]] = deque()
        self._rules_poll_failing = False  # the rules file check raised (logged once until it works again)
        self._authorizer: curve.Authorizer | None = None
        self._own_context: zmq.Context | None = None
        self.endpoint = ""
        self.fatal_error: BaseException | None = None  # e.g. a failed background engine build: the server stops
        lim = config.limits
        self._limits = codec.DecodeLimits(max_width=lim.max_width, max_height=lim.max_height,
                                          max_message_bytes=lim.max_message_bytes,
                                          max_text_chars=lim.max_text_chars)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Load the model (unless given), bind the ROUTER, start the worker. Returns the bound endpoint.

        Refuses (ConfigError) a non-loopback bind without CurveZMQ keys unless security.insecure.
        """
        sec = self.config.security
        keys = curve.load_server_keys(sec.server_secret_key, sec.authorized_keys) if sec.server_secret_key else None
        curve.check_bind(self.config.bind, keys is not None, sec.insecure)
        if self._rules_path:  # a bad rules file stops the start, before the model loads
            from sdbridge.events.host import RulesHost

            p = self.config.pipeline
            self.rules = RulesHost(self._rules_path, {
                "guidance_scale": p.guidance_scale, "delta": p.delta, "seed": p.seed,
                "t_index_list": tuple(p.t_index_list), "similarity_filter": p.similarity_filter,
                "similarity_threshold": p.similarity_threshold, "max_skip_frames": p.max_skip_frames})
        if self._record_dir:  # an unusable record folder stops the start, before the model loads
            from sdbridge.record.format import RecordLimits
            from sdbridge.record.recorder import Recorder

            mc = self.config.model
            self.recorder = Recorder(self._record_dir, {"name": mc.name, "device": mc.device,
                                                        "dtype": mc.resolved_dtype()[0].value, "width": mc.width,
                                                        "height": mc.height},
                                     RecordLimits.from_config(self.config.limits))
        if self._factory is None or self.model is None:
            self._factory, self.model = load_model(self.config, on_fatal=self._on_fatal)
        lim = self.config.limits
        if keys is not None:  # ZAP is per context: this server's allow-list gets a context of its own
            self._own_context = zmq.Context()
            self._ctx = self._own_context
            self._authorizer = curve.Authorizer(self._ctx, keys)
        self._transport = RouterTransport(self.config.bind, lim.max_message_bytes,
                                          self.config.send_hwm, self.config.session.recv_hwm,
                                          self._ctx, curve=keys)
        self._waker = Waker(self._ctx)
        p = self.config.pipeline
        self._worker = Worker(self.table, self._factory, self._size_policy, self._on_worker_output,
                              self._on_worker_output,
                              default_prompt={"prompt": p.prompt, "negative_prompt": p.negative_prompt},
                              passthrough=self.model.family is m.ModelFamily.IDENTITY,
                              share_unet_batch=self.config.model.share_unet_batch,
                              wrap=(lambda session, pipe: self.recorder.wrap(session.session_id, pipe))
                              if self.recorder is not None else None)
        # The identity model costs nothing: its frames are answered on the I/O thread (no worker thread).
        self._inline = self.model.family is m.ModelFamily.IDENTITY and self.config.model.identity_inline
        if not self._inline:
            self._worker.start()
        self.endpoint = self._transport.endpoint
        if self.config.preview.enabled:
            self._start_preview()
        log.info("serving %s on %s (max %d sessions, %d credits)", self.model.name, self.endpoint,
                 lim.max_sessions, self.config.session.credits)
        return self.endpoint

    def stop(self) -> None:
        """Ask `run` to return (thread-safe, signal-safe)."""
        self._stop.set()
        if self._waker is not None:
            self._waker.notify()

    def run(self, should_stop: Callable[[], bool] | None = None) -> None:
        """Serve until `stop()` is called (or `should_stop()` returns True). Call after `start()`."""
        assert self._transport is not None and self._waker is not None, "call start() first"
        poller = zmq.Poller()
        poller.register(self._transport.socket, zmq.POLLIN)
        poller.register(self._waker.socket, zmq.POLLIN)
        next_expiry = time.monotonic()
        try:
            while not self._stop.is_set() and not (should_stop is not None and should_stop()):
                events = dict(poller.poll(100))
                # Input first, then results: a frame already waiting in the socket reaches its slot
                # (and the worker) before the result that lets the client send the next one goes out.
                if self._transport.socket in events:
                    for _ in range(64):  # bounded batch so results are not starved by input
                        received = self._transport.recv()
                        if received is None:
                            break
                        self._handle(*received)
                        if not self._transport.readable():
                            break
                if self._waker.socket in events:
                    self._waker.drain()
                if self._controls:
                    self._run_controls()
                if self._transport.backlogged:  # messages that met a full send queue, in order, first
                    self._transport.flush()
                self._flush_outbox()
                now = time.monotonic()
                if now >= next_expiry:
                    self._expire(now)
                    next_expiry = now + 0.2
                if self.rules is not None:
                    self._rules_tick(now)
        finally:
            self._announce_shutdown()

    def _on_fatal(self, exc: BaseException) -> None:
        """Something the server cannot serve without failed in another thread: record it and stop."""
        self.fatal_error = exc
        self.stop()

    def start_in_thread(self) -> str:
        """`start()` then `run()` in a background thread. Returns the endpoint."""
        endpoint = self.start()
        self._io_thread = threading.Thread(target=self.run, name="sdbridge-io", daemon=True)
        self._io_thread.start()
        return endpoint

    def close(self) -> None:
        """Stop serving, join the worker and the I/O thread, close sockets (linger 0). Idempotent."""
        if self.preview is not None:
            self.preview.close()
            self.preview = None
        self.stop()
        if self._io_thread is not None:
            self._io_thread.join(10)
            self._io_thread = None
        if self._worker is not None:
            if not self._worker.stop(timeout=30):
                log.warning("worker thread did not stop within 30 s (a pipeline call is still running)")
            self._worker = None
        if self.recorder is not None:
            self.recorder.close_all()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._waker is not None:
            self._waker.close()
            self._waker = None
        if self._authorizer is not None:
            self._authorizer.stop()
            self._authorizer = None
        if self._own_context is not None:
            self._own_context.term()
            self._own_context = None

    def __enter__(self) -> BridgeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def transport(self) -> RouterTransport:
        """The ROUTER transport (after start)."""
        assert self._transport is not None
        return self._transport

    # ------------------------------------------------------------------ helpers

    def _size_policy(self, layout: Layout) -> tuple[int, int]:
        if self.config.model.processing_size is ProcessingSize.CLIENT or (
            self.model is not None and self.model.family is m.ModelFamily.IDENTITY
        ):
            return layout.width, layout.height
        return self.config.model.width, self.config.model.height

    def _send(self, identity: bytes, message: m.Message, payload: object | None = None) -> bool:
        """Encode and send one message to one peer; False when it was not sent. Never raises on encoding:
        a message that cannot be encoded (a bug of ours: values are checked where they enter) is logged once
        and replaced by an INTERNAL Error to that peer."""
        assert self._transport is not None
        try:
            data = codec.encode(message)
        except Exception as exc:
            self.stats.internal_errors += 1
            log.error("cannot encode a %s for peer %r: %s", type(message).__name__, identity, exc, exc_info=True)
            if not isinstance(message, m.ErrorMsg):
                self._send(identity, m.ErrorMsg(
                    code=m.ErrorCode.INTERNAL, field=type(message).__name__,
                    message=f"internal server error: a {type(message).__name__} for this session could not be "
                            f"encoded ({type(exc).__name__}: {exc}); the session stays up, please report this "
                            f"with the server log"))
            return False
        return self._transport.send(identity, data, payload)

    def _internal(self, session: Session | None, identity: bytes, what: str, exc: BaseException,
                  close: bool = False) -> None:
        """Something of ours raised while working for one session: log it once, tell that session (Error
        INTERNAL naming `what`), and close the session when it cannot go on. Never raises."""
        self.stats.internal_errors += 1
        log.error("internal error while %s for %r", what, identity, exc_info=exc)
        after = "the session is closed, send Hello again" if close else "the session stays up"
        try:
            self._error(identity, m.ErrorCode.INTERNAL,
                        f"internal server error while {what} ({type(exc).__name__}: {exc}); {after}; please "
                        f"report this with the server log", session_closed=close)
            if close and session is not None and not session.closed:
                self._close_session(session, f"internal error while {what}")
        except Exception:  # reporting failed too: the log line above is all we can do
            log.exception("could not report an internal error to %r", identity)

    def _error(self, identity: bytes, code: m.ErrorCode, message: str, field_name: str = "",
               frame_id: int | None = None, session_closed: bool = False) -> None:
        self.stats.count(code)
        session = self.table.get(identity)
        if session is not None:
            session.stats.messages_rejected += 1
        log.debug("error %s to %r: %s", code.name, identity, message)
        self._send(identity, m.ErrorMsg(code=code, message=message, field=field_name, frame_id=frame_id,
                                        session_closed=session_closed))

    def _extra_of(self, session: Session) -> _SessionExtra:
        extra = self._extra.get(session.session_id)
        if extra is None:  # (not setdefault: that would build a _SessionExtra on every call)
            extra = self._extra[session.session_id] = _SessionExtra()
        return extra

    # ------------------------------------------------------------------ inbound

    def _handle(self, identity: bytes, parts: list[zmq.Frame]) -> None:
        session = self.table.get(identity)
        if session is not None:
            session.last_seen = time.monotonic()  # any message is a heartbeat
        rejected_before = self.stats.rejected_total
        message: m.Message | None = None
        try:
            message, pixels = codec.decode_multipart(parts, self._limits)  # Frames export their bytes
            self._dispatch(identity, session, message, pixels, parts)
            if self.stats.rejected_total == rejected_before:
                self.stats.accepted += 1
        except ProtocolError as exc:
            code = m.ErrorCode(exc.code)
            was_frame, frame_id = self._refused_frame(parts)  # only on this error path: which frame was refused?
            field_name = getattr(exc, "field_name", "")
            self._error(identity, code, str(exc), field_name, frame_id)
            # a refused Frame gives its credit back (the client spent one to send it); nothing else does
            if session is not None and not session.closed and code is not m.ErrorCode.NO_CREDIT and was_frame:
                self._give_credit(session, 1)
        except BridgeError as exc:
            self._error(identity, m.ErrorCode.BAD_PARAM, str(exc))
        except Exception as exc:  # a bug of ours: report it, keep the session and the server up
            self._internal(session, identity, f"handling a {type(message).__name__ if message else 'message'}", exc)

    def _refused_frame(self, parts: list[zmq.Frame]) -> tuple[bool, int | None]:
        """Was a refused message a Frame (which spent a credit), and its frame id when readable.

        Decoded without the size limits (they may be what refused it); a two-part message whose header
        fails only the image-header checks (only Frame and Result have one) was a Frame too.
        """
        if not parts:
            return False, None
        try:
            header = codec.decode(parts[0].buffer, _PEEK_LIMITS)
        except ProtocolError as exc:
            return len(parts) == 2 and exc.code in _IMAGE_HEADER_ERRORS, None
        if isinstance(header, m.FrameHeader):
            return True, header.frame_id
        return False, None

    def _give_credit(self, session: Session, granted: int) -> None:
        """Send a Credit (one that meets a full send queue waits in the peer's backlog: never lost, or the
        client would wait for it forever)."""
        self._send(session.identity, m.Credit(granted=granted))

    def _dispatch(self, identity: bytes, session: Session | None, message: m.Message,
                  pixels: memoryview | None, parts: list[zmq.Frame]) -> None:
        if isinstance(message, m.Hello):
            self._on_hello(identity, session, message)
            return
        if session is None:
            self._error(identity, m.ErrorCode.NOT_HELLO,
                        f"no session for this connection: the first message must be Hello, got "
                        f"{type(message).__name__}; send Hello (or reconnect if the session expired)",
                        "Envelope.body")
            return
        if isinstance(message, m.FrameHeader):
            assert pixels is not None  # decode_multipart guarantees the pixel part of a Frame
            self._on_frame(session, message, pixels, parts[1])
            return
        if isinstance(message, m.Prompt):
            self._on_prompt(session, message)
        elif isinstance(message, m.Params):
            self._on_params(session, message)
        elif isinstance(message, m.GameEvent):
            self._check_event_rate(session, "GameEvent")
            self._check_text("GameEvent.name", message.name)
            lim = self.config.limits
            session.add_event(message.name, dict(message.payload), lim.max_event_payload_bytes,
                              lim.max_recent_events)
            session.stats.events_received += 1
            if self.rules is not None:
                self._rules_apply(session, self.rules.event(session.session_id, message.name, dict(message.payload),
                                                            time.monotonic(), session.stats.frames_received),
                                  "GameEvent.payload")
        elif isinstance(message, m.State):
            self._check_event_rate(session, "State")
            for key, _value in message.entries:
                self._check_text("State.entries.key", key)
            session.merge_state(message.entries, message.replace_all, self.config.limits.max_state_bytes)
            if self.rules is not None:
                self._rules_apply(session, self.rules.state(session.session_id, dict(message.entries),
                                                            message.replace_all), "State.entries")
        elif isinstance(message, m.StatsRequest):
            self._send(identity, self._stats_of(session, message.request_id))
        elif isinstance(message, m.Ping):
            self._send(identity, m.Pong(nonce=message.nonce, client_time_us=message.client_time_us,
                                        server_time_us=int(time.time() * 1e6)))
        elif isinstance(message, m.Bye):
            self._close_session(session, f"bye ({message.reason or 'no reason'})")
        else:
            raise ProtocolError(m.ErrorCode.UNKNOWN_TYPE,
                                f"the server does not accept {type(message).__name__} from clients; "
                                f"clients send Hello, Frame, Prompt, Params, GameEvent, State, StatsRequest, "
                                f"Ping or Bye")
        if self.recorder is not None:  # after handling: a refused message raised above and is not recorded
            self._record_input(session, message)

    def _on_hello(self, identity: bytes, session: Session | None, hello: m.Hello) -> None:
        if session is not None:
            self._error(identity, m.ErrorCode.ALREADY_CONNECTED,
                        f"this connection already has session {session.session_id}; send Bye before a new "
                        f"Hello, or use a new socket", "Hello")
            return
        decision = handshake.check_hello(hello, server_capabilities=SERVER_CAPABILITIES,
                                         server_pixel_formats=tuple(_WIRE_FORMATS))
        if not decision.accepted:
            assert decision.error is not None
            self.stats.count(decision.error.code)
            self._send(identity, decision.error)
            return
        if not hello.capabilities & m.Capability.CREDITS:
            self._error(identity, m.ErrorCode.BAD_PARAM, _no_credits(hello), "Hello.capabilities", session_closed=True)
            return
        if decision.warning:
            log.warning("client %r: %s", hello.client_name, decision.warning)
        try:
            session = self.table.open(identity, ClientInfo(hello.client_name, hello.client_version,
                                                           hello.engine_name, hello.protocol_major,
                                                           hello.protocol_minor),
                                      credits=self.config.session.credits)
        except SessionLimitError as exc:
            self._error(identity, m.ErrorCode.SESSION_LIMIT, str(exc), "limits.max_sessions",
                        session_closed=True)
            return
        self.stats.sessions_opened += 1
        self._extra[session.session_id] = _SessionExtra()
        self._on_session_opened(session)
        assert self.model is not None
        lim = self.config.limits
        resize_note = ""
        if self.model.family is not m.ModelFamily.IDENTITY and \
                self.config.model.processing_size is ProcessingSize.MODEL:
            resize_note = (f"frames of another size than the model's {self.model.width}x{self.model.height} "
                           f"are resized to it, and results back to the frame's size")
        warning = "; ".join(w for w in (decision.warning, resize_note) if w)
        self._send(identity, m.Welcome(
            session_id=session.session_id,
            protocol_major=PROTOCOL_MAJOR,
            protocol_minor=PROTOCOL_MINOR,
            server_version=__version__,
            capabilities=decision.capabilities,
            initial_credits=self.config.session.credits,
            max_width=lim.max_width,
            max_height=lim.max_height,
            max_message_bytes=lim.max_message_bytes,
            latency_frames=self.model.latency_frames,
            model=m.ModelInfo(self.model.name, self.model.family, self.model.width, self.model.height),
            heartbeat_interval_ms=self.config.session.heartbeat_interval_ms,
            pixel_formats=decision.pixel_formats,
            warning=warning,
        ))
        if self.preview is not None:  # this session's page address (its own session token, never the server-wide
            # one: it opens this session only), for editor "Open in browser" buttons
            self._send(identity, m.Notice(kind=m.NoticeKind.INFO, source="preview",
                                          message=self.preview.session_url(session.session_id)))
        log.info("session %d opened for %r (%s %s, protocol %d.%d)", session.session_id, hello.client_name,
                 hello.engine_name, hello.engine_version, hello.protocol_major, hello.protocol_minor)

    def _on_frame(self, session: Session, header: m.FrameHeader, pixels: memoryview,
                  owner: zmq.Frame) -> None:
        """A Frame whose header, limits and pixel size the codec already checked."""
        fid = header.frame_id
        session.last_frame_at = time.monotonic()  # limits.idle_session_s counts from the last Frame
        _check_stream("Frame", header.stream_id)
        fmt = _WIRE_FORMATS.get(header.pixel_format)
        rows = _WIRE_ROWS.get(header.row_order)
        if fmt is None or rows is None:  # unreachable after validate_image_header; kept as a guard
            raise _FrameError(m.ErrorCode.UNSUPPORTED_PIXEL_FORMAT, "Frame.pixel_format",
                              f"Frame {fid}: pixel_format={int(header.pixel_format)} / row_order="
                              f"{int(header.row_order)} not supported")
        extra = self._extra_of(session)
        if extra.in_flight >= session.credits:
            raise _FrameError(m.ErrorCode.NO_CREDIT, "Frame",
                              f"Frame {fid} arrived with {extra.in_flight} frames in flight and "
                              f"credits={session.credits}; wait for a Result or Credit before sending")
        if self.rules is not None:  # effects timed in frames end before the frame that reaches their end
            self._rules_step(session, "ending timed rules effects before a Frame",
                             lambda: self.rules.tick(session.session_id, time.monotonic(),
                                                     session.stats.frames_received))
        extra.in_flight += 1
        session.stats.frames_received += 1
        layout = Layout(header.width, header.height, header.stride, fmt, rows)
        inline = self._inline and self._worker is not None
        job = FrameJob(fid, header.stream_id, layout, pixels, time.perf_counter(), header.capture_time_us,
                       keep=owner, taken=None if inline else threading.Event(), client_send_us=header.send_time_us)
        if self.taps is not None:
            self.taps.offer_input(session.session_id, fid, layout, pixels, owner)
        if inline:  # the identity model: answered now, on this thread (a failure goes through the outbox)
            assert self._worker is not None
            result = self._worker.run_now(session, job)
            if result is not None:
                extra.in_flight -= 1
                self._deliver(session, extra, result)
            return
        replaced = self.table.submit_frame(session, job)
        if replaced is not None:  # latest wins: the older frame is dropped, its credit comes back
            extra.in_flight -= 1
            self._give_credit(session, 1)
        elif self._worker is not None:
            self._worker.hand_over(job)

    def _check_event_rate(self, session: Session, kind: str) -> None:
        """Token bucket over GameEvent and State: limits.max_events_per_second, one second of burst."""
        rate = float(self.config.limits.max_events_per_second)
        extra = self._extra_of(session)
        now = time.monotonic()
        if extra.event_tokens < 0:
            extra.event_tokens, extra.event_time = rate, now
        extra.event_tokens = min(rate, extra.event_tokens + (now - extra.event_time) * rate)
        extra.event_time = now
        if extra.event_tokens < 1.0:
            raise ProtocolError(m.ErrorCode.TOO_LARGE,
                                f"{kind} refused: session {session.session_id} sends GameEvent/State faster than "
                                f"limits.max_events_per_second={self.config.limits.max_events_per_second}; "
                                f"send fewer (coalesce state changes per frame)")
        extra.event_tokens -= 1.0

    def _check_text(self, name: str, text: str) -> None:
        limit = self.config.limits.max_text_chars
        if len(text) > limit:
            raise ProtocolError(m.ErrorCode.TOO_LARGE,
                                f"{name} has {len(text)} characters, above limits.max_text_chars={limit}")

    def _on_prompt(self, session: Session, prompt: m.Prompt) -> None:
        _check_stream("Prompt", prompt.stream_id)
        values: dict[str, Any] = {}
        if prompt.blend:
            for entry in prompt.blend:
                self._check_text("Prompt.blend.text", entry.text)
            values["prompt"] = [(entry.text, float(entry.weight)) for entry in prompt.blend]
        else:
            self._check_text("Prompt.text", prompt.text)
            values["prompt"] = prompt.text
        self._check_text("Prompt.negative", prompt.negative)
        values["negative_prompt"] = prompt.negative
        if prompt.method is m.BlendMethod.SLERP or prompt.method is m.BlendMethod.LINEAR:
            from sdbridge.pipeline import Interpolation  # server may import the pipeline (no torch work)

            values["prompt_interpolation"] = (Interpolation.SLERP if prompt.method is m.BlendMethod.SLERP
                                              else Interpolation.LINEAR)
        budgets.check_transition(prompt.transition_frames, prompt.transition_seconds)
        self._queue_update(session, values, prompt.transition_frames, prompt.transition_seconds)

    def _on_params(self, session: Session, params: m.Params) -> None:
        _check_stream("Params", params.stream_id)
        values: dict[str, Any] = {}
        mapping = {
            "guidance_scale": "guidance_scale", "delta": "delta", "seed": "seed",
            "similarity_filter_enabled": "similarity_filter", "similarity_threshold": "similarity_threshold",
            "similarity_max_skip": "max_skip_frames",
        }
        for wire_name, kwarg in mapping.items():
            value = getattr(params, wire_name)
            if value is not None:
                values[kwarg] = value
        if params.t_index_list is not None:
            values["t_index_list"] = list(params.t_index_list)
        if params.seed_blend is not None:
            values["seed"] = [(s.seed, float(s.weight)) for s in params.seed_blend]
        if not values:
            raise ProtocolError(m.ErrorCode.BAD_PARAM, "Params.set_mask is 0: no parameter to change")
        self._queue_update(session, values)

    def _queue_update(self, session: Session, values: dict[str, Any], transition_frames: int = 0,
                      transition_seconds: float = 0.0, easing: Callable[[float], float] | None = None,
                      source: str = "") -> None:
        """Queue a pipeline update after the budget and wire-type checks (every source: client, page, rules)."""
        budgets.check_pipeline_values(values, self.config.limits, source)
        update = PipelineUpdate(values, transition_frames, transition_seconds, easing)
        if not self.table.submit_update(session, update):
            raise ProtocolError(m.ErrorCode.TOO_LARGE,
                                f"session {session.session_id} has {session.updates.capacity} pipeline updates "
                                f"pending; send fewer Prompt/Params messages")
        if self._inline and self._worker is not None:
            self._worker.serve(session)  # applies the update now, in arrival order

    def _stats_of(self, session: Session, request_id: int) -> m.Stats:
        extra = self._extra_of(session)
        uptime = time.monotonic() - session.created_at
        return m.Stats(
            request_id=request_id,
            session_id=session.session_id,
            frames_in=session.stats.frames_received,
            frames_out=extra.frames_out,
            frames_dropped=session.dropped,
            frames_skipped=extra.skipped,
            fps_in=session.stats.frames_received / uptime if uptime > 0 else 0.0,
            fps_out=extra.frames_out / uptime if uptime > 0 else 0.0,
            latency_p50_us=_percentile_us(extra.latencies, 0.5),
            latency_p99_us=_percentile_us(extra.latencies, 0.99),
            inference_p50_us=_percentile_us(extra.inference, 0.5),
            uptime_s=uptime,
        )

    # ------------------------------------------------------------------ preview page

    def _start_preview(self) -> None:
        from sdbridge.preview.taps import FrameTaps
        from sdbridge.preview.web import PreviewServer

        self.taps = FrameTaps(self.config.preview.fps)
        self.preview = PreviewServer(self.config.preview, self, self.taps, self.config.limits)
        self.preview_url = self.preview.start()
        log.info("preview page on %s", self.preview_url)

    def preview_sessions(self) -> list[dict[str, Any]]:
        """Snapshot of every live session for the preview page (any thread; copies, never locks the loop)."""
        p = self.config.pipeline
        defaults = {"prompt": p.prompt, "negative_prompt": p.negative_prompt, "guidance_scale": p.guidance_scale,
                    "delta": p.delta, "seed": p.seed, "t_index_list": list(p.t_index_list),
                    "similarity_filter": p.similarity_filter, "similarity_threshold": p.similarity_threshold,
                    "max_skip_frames": p.max_skip_frames}
        out = []
        for session in self.table.sessions():
            extra = self._extra.get(session.session_id) or _SessionExtra()
            latencies = list(extra.latencies)[-64:]  # list() of a deque copies it atomically (GIL)
            inference = list(extra.inference)[-64:]
            out.append({
                "id": session.session_id, "client": session.client.name, "engine": session.client.engine,
                "frames_in": session.stats.frames_received, "frames_out": extra.frames_out,
                "skipped": extra.skipped, "dropped": session.dropped,
                "latency_p50_ms": _percentile_us(deque(latencies), 0.5) / 1e3,
                "latency_p99_ms": _percentile_us(deque(latencies), 0.99) / 1e3,
                "inference_p50_ms": _percentile_us(deque(inference), 0.5) / 1e3,
                "size": list(session.pipeline_size) if session.pipeline_size else None,
                "values": {**defaults, **dict(session.prompt_values)},
                "events": [name for name, _ in list(session.events)[-8:]],
                "url": self.preview.session_url(session.session_id) if self.preview is not None else "",
            })
        return out

    def submit_control(self, session_id: int, message: m.Message, source: str) -> concurrent.futures.Future[None]:
        """Apply a Prompt, Params or GameEvent to a session as if its client had sent it (any thread).

        The I/O thread applies it through the same checks as a client's message, then tells the session's
        engine client with a Notice (source=`source`). The future fails with the error the client would get.
        """
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._controls.append((session_id, message, source, future))
        if self._waker is not None:
            self._waker.notify()
        return future

    def _run_controls(self) -> None:
        """Apply the waiting page commands (I/O thread). A refused command fails its future (the page shows the
        error); an unexpected exception is also logged once. Nothing here stops the I/O loop."""
        while self._controls:
            session_id, message, source, future = self._controls.popleft()
            if not future.set_running_or_notify_cancel():
                continue  # the page stopped waiting for it: not applied
            try:
                self._run_control(session_id, message, source)
            except Exception as exc:
                if not isinstance(exc, BridgeError):
                    self.stats.internal_errors += 1
                    log.error("internal error while applying a %s from %s to session %d", type(message).__name__,
                              source, session_id, exc_info=exc)
                future.set_exception(exc)
            else:
                future.set_result(None)

    def _run_control(self, session_id: int, message: m.Message, source: str) -> None:
        session = next((s for s in self.table.sessions() if s.session_id == session_id), None)
        if session is None:
            raise ProtocolError(m.ErrorCode.BAD_PARAM, f"no live session {session_id}")
        if not isinstance(message, m.Prompt | m.Params | m.GameEvent):
            raise ProtocolError(m.ErrorCode.UNKNOWN_TYPE,
                                f"{type(message).__name__} cannot be sent on behalf of a session")
        self._dispatch(session.identity, session, message, None, [])
        if isinstance(message, m.Prompt):
            notice = m.Notice(kind=m.NoticeKind.PROMPT_CHANGED, source=source, prompt=message,
                              message=f"prompt changed by {source}")
        elif isinstance(message, m.Params):
            notice = m.Notice(kind=m.NoticeKind.PARAMS_CHANGED, source=source, params=message,
                              message=f"parameters changed by {source}")
        else:
            notice = m.Notice(kind=m.NoticeKind.INFO, source=source,
                              message=f"game event {message.name!r} injected by {source}")
        self._send(session.identity, notice)  # (never raises: values were checked on entry, encode is guarded)

    # ------------------------------------------------------------------ outbound

    def _on_worker_output(self, item: ResultJob | WorkerFailure) -> None:
        """Worker thread: queue a result or failure and wake the I/O thread (inline: already on it)."""
        self._outbox.append(item)
        if self._inline:
            return
        waker = self._waker
        if waker is not None:
            waker.notify()

    def _flush_outbox(self) -> None:
        while self._outbox:
            item = self._outbox.popleft()
            session = self.table.get(item.identity)
            if session is None or session.session_id != item.session_id:
                continue  # the session ended meanwhile: its output goes to nobody
            extra = self._extra_of(session)
            if item.frame_id is not None:  # a processed (or failed) frame frees its credit
                extra.in_flight = max(0, extra.in_flight - 1)
            self._deliver(session, extra, item)

    def _deliver(self, session: Session, extra: _SessionExtra, item: ResultJob | WorkerFailure) -> None:
        """Send a result or a worker failure to its session. Never raises: a failure of ours is reported to
        that session (with the frame's credit, which its Result would have returned) and logged once."""
        try:
            if isinstance(item, WorkerFailure):
                self._send_failure(session, item)
            else:
                self._send_result(session, extra, item)
        except Exception as exc:  # a bug of ours must not stop the I/O loop
            what = f"sending the result of frame {item.frame_id}" if item.frame_id is not None else \
                "reporting a failed Prompt/Params update"
            self._internal(session, session.identity, what, exc)
            if item.frame_id is not None and not session.closed:
                self._give_credit(session, 1)

    def _send_result(self, session: Session, extra: _SessionExtra, result: ResultJob) -> None:
        layout = result.layout
        header = m.ResultHeader(
            frame_id=result.frame_id,
            width=layout.width,
            height=layout.height,
            stride=layout.stride,
            pixel_format=_RUNTIME_FORMATS[layout.pixel_format],
            row_order=_RUNTIME_ROWS[layout.row_order],
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
        dropped_before = transport.stats.send_dropped_hwm
        sent = self._send(session.identity, header, result.pixels)
        if transport.backlog_payloads(session.identity) > session.credits or (
                not sent and transport.stats.send_dropped_hwm > dropped_before):
            # A Result waits in the backlog only behind a full send queue (ServerConfig.send_hwm, from credits
            # and limits.max_queued_results); an honest client has at most `credits` Results outstanding, so
            # more waiting means it does not read. Free its session so it costs no more pipeline work, and drop
            # what waits for it: it pins at most send_hwm messages (its queue) plus `credits` Results.
            self.stats.sessions_not_reading += 1
            transport.drop_backlog(session.identity)
            self._close_session(session, f"not reading its results (send queue full at {self.config.send_hwm} "
                                         f"messages, from session.credits and limits.max_queued_results, and "
                                         f"more than credits={session.credits} Results waiting behind it)")
            return
        if self.taps is not None:
            self.taps.offer_output(session.session_id, result.frame_id, layout, result.pixels)
        session.last_seen = time.monotonic()  # the heartbeat timeout counts from the last result too
        extra.frames_out += 1
        extra.inference.append(result.timings["inference"])
        extra.skipped += int(result.skipped)
        extra.latencies.append(time.perf_counter() - result.received_at)  # receive -> sent, all included

    def _send_failure(self, session: Session, failure: WorkerFailure) -> None:
        exc = failure.error
        if isinstance(exc, ProtocolError):
            code = m.ErrorCode(exc.code)
        elif isinstance(exc, BridgeError | ValueError):
            code = m.ErrorCode.BAD_PARAM
        else:
            code = m.ErrorCode.INTERNAL
        what = f"frame {failure.frame_id}" if failure.frame_id is not None else "a Prompt/Params update"
        self._error(session.identity, code, f"{what} failed: {type(exc).__name__}: {exc}",
                    frame_id=failure.frame_id)
        if failure.frame_id is not None:
            self._give_credit(session, 1)

    def _close_session(self, session: Session, why: str) -> None:
        self.table.remove(session.identity)
        self._extra.pop(session.session_id, None)
        self._on_session_closed(session)
        log.info("session %d closed: %s", session.session_id, why)

    def _expire(self, now: float) -> None:
        def busy(session: Session) -> bool:
            extra = self._extra.get(session.session_id)
            return extra is not None and extra.in_flight > 0

        timeout, idle = self.config.session.heartbeat_timeout_s, self.config.limits.idle_session_s
        for session in self.table.expire(now, timeout, busy):
            self._expired(session, f"session {session.session_id} was freed after session.heartbeat_timeout_s="
                                   f"{timeout} s without a message; send Hello again")
        for session in self.table.expire_idle(now, idle, busy):
            self.stats.sessions_idle += 1
            self._expired(session, f"session {session.session_id} was freed after limits.idle_session_s={idle} s "
                                   f"without a Frame (Pings alone do not hold a session slot); send Hello again "
                                   f"when you have frames to send")

    def _expired(self, session: Session, why: str) -> None:
        """A session the table has just removed (silent or idle): tell its client why (never raises)."""
        self._extra.pop(session.session_id, None)
        self.stats.sessions_expired += 1
        log.info("%s", why)
        try:
            self._on_session_closed(session)
        except Exception as exc:
            self._internal(None, session.identity, "closing an expired session", exc)
        self._send(session.identity, m.ErrorMsg(code=m.ErrorCode.SESSION_EXPIRED, session_closed=True, message=why))

    # ------------------------------------------------------------------ game-event rules and recording

    def _on_session_opened(self, session: Session) -> None:
        if self.recorder is not None:
            c = session.client
            self.recorder.open(session.session_id, {"client": c.name, "client_version": c.version,
                                                    "engine": c.engine}, lambda: session.stats.frames_received)
        if self.rules is not None:
            rules = self.rules
            self._rules_step(session, "starting the game-event rules", lambda: rules.open(session.session_id))

    def _on_session_closed(self, session: Session) -> None:
        if self.rules is not None:
            self.rules.close(session.session_id)
        if self.recorder is not None:
            self.recorder.close(session.session_id)

    def _rules_apply(self, session: Session, outcome: Any, field_name: str) -> None:
        """Queue the pipeline changes of a rules outcome; report its problems to the session's client."""
        from sdbridge.events.easing import EASINGS

        problems = list(outcome.problems)
        for change in outcome.changes:
            values = dict(change.values)
            if "prompt_interpolation" in values:
                from sdbridge.pipeline import Interpolation

                values["prompt_interpolation"] = Interpolation(values["prompt_interpolation"])
            log.debug("session %d rules: %s -> %s", session.session_id, change.reason, values)
            try:
                self._queue_update(session, values, change.frames, change.seconds, EASINGS[change.easing],
                                   source="rules: ")
            except ProtocolError as exc:  # e.g. this session's pipeline-update queue is full: this change is lost
                log.warning("session %d: rules change (%s) not applied: %s", session.session_id, change.reason, exc)
                problems.append(f"rules change ({change.reason}) not applied: {exc}")
        if outcome.ignored:
            log.debug("session %d: State keys %s are not variables of the rules file", session.session_id,
                      outcome.ignored)
        if problems:
            self._error(session.identity, m.ErrorCode.BAD_PARAM, "; ".join(problems), field_name)

    def _rules_step(self, session: Session, what: str, step: Callable[[], Any]) -> None:
        """Run one rules step of one session and apply its outcome. A failure is that session's alone: it is
        logged once and reported to it, and the rules are switched off for it (the session goes on)."""
        try:
            self._rules_apply(session, step(), "")
        except Exception as exc:
            if self.rules is not None:
                self.rules.close(session.session_id)
            self._internal(session, session.identity, f"{what} (game-event rules are now off for this session)",
                           exc)

    def _rules_tick(self, now: float) -> None:
        """End timed effects and reload the rules file when it changed (I/O thread, every loop turn)."""
        assert self.rules is not None
        rules = self.rules
        try:
            reloaded = rules.poll(now)
            self._rules_poll_failing = False
        except Exception:  # the previous rules stay in force; logged once until a check works again
            if not self._rules_poll_failing:
                log.exception("checking the rules file %s for changes failed; the previous rules stay in force",
                              self._rules_path)
            self._rules_poll_failing = True
            reloaded = {}
        for session in self.table.sessions():
            outcome = reloaded.get(session.session_id)
            if outcome is not None:
                self._rules_step(session, "applying the reloaded rules file", lambda o=outcome: o)
            self._rules_step(session, "ending timed rules effects",  # frames: see _on_frame
                             lambda s=session: rules.tick(s.session_id, now))

    def _record_input(self, session: Session, message: m.Message) -> None:
        """Note an engine input the server accepted in the session's recording (never raises; see Recorder)."""
        assert self.recorder is not None
        sid = session.session_id
        if isinstance(message, m.GameEvent):
            self.recorder.note(sid, "event", name=message.name, payload=dict(message.payload),
                               frame_id=message.frame_id)
        elif isinstance(message, m.State):
            self.recorder.note(sid, "state", entries=dict(message.entries), replace_all=message.replace_all)
        elif isinstance(message, m.Prompt):
            self.recorder.note(sid, "prompt", text=message.text, negative=message.negative,
                               blend=[(b.text, b.weight) for b in message.blend or ()],
                               transition_frames=message.transition_frames,
                               transition_seconds=message.transition_seconds)
        elif isinstance(message, m.Params):
            self.recorder.note(sid, "params", **{k: v for k, v in (
                ("guidance_scale", message.guidance_scale), ("delta", message.delta), ("seed", message.seed),
                ("t_index_list", message.t_index_list), ("similarity_filter", message.similarity_filter_enabled),
                ("similarity_threshold", message.similarity_threshold),
                ("max_skip_frames", message.similarity_max_skip),
                ("seed_blend", [(b.seed, b.weight) for b in message.seed_blend or ()] or None)) if v is not None})

    def _announce_shutdown(self) -> None:
        if self._transport is None:
            return
        for session in self.table.sessions():
            self._send(session.identity, m.Bye(reason="server shutting down"))
        self._transport.flush()  # what waited for room, as far as it goes now


def _no_credits(hello: m.Hello) -> str:
    """The refusal of a Hello that does not offer the Credits capability."""
    return (f"Hello.capabilities={int(hello.capabilities):#x} lacks CREDITS: this server paces frames by credits "
            f"(Welcome.initial_credits, one back with each Result or Credit) and serves only clients that honour "
            f"them; upgrade the client (the sdbridge Python, Unity and Unreal clients offer CREDITS)")


def _check_stream(kind: str, stream_id: int) -> None:
    """One stream per session (MultiStream is not offered): a second stream would share the slot."""
    if stream_id != 0:
        raise _FrameError(m.ErrorCode.BAD_PARAM, f"{kind}.stream_id",
                          f"{kind}.stream_id={stream_id}: this server serves one stream per session (stream 0; "
                          f"the MultiStream capability is not offered); open one connection per stream")


class _FrameError(ProtocolError):
    """A refused Frame: carries the offending field for the Error reply."""

    def __init__(self, code: m.ErrorCode, field_name: str, message: str) -> None:
        super().__init__(int(code), message)
        self.field_name = field_name
