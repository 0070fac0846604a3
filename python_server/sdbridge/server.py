"""The composition root: model, sessions, worker and ROUTER transport; owns startup and shutdown.

The model is loaded once by sdbridge.served_model; every session gets its own pipeline over it.

Threads: the caller's thread runs the I/O loop (`run`), the only user of the ROUTER socket; one worker
thread (sdbridge.runtime.worker) runs every pipeline. Frames go I/O -> session slot -> worker; results
go worker -> outbox -> waker -> I/O -> the session's own routing identity, never anyone else's.

The parts, one responsibility each (sdbridge.serving): the Dispatcher decodes and routes each message; the
Handshake answers Hello; Outbound sends (Errors, Credits, Results, worker failures); the ControlInbox applies
preview-page commands; the game-event rules, the recorder, the preview page and the Prometheus metrics follow
sessions as SessionObservers. `drain()` (SIGTERM) moves the sessions away before the server stops (serving.drain).
Per-session state (credits, rate limit, counters, pipeline handle) lives in Session.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from sdbridge.config import ProcessingSize, ServerConfig
from sdbridge.protocol import messages as m
from sdbridge.runtime.control_inputs import ControlPlanes
from sdbridge.runtime.device_lane import WarmedFactory
from sdbridge.runtime.pixels import Layout
from sdbridge.runtime.sessions import Session, SessionTable
from sdbridge.runtime.worker import PipelineFactory, Worker
from sdbridge.served_model import ModelDescription, load_model
from sdbridge.serving.controls import ControlInbox
from sdbridge.serving.dispatcher import Dispatcher
from sdbridge.serving.drain import Drain
from sdbridge.serving.handshake import SERVER_CAPABILITIES, Handshake
from sdbridge.serving.observers import ObserverSet
from sdbridge.serving.outbound import Outbound
from sdbridge.serving.preview_observer import PreviewObserver
from sdbridge.serving.recorder_observer import RecorderObserver
from sdbridge.serving.rules_observer import RulesObserver
from sdbridge.serving.stats import ServerStats
from sdbridge.transport import curve
from sdbridge.transport.zmq_server import RouterTransport, Waker

log = logging.getLogger(__name__)

__all__ = ["SERVER_CAPABILITIES", "BridgeServer", "ServerStats"]


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
        self._factory = pipeline_factory
        self._loaded_here = False  # start() loaded the model (not given by the caller)
        self.model = model
        self._ctx = context or zmq.Context.instance()
        self.table = SessionTable(config.limits.max_sessions)
        self.stats = ServerStats()
        self.outbound = Outbound(self.table, self.stats, config.send_hwm)
        self.observers = ObserverSet(self.outbound)
        self.handshake = Handshake(config, self.table, self.outbound, self.observers)
        self.dispatcher = Dispatcher(config, self.table, self.outbound, self.handshake, self.observers,
                                     self._close_session)
        self.controls = ControlInbox(self.table, self.dispatcher, self.outbound)
        self.outbound.observers = self.observers
        self.outbound.close_session = self._close_session
        self.handshake.model = model
        self._rules: RulesObserver | None = None
        self._recording: RecorderObserver | None = None
        self._preview: PreviewObserver | None = None
        self._metrics: Any = None  # sdbridge.serving.metrics.MetricsPart with [metrics] enabled
        self._drain = Drain()
        self.handshake.drain = self._drain
        self._stop = threading.Event()
        self._waker: Waker | None = None
        self._worker: Worker | None = None
        self._io_thread: threading.Thread | None = None
        self._started_at = time.monotonic()
        self._authorizer: curve.Authorizer | None = None
        self._own_context: zmq.Context | None = None
        self.endpoint = ""
        self.fatal_error: BaseException | None = None  # e.g. a failed background engine build: the server stops

    # ------------------------------------------------------------------ attached parts (read-only views)

    @property
    def rules(self) -> Any:
        """The game-event rules host (sdbridge.events.host.RulesHost) with --rules, else None."""
        return self._rules.host if self._rules is not None else None

    @property
    def recorder(self) -> Any:
        """The recorder (sdbridge.record.recorder.Recorder) with --record, else None."""
        return self._recording.recorder if self._recording is not None else None

    @property
    def preview(self) -> Any:
        """The preview page server (sdbridge.preview.web.PreviewServer) when enabled and running, else None."""
        return self._preview.page if self._preview is not None else None

    @property
    def taps(self) -> Any:
        """The preview page's frame taps when the preview is enabled, else None."""
        return self._preview.taps if self._preview is not None else None

    @property
    def preview_url(self) -> str:
        """The preview page's address ("" when the preview is off)."""
        return self._preview.url if self._preview is not None else ""

    @property
    def transport(self) -> RouterTransport:
        """The ROUTER transport (after start)."""
        assert self.outbound.transport is not None
        return self.outbound.transport

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Load the model (unless given), bind the ROUTER, start the worker. Returns the bound endpoint.

        Refuses (ConfigError) a non-loopback bind without CurveZMQ keys unless security.insecure.
        """
        sec = self.config.security
        keys = curve.load_server_keys(sec.server_secret_key, sec.authorized_keys) if sec.server_secret_key else None
        curve.check_bind(self.config.bind, keys is not None, sec.insecure)
        self._attach_observers()  # a bad rules file or record folder stops the start, before the model loads
        if self._factory is None or self.model is None:
            self._factory, self.model = load_model(self.config, on_fatal=self._on_fatal)
            self._loaded_here = True  # ours to release on close (a warmed device lane no worker adopted)
        self.handshake.model = self.model
        self.dispatcher.served_names = self.model.names
        lim = self.config.limits
        if keys is not None:  # ZAP is per context: this server's allow-list gets a context of its own
            self._own_context = zmq.Context()
            self._ctx = self._own_context
            self._authorizer = curve.Authorizer(self._ctx, keys)
            self.dispatcher.key_allowed = self._authorizer.allow_list.allows
        self.outbound.transport = RouterTransport(self.config.bind, lim.max_message_bytes, self.config.send_hwm,
                                                  self.config.session.recv_hwm, self._ctx, curve=keys)
        self._waker = Waker(self._ctx)
        self._start_worker(self.model)
        self.endpoint = self.transport.endpoint
        if self._preview is not None:
            self._preview.start(self)
        if self._metrics is not None:
            self._metrics.start(self, self.model)
        log.info("serving %s on %s (max %d sessions, %d credits)", self.model.name, self.endpoint,
                 lim.max_sessions, self.config.session.credits)
        return self.endpoint

    def _attach_observers(self) -> None:
        """Attach the optional parts: game-event rules, recorder, preview page (in that order)."""
        if self._rules_path and self._rules is None:
            self._rules = RulesObserver(self._rules_path, self.config, self.outbound_hooks)
            self.observers.attach(self._rules)
            self.handshake.offer(m.Capability.GAME_EVENTS)  # GameEvent/State now drive prompts
        if self._record_dir and self._recording is None:
            self._recording = RecorderObserver(self._record_dir, self.config)
            self.observers.attach(self._recording)
        if self.config.preview.enabled and self._preview is None:
            self._preview = PreviewObserver(self.config, self.table, self.outbound_hooks)
            self.observers.attach(self._preview)
        if self.config.metrics.enabled and self._metrics is None:
            from sdbridge.serving.metrics import MetricsPart  # prometheus_client only when enabled

            self._metrics = MetricsPart(self.config, self.table, self.stats)
            self.observers.attach(self._metrics.observer)

    def _start_worker(self, model: ModelDescription) -> None:
        """Build the worker; a passthrough model's frames are answered on the I/O thread (no worker thread)."""
        assert self._factory is not None
        p = self.config.pipeline
        recording = self._recording
        self._worker = Worker(self.table, self._factory, self._size_policy, self.outbound.on_worker_output,
                              self.outbound.on_worker_output,
                              default_prompt={"prompt": p.prompt, "negative_prompt": p.negative_prompt},
                              passthrough=model.passthrough,
                              share_unet_batch=self.config.model.share_unet_batch,
                              wrap=recording.wrap if recording is not None else None,
                              controls=ControlPlanes(self.config.model.segmentation_map() or None),
                              device=self.config.model.device)
        inline = model.passthrough and self.config.model.identity_inline
        self.dispatcher.worker = self._worker
        self.dispatcher.inline = inline
        if not inline:
            waker = self._waker
            self.outbound.wake = waker.notify if waker is not None else None
            self._worker.start()

    @property
    def outbound_hooks(self) -> _Hooks:
        """What observers may ask of the server (queue an update, send, report)."""
        return _Hooks(self.dispatcher, self.outbound)

    def stop(self) -> None:
        """Ask `run` to return (thread-safe, signal-safe)."""
        self._stop.set()
        if self._waker is not None:
            self._waker.notify()

    @property
    def metrics_url(self) -> str:
        """The metrics port's address (http://host:port; "" when [metrics] is off or not started)."""
        return self._metrics.url if self._metrics is not None else ""

    @property
    def draining(self) -> bool:
        """True once `drain()` was called."""
        return self._drain.active

    def drain(self, grace_s: float | None = None) -> None:
        """Drain (thread-safe, signal-safe): refuse new sessions, tell the open ones to move (Notice
        ServerShutdown), serve them until they have gone, then `run` returns; at most `grace_s` seconds
        (default metrics.drain_grace_s)."""
        self._drain.request(self.config.metrics.drain_grace_s if grace_s is None else grace_s)
        if self._waker is not None:
            self._waker.notify()

    def readiness(self) -> list[str]:
        """Why this replica should get no new session now ([] = ready): for /readyz and balancers."""
        reasons = []
        if self.model is None or self.outbound.transport is None:
            reasons.append("model not loaded or not bound yet")
        if self._drain.active:
            reasons.append("draining")
        if len(self.table) >= self.config.limits.max_sessions:
            reasons.append(f"full: {len(self.table)} of limits.max_sessions={self.config.limits.max_sessions}")
        if self.fatal_error is not None:
            reasons.append(f"stopping after {type(self.fatal_error).__name__}")
        return reasons

    def run(self, should_stop: Callable[[], bool] | None = None) -> None:
        """Serve until `stop()` is called (or `should_stop()` returns True). Call after `start()`."""
        transport, waker = self.outbound.transport, self._waker
        assert transport is not None and waker is not None, "call start() first"
        poller = zmq.Poller()
        poller.register(transport.socket, zmq.POLLIN)
        poller.register(waker.socket, zmq.POLLIN)
        next_expiry = time.monotonic()
        try:
            while not self._stop.is_set() and not (should_stop is not None and should_stop()):
                events = dict(poller.poll(100))
                # Input first, then results: a frame already waiting in the socket reaches its slot
                # (and the worker) before the result that lets the client send the next one goes out.
                if transport.socket in events:
                    for _ in range(64):  # bounded batch so results are not starved by input
                        received = transport.recv()
                        if received is None:
                            break
                        self.dispatcher.handle(*received)
                        if not transport.readable():
                            break
                if waker.socket in events:
                    waker.drain()
                if self.controls:
                    self.controls.run()
                if transport.backlogged:  # messages that met a full send queue, in order, first
                    transport.flush()
                self.outbound.flush_outbox()
                now = time.monotonic()
                if now >= next_expiry:
                    self._expire(now)
                    next_expiry = now + 0.2
                if self.observers:
                    self.observers.tick(now, self.table.sessions())
                if self._drain.active:
                    self._drain.tell(self.table.sessions(), self.outbound)
                    if self._drain.finished(now, self.table.sessions()):
                        break
        finally:
            self.outbound.announce_shutdown()

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
        if self._preview is not None:
            self._preview.close()
        if self._metrics is not None:
            self._metrics.close()
        self.stop()
        if self._io_thread is not None:
            self._io_thread.join(10)
            self._io_thread = None
        if self._worker is not None:
            if not self._worker.stop(timeout=30):
                log.warning("worker thread did not stop within 30 s (a pipeline call is still running)")
            self._worker = None
        if self._loaded_here and isinstance(self._factory, WarmedFactory):
            self._factory.release()  # a start that failed after loading left the warmed lane unadopted
        if self._recording is not None:
            self._recording.close()
        if self.outbound.transport is not None:
            self.outbound.transport.close()
            self.outbound.transport = None
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

    # ------------------------------------------------------------------ sessions

    def _size_policy(self, layout: Layout) -> tuple[int, int]:
        if self.config.model.processing_size is ProcessingSize.CLIENT or (
            self.model is not None and self.model.passthrough
        ):
            return layout.width, layout.height
        return self.config.model.width, self.config.model.height

    def _close_session(self, session: Session, why: str) -> None:
        self.table.remove(session.identity)
        self.observers.session_closed(session)
        log.info("session %d closed: %s", session.session_id, why)

    def _expire(self, now: float) -> None:
        timeout, idle = self.config.session.heartbeat_timeout_s, self.config.limits.idle_session_s
        busy = _owed_a_result
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
        self.stats.sessions_expired += 1
        log.info("%s", why)
        self.observers.session_closed(session)
        self.outbound.send(session.identity, m.ErrorMsg(code=m.ErrorCode.SESSION_EXPIRED, session_closed=True,
                                                        message=why))

    # ------------------------------------------------------------------ the preview page's API (PreviewHost)

    def preview_sessions(self) -> list[dict[str, Any]]:
        """Snapshot of every live session for the preview page (any thread; copies, never locks the loop)."""
        return self._preview.sessions() if self._preview is not None else []

    def submit_control(self, session_id: int, message: m.Message, source: str,
                       pixels: bytes | None = None) -> concurrent.futures.Future[None]:
        """Apply a Prompt, Params or GameEvent (or a StyleImage with its `pixels`) to a session as if its client had
        sent it (any thread).

        The I/O thread applies it through the same checks as a client's message, then tells the session's
        engine client with a Notice (source=`source`). The future fails with the error the client would get.
        """
        future = self.controls.submit(session_id, message, source, pixels)
        if self._waker is not None:
            self._waker.notify()
        return future


def _owed_a_result(session: Session) -> bool:
    """A session the server still owes a result is not expired (its client may be blocked waiting)."""
    return session.busy


class _Hooks:
    """ServerHooks for observers: pipeline updates through the dispatcher's checks, sending through Outbound."""

    def __init__(self, dispatcher: Dispatcher, outbound: Outbound) -> None:
        self.queue_update = dispatcher.queue_update
        self.error = outbound.error
        self.internal = outbound.internal
        self.send = outbound.send
