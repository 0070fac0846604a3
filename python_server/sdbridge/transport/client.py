"""BridgeClient: the reference Python client of the sdbridge server (for tests, the demo, Blender, Godot).

    from sdbridge.transport.client import BridgeClient

    with BridgeClient("tcp://127.0.0.1:5555", name="my-tool") as client:
        client.connect(timeout=5.0)
        client.set_prompt("a watercolor castle")
        frame_id = client.submit(image)          # HxWx4 RGBA or HxWx3 RGB uint8, top-down
        result = client.receive(timeout=5.0)     # None on timeout
        if result is not None:
            show(result.image)                   # same channels as sent

One DEALER socket, one thread: the client is not thread-safe (use it from one thread). It never
blocks longer than the timeout you pass. Flow control is by credits: the Welcome grants some, each
Result (or Credit) returns one; `submit` without credit keeps the frame as the one pending frame (a
newer submit replaces it) and sends it as soon as credit returns, during `receive`.
Heartbeats: every call sends a Ping when nothing was sent for the server's heartbeat interval; an idle
tool should call `receive(timeout=...)` or `ping()` now and then. When the server does not answer
for `lost_after` seconds (and then not to a Ping within a second), or says the session is gone, the
client reconnects with a new socket and a new Hello (a fresh session), then re-sends its last prompt,
parameters and state; `on_reconnect` is called afterwards. A frame in flight when the session ended
is lost (its result never comes).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zmq
from zmq.utils.monitor import recv_monitor_message

from sdbridge import __version__, params
from sdbridge.errors import InputError, ProtocolError, TransportError, VersionMismatchError
from sdbridge.protocol import codec, handshake
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR
from sdbridge.transport.parts import NOBLOCK, NOBLOCK_MORE, recv_parts

log = logging.getLogger(__name__)

_CLIENT_CAPABILITIES = (m.Capability.CREDITS | m.Capability.STATS | m.Capability.HEARTBEAT
                        | m.Capability.PROMPT_BLEND | m.Capability.SEED_BLEND | m.Capability.NOTICES)
#: Errors after which the session is gone and a new handshake is needed (set_session_gone in schemas/bridge.fbs).
_SESSION_GONE = m.SESSION_GONE


def preview_address(notice: m.Notice) -> str:
    """The preview page address a Notice carries, or "": the typed ``preview_url`` (protocol 1.1), or for a 1.0
    server an INFO notice from "preview" whose whole message is an http(s) address."""
    if notice.kind is not m.NoticeKind.INFO or notice.source != "preview":
        return ""
    if notice.preview_url:
        return notice.preview_url
    return notice.message if notice.message.startswith(("http://", "https://")) else ""


@dataclass(frozen=True)
class BridgeResult:
    """One stylized frame.

    `image` is (H, W, 4) or (H, W, 3) uint8, top-down, the same channels as the submitted frame; it is
    a read-only view of the received message (copy it to modify it). `timings` are seconds:
    queue_wait, inference, encode (server side) and round_trip (submit -> receive, client side).
    """

    frame_id: int
    image: np.ndarray
    timings: dict[str, float]
    is_warmup: bool
    skipped: bool
    source_frame_id: int
    stream_id: int = 0
    session_id: int = 0  # the server session that produced it (always this client's own)


@dataclass
class ClientCounters:
    """What the client observed."""

    frames_sent: int = 0
    results: int = 0
    replaced_pending: int = 0  # frames replaced while waiting for credit (never sent)
    credits_returned: int = 0  # Credit messages (dropped or refused frames)
    errors: int = 0
    reconnects: int = 0
    lost_reason: str = ""  # why the last session was given up (what triggered the latest reconnect)
    recent_errors: deque[m.ErrorMsg] = field(default_factory=lambda: deque(maxlen=32))


class BridgeClient:
    """A connection to an sdbridge server. See the module docstring for the whole API."""

    def __init__(
        self,
        endpoint: str,
        name: str = "sdbridge-python",
        *,
        engine: str = "python",
        engine_version: str = "",
        auto_reconnect: bool = True,
        lost_after: float = 10.0,
        on_reconnect: Callable[[BridgeClient], None] | None = None,
        context: zmq.Context | None = None,
        curve_server_key: str | bytes | None = None,
        curve_public_key: str | bytes | None = None,
        curve_secret_key: str | bytes | None = None,
    ) -> None:
        """`curve_*`: Z85 keys (40 characters) for a CurveZMQ server: the server's public key and this
        client's key pair (see `sdbridge keys generate` and sdbridge.transport.curve.load_pair); all three
        or none."""
        curve_keys = (curve_server_key, curve_public_key, curve_secret_key)
        if any(k is not None for k in curve_keys) and not all(k is not None for k in curve_keys):
            raise InputError("CurveZMQ needs all three keys: curve_server_key, curve_public_key and "
                             "curve_secret_key (Z85 strings from `sdbridge keys generate`)")
        self._curve = tuple(k.encode("ascii") if isinstance(k, str) else k for k in curve_keys) \
            if curve_server_key is not None else None
        self.endpoint = endpoint
        self.name = name
        self.engine = engine
        self.engine_version = engine_version
        self.auto_reconnect = auto_reconnect
        self.lost_after = lost_after
        self.on_reconnect = on_reconnect
        # Notices (e.g. the preview page changed this session's prompt): newest last, and an optional callback
        # called on the thread that pumps this client (receive, stats, drain)
        self.notices: deque[m.Notice] = deque(maxlen=64)
        self.on_notice: Callable[[m.Notice], None] | None = None
        # This session's preview page address ("" until the server sends it; see preview_address)
        self.preview_url = ""
        self._ctx = context or zmq.Context.instance()
        self._sock: zmq.Socket | None = None
        self._poller = zmq.Poller()
        self.welcome: m.Welcome | None = None
        self.credits = 0
        self.counters = ClientCounters()
        self._next_frame_id = 1
        self._pending: tuple[int, np.ndarray, int] | None = None  # (frame_id, image, stream_id)
        self._sent_at: dict[int, float] = {}
        self._results: deque[BridgeResult] = deque()
        self._stats: dict[int, m.Stats] = {}
        self._next_request = 1
        self._last_sent = 0.0
        self._last_heard = 0.0
        self._probe_at: float | None = None  # when _check_lost last sent a Ping to test a silence
        self._session_lost = False
        self._connect_timeout = 5.0
        # what a new session needs to look like the old one (replayed after a reconnect)
        self._last_prompt: m.Prompt | None = None
        self._params: dict[str, Any] = {}
        self._state: dict[str, Any] = {}

    # ------------------------------------------------------------------ connection

    @property
    def connected(self) -> bool:
        """True after a Welcome, until close or loss of the session."""
        return self._sock is not None and self.welcome is not None and not self._session_lost

    @property
    def session_id(self) -> int:
        """The server's id of the current session (0 before connect)."""
        return self.welcome.session_id if self.welcome is not None else 0

    @property
    def latency_frames(self) -> int:
        """How many frames an output lags its input (from the Welcome)."""
        return self.welcome.latency_frames if self.welcome is not None else 0

    @property
    def last_error(self) -> m.ErrorMsg | None:
        """The most recent Error the server sent, if any."""
        return self.counters.recent_errors[-1] if self.counters.recent_errors else None

    def connect(self, timeout: float = 5.0) -> m.Welcome:
        """Open the socket and do the Hello/Welcome handshake.

        Raises VersionMismatchError when the server refuses our protocol major, ProtocolError on any
        other refusal (e.g. the session limit), TransportError when no answer comes within `timeout`.
        """
        self._connect_timeout = timeout
        self._open_socket()
        hello = m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, client_name=self.name,
                        client_version=__version__, engine_name=self.engine, engine_version=self.engine_version,
                        capabilities=_CLIENT_CAPABILITIES,
                        pixel_formats=(m.PixelFormat.RGBA8, m.PixelFormat.RGB8))
        assert self._sock is not None
        # A server that is shutting down may still accept our connection and then drop it with the Hello
        # (e.g. we reconnect on its Bye): the monitor tells us, and the Hello goes again on the next
        # connection instead of waiting out the whole timeout.
        monitor = self._sock.get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED
                                                | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        try:
            try:
                self._send(hello)
                hello_lost = False
            except TransportError:  # the first connection already came and went: send on the next one
                hello_lost = True
            return self._await_welcome(hello, monitor, timeout, hello_lost)
        finally:
            with contextlib.suppress(KeyError):
                self._poller.unregister(monitor)
            if self._sock is not None:
                self._sock.disable_monitor()
            monitor.close(0)

    def _await_welcome(self, hello: m.Hello, monitor: zmq.Socket, timeout: float, hello_lost: bool) -> m.Welcome:
        deadline = time.monotonic() + timeout
        self._poller.register(monitor, zmq.POLLIN)
        while True:
            remaining = deadline - time.monotonic()
            received = self._recv(remaining) if remaining > 0 else None
            while monitor.poll(0):  # connection events since the last look
                event = recv_monitor_message(monitor)["event"]
                if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:  # libzmq does not retry after this
                    self._close_socket()
                    raise TransportError(
                        f"{self.endpoint} refused the CurveZMQ handshake: this client's public key is not in the "
                        f"server's authorized_keys folder, or curve_server_key is not the server's public key")
                if event == zmq.EVENT_DISCONNECTED:
                    hello_lost = True
                elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED and hello_lost:
                    log.info("connection to %s was dropped before the Welcome; sending Hello again", self.endpoint)
                    try:
                        self._send(hello)
                        hello_lost = False
                    except TransportError:  # that connection is already gone too: try on the next one
                        pass
            if received is None and time.monotonic() < deadline:
                continue  # woken by the monitor
            if received is None:
                self._close_socket()
                raise TransportError(
                    f"no Welcome from {self.endpoint} within timeout={timeout} s; is `sdbridge serve` "
                    f"running there (and the model loaded)? A CurveZMQ server also stays silent when this "
                    f"client's public key is not in its authorized_keys or the server key is wrong"
                )
            message, _ = received
            if isinstance(message, m.Welcome):
                try:
                    warning = handshake.check_welcome(message)
                except VersionMismatchError:
                    self._close_socket()
                    raise
                self.welcome = message
                self.credits = message.initial_credits
                self._session_lost = False
                self._pending = None
                self._sent_at.clear()
                if warning and message.protocol_minor != PROTOCOL_MINOR:
                    log.warning("server: %s", warning)
                elif warning:
                    log.info("server: %s", warning)
                return message
            if isinstance(message, m.ErrorMsg):
                self._close_socket()
                if message.code is m.ErrorCode.VERSION_MISMATCH:
                    raise VersionMismatchError(int(message.code), f"server refused the handshake: {message.message}")
                raise ProtocolError(int(message.code),
                                    f"server refused the handshake ({message.code.name}): {message.message}")
            # anything else is a leftover of an older session: ignore it

    def reconnect(self, timeout: float | None = None) -> m.Welcome:
        """Drop the current session and socket and handshake again (a fresh session on the server)."""
        with_bye = self._sock is not None and self.connected
        if with_bye:
            self._try_send(m.Bye(reason="reconnect"))
        self._close_socket()
        self._session_lost = True  # until the new Welcome arrives
        pending = self._pending
        welcome = self.connect(self._connect_timeout if timeout is None else timeout)
        self.counters.reconnects += 1
        self._pending = pending  # the newest frame still wants out; it goes after the replay below
        if self._last_prompt is not None:  # the new session starts from the server defaults
            self._send(self._last_prompt)
        if self._params:
            self._send(m.Params(**self._params))
        if self._state:
            self._send(m.State(entries=dict(self._state), replace_all=True, client_time_us=_now_us()))
        self._flush_pending()
        if self.on_reconnect is not None:
            self.on_reconnect(self)
        return welcome

    def close(self) -> None:
        """Say Bye (best effort) and close the socket (linger 0). Idempotent."""
        if self._sock is not None and self.connected:
            self._try_send(m.Bye(reason="client closed"))
        self._close_socket()
        self.welcome = None
        self._pending = None

    def __enter__(self) -> BridgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ frames

    def submit(self, image: np.ndarray, *, stream_id: int = 0) -> int | None:
        """Send one frame: (H, W, 4) RGBA or (H, W, 3) RGB uint8, top-down.

        Returns its frame id, or None when no credit is left: the frame then waits as the one pending
        frame (replacing an older pending one) and goes out when credit returns. Do not modify
        `image` until its result arrives: large frames are sent without copying.
        """
        self._check_image(image)
        self._ensure_session()
        frame_id = self._next_frame_id
        self._next_frame_id += 1
        image = np.ascontiguousarray(image)
        if self.credits <= 0:
            if self._pending is not None:
                self.counters.replaced_pending += 1
            self._pending = (frame_id, image, stream_id)
            self._heartbeat()
            return None
        self._send_frame(frame_id, image, stream_id)
        return frame_id

    def receive(self, timeout: float = 5.0) -> BridgeResult | None:
        """Wait up to `timeout` seconds for the next result of this session; None on timeout.

        While waiting it handles credits (sending the pending frame), errors, heartbeats and
        reconnects.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self._results:
                return self._results.popleft()
            self._ensure_session(drain=False)  # reconnects a lost session; _pump reads what arrived
            self._heartbeat()
            self._pump(min(max(0.0, deadline - time.monotonic()), self._heartbeat_period()))
            self._check_lost()
            if self._results:
                return self._results.popleft()
            if time.monotonic() >= deadline:
                return None

    @property
    def next_frame_id(self) -> int:
        """The id the next submitted frame will get (ids are never reused, even across reconnects)."""
        return self._next_frame_id

    @property
    def pending(self) -> bool:
        """True when a frame waits for credit."""
        return self._pending is not None

    # ------------------------------------------------------------------ control

    def set_prompt(self, prompt: str | Sequence[tuple[str, float]], negative_prompt: str = "", *,
                   transition_frames: int = 0, transition_seconds: float = 0.0, stream_id: int = 0) -> None:
        """Change the prompt: a text, or a weighted blend [(text, weight), ...]."""
        if isinstance(prompt, str):
            message = m.Prompt(text=prompt, negative=negative_prompt, transition_frames=transition_frames,
                               transition_seconds=transition_seconds, stream_id=stream_id)
        else:
            blend = tuple(m.PromptWeight(text=t, weight=float(w)) for t, w in prompt)
            if not blend:
                raise InputError("prompt blend is empty; pass a text or at least one (text, weight)")
            message = m.Prompt(blend=blend, negative=negative_prompt, transition_frames=transition_frames,
                               transition_seconds=transition_seconds, stream_id=stream_id)
        self._control(message)
        self._last_prompt = message

    def set_params(
        self,
        *,
        guidance_scale: float | None = None,
        delta: float | None = None,
        t_index_list: Sequence[int] | None = None,
        seed: int | Sequence[tuple[int, float]] | None = None,
        similarity_filter: bool | None = None,
        similarity_threshold: float | None = None,
        max_skip_frames: int | None = None,
        stream_id: int = 0,
    ) -> None:
        """Change runtime parameters; only the ones given change. `seed` may be a weighted blend.

        Each value is checked here against its range in the parameter registry (sdbridge.params), the same
        check the server applies: InputError naming the parameter, the value and the range otherwise.
        """
        given = {"guidance_scale": guidance_scale, "delta": delta, "t_index_list": t_index_list,
                 "similarity_filter": similarity_filter, "similarity_threshold": similarity_threshold,
                 "max_skip_frames": max_skip_frames}
        for name, value in given.items():
            if value is not None:
                params.check(name, value, "BridgeClient.set_params")
        seed_value: int | None = None
        seed_blend = None
        if isinstance(seed, list | tuple):
            pairs = params.check("seed_blend", seed, "BridgeClient.set_params")
            seed_blend = tuple(m.SeedWeight(seed=s, weight=w) for s, w in pairs)
        else:
            seed_value = None if seed is None else params.check("seed", seed, "BridgeClient.set_params")
        message = m.Params(guidance_scale=guidance_scale, delta=delta,
                           t_index_list=None if t_index_list is None else tuple(int(t) for t in t_index_list),
                           seed=seed_value, similarity_filter_enabled=similarity_filter,
                           similarity_threshold=similarity_threshold, similarity_max_skip=max_skip_frames,
                           seed_blend=seed_blend, stream_id=stream_id)
        if message.set_mask == m.ParamsField.NONE:
            raise InputError("set_params() got no parameter; pass at least one, e.g. guidance_scale=1.2")
        self._control(message)
        for param in params.REGISTRY:
            value = getattr(message, param.wire_field) if param.params_bit else None
            if value is not None:
                self._params[param.wire_field] = value
        if seed_blend is not None:
            self._params.pop("seed", None)
        elif seed_value is not None:
            self._params.pop("seed_blend", None)

    def send_event(self, name: str, payload: Mapping[str, bool | int | float | str] | None = None) -> None:
        """Report a game event (e.g. "enter_zone", {"biome": "forest"})."""
        last = self._next_frame_id - 1
        self._control(m.GameEvent(name=name, payload=dict(payload or {}), client_time_us=_now_us(),
                                  frame_id=max(0, last)))

    def set_state(self, key: str | Mapping[str, bool | int | float | str],
                  value: bool | int | float | str | None = None, *, replace_all: bool = False) -> None:
        """Set one state variable (`set_state("time_of_day", "night")`) or several from a mapping."""
        if isinstance(key, str):
            if value is None:
                raise InputError(f"set_state({key!r}) needs a value (bool, int, float or str)")
            entries: dict[str, Any] = {key: value}
        else:
            entries = dict(key)
        self._control(m.State(entries=entries, replace_all=replace_all, client_time_us=_now_us()))
        if replace_all:
            self._state.clear()
        self._state.update(entries)

    def stats(self, timeout: float = 5.0) -> m.Stats:
        """Ask the server for this session's counters; raises TransportError on timeout."""
        request_id = self._next_request
        self._next_request += 1
        self._control(m.StatsRequest(request_id=request_id))
        deadline = time.monotonic() + timeout
        while request_id not in self._stats:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportError(f"no Stats reply from {self.endpoint} within timeout={timeout} s")
            self._pump(remaining)
        return self._stats.pop(request_id)

    def ping(self) -> None:
        """Send a heartbeat now (an idle client should do this at least every heartbeat interval)."""
        self._ensure_session()
        self._send(self._ping_message())

    # ------------------------------------------------------------------ internals

    def _check_image(self, image: np.ndarray) -> None:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
                or image.shape[2] not in (3, 4):
            shape = getattr(image, "shape", None)
            dtype = getattr(image, "dtype", type(image).__name__)
            raise InputError(f"image has shape {shape} dtype {dtype}; submit an HxWx4 (RGBA) or HxWx3 (RGB) "
                             f"uint8 numpy array, top row first")
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            raise InputError(f"image is {w}x{h}; width and height must be >= 1")
        if self.welcome is not None and (w > self.welcome.max_width or h > self.welcome.max_height):
            raise InputError(f"image is {w}x{h} but the server accepts at most "
                             f"{self.welcome.max_width}x{self.welcome.max_height}; resize it")

    def _send_frame(self, frame_id: int, image: np.ndarray, stream_id: int) -> None:
        h, w, channels = image.shape
        fmt = m.PixelFormat.RGBA8 if channels == 4 else m.PixelFormat.RGB8
        now = _now_us()
        header = m.FrameHeader(frame_id=frame_id, width=w, height=h, stride=w * channels, pixel_format=fmt,
                               row_order=m.RowOrder.TOP_DOWN, color_space=m.ColorSpace.SRGB,
                               alpha_mode=m.AlphaMode.STRAIGHT if channels == 4 else m.AlphaMode.IGNORE,
                               session_id=self.session_id, stream_id=stream_id, capture_time_us=now,
                               send_time_us=now)
        assert self._sock is not None
        try:
            # header copied (small), pixels zero-copy; one message (libzmq checks the HWM at its first part)
            self._sock.send(codec.encode(header), NOBLOCK_MORE)
            self._sock.send(image, NOBLOCK, copy=False)
        except zmq.Again as exc:
            raise TransportError(f"send queue to {self.endpoint} is full; the server is not reading") from exc
        self._last_sent = time.monotonic()
        self.credits -= 1
        self.counters.frames_sent += 1
        self._sent_at[frame_id] = time.perf_counter()
        if len(self._sent_at) > 1024:  # results of old frames never came: forget them
            for old in sorted(self._sent_at)[:512]:
                del self._sent_at[old]

    def _flush_pending(self) -> None:
        if self._pending is not None and self.credits > 0 and self.connected:
            frame_id, image, stream_id = self._pending
            self._pending = None
            self._send_frame(frame_id, image, stream_id)

    def _control(self, message: m.Message) -> None:
        self._ensure_session()
        self._send(message)

    def _open_socket(self) -> None:
        self._close_socket()
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 1000)  # credits bound the frames; never drop a control message
        sock.setsockopt(zmq.RCVHWM, 1000)
        if self._curve is not None:
            server_key, public_key, secret_key = self._curve
            sock.setsockopt(zmq.CURVE_SERVERKEY, server_key)
            sock.setsockopt(zmq.CURVE_PUBLICKEY, public_key)
            sock.setsockopt(zmq.CURVE_SECRETKEY, secret_key)
        sock.connect(self.endpoint)
        self._sock = sock
        self._poller = zmq.Poller()
        self._poller.register(sock, zmq.POLLIN)
        self._last_heard = time.monotonic()

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        self.credits = 0

    def _send(self, message: m.Message) -> None:
        if self._sock is None:
            raise TransportError("not connected; call connect() first")
        try:
            self._sock.send(codec.encode(message), NOBLOCK)
        except zmq.Again as exc:
            raise TransportError(f"send queue to {self.endpoint} is full; the server is not reading") from exc
        self._last_sent = time.monotonic()

    def _try_send(self, message: m.Message) -> None:
        with contextlib.suppress(TransportError, zmq.ZMQError):
            self._send(message)

    def _recv(self, timeout: float) -> tuple[m.Message, memoryview | None] | None:
        """One message within `timeout` seconds, or None."""
        if self._sock is None:
            return None
        if self._sock not in dict(self._poller.poll(max(0, int(timeout * 1000)))):
            return None  # timeout, or another registered socket (the handshake monitor) woke the poll
        try:
            parts = recv_parts(self._sock)
        except zmq.Again:
            return None
        self._last_heard = time.monotonic()
        try:
            return codec.decode_multipart(parts)  # zmq.Frame parts expose their bytes (buffer protocol)
        except ProtocolError as exc:
            log.warning("dropping a malformed message from the server: %s", exc)
            return None

    def _pump(self, timeout: float) -> None:
        """Handle messages until a Result or Stats arrives, the session is lost, or nothing more comes
        within `timeout` seconds. Messages already waiting are handled even when the time is up (up to
        256 of them), so `receive(timeout=0)` still returns a result that has arrived."""
        deadline = time.monotonic() + timeout
        late = 0
        while late < 256:
            remaining = deadline - time.monotonic()
            late += remaining <= 0
            received = self._recv(max(0.0, remaining))
            if received is None or self._on_message(*received) or self._session_lost:
                return

    def _on_message(self, message: m.Message, pixels: memoryview | None) -> bool:
        """Handle one message; True when it is something a caller waits for (Result, Stats)."""
        if isinstance(message, m.ResultHeader):
            assert pixels is not None
            self.credits += message.credits_granted or 1
            sent = self._sent_at.pop(message.frame_id, None)
            bpp = message.pixel_format.bytes_per_pixel
            image = np.frombuffer(pixels, dtype=np.uint8)
            if message.stride == message.width * bpp:  # packed rows: one reshape
                image = image.reshape(message.height, message.width, bpp)
            else:  # padded rows: drop the padding of each row
                image = image.reshape(message.height, message.stride)[:, : message.width * bpp]
                image = image.reshape(message.height, message.width, bpp)
            if message.row_order is m.RowOrder.BOTTOM_UP:
                image = image[::-1]
            timings = {"queue_wait": message.queue_wait_us / 1e6, "inference": message.inference_us / 1e6,
                       "encode": message.encode_us / 1e6}
            if sent is not None:
                timings["round_trip"] = time.perf_counter() - sent
            self._results.append(BridgeResult(message.frame_id, image, timings, message.is_warmup,
                                              message.skipped, message.source_frame_id, message.stream_id,
                                              message.session_id))
            self.counters.results += 1
            self._flush_pending()
            return True
        if isinstance(message, m.Credit):
            self.credits += message.granted
            self.counters.credits_returned += message.granted
            self._flush_pending()
        elif isinstance(message, m.ErrorMsg):
            self.counters.errors += 1
            self.counters.recent_errors.append(message)
            log.warning("server error %s: %s", message.code.name, message.message)
            if message.session_closed or message.code in _SESSION_GONE:
                self._lose(f"server error {message.code.name}: {message.message}")
        elif isinstance(message, m.Stats):
            self._stats[message.request_id] = message
            return True
        elif isinstance(message, m.Bye):
            log.info("server said bye: %s", message.reason)
            self._lose(f"server said bye: {message.reason}")
        elif isinstance(message, m.Notice):
            log.info("server notice %s from %r: %s", message.kind.name, message.source, message.message)
            self.notices.append(message)
            self.preview_url = preview_address(message) or self.preview_url
            if self.on_notice is not None:
                self.on_notice(message)
        return False

    def _heartbeat_period(self) -> float:
        interval = self.welcome.heartbeat_interval_ms / 1000.0 if self.welcome else 0.0
        return interval if interval > 0 else 1.0

    def _heartbeat(self) -> None:
        if self.connected and self.welcome and self.welcome.heartbeat_interval_ms > 0 \
                and time.monotonic() - self._last_sent >= self._heartbeat_period():
            self._send(self._ping_message())

    def _check_lost(self) -> None:
        """Give the session up after `lost_after` s of silence, but only once a probe went unanswered.

        Silence measured by the clock is not always the server's: a thread that did not run for a while
        (a loaded machine) or a paused VM sees a long gap although messages wait in the socket or come the
        moment everything runs again. So first read what already arrived, then send a Ping, and declare
        the session lost only when that Ping goes unanswered for a second (or `lost_after`, if shorter).
        """
        if not self.connected or time.monotonic() - self._last_heard <= self.lost_after:
            return
        self._drain()  # messages that already arrived count (they refresh _last_heard)
        now = time.monotonic()
        if now - self._last_heard <= self.lost_after:
            return
        if self._probe_at is None or self._probe_at < self._last_heard:  # no probe since the silence began
            self._probe_at = now
            self._try_send(self._ping_message())
            return
        if now - self._probe_at >= min(1.0, self.lost_after):
            log.warning("no message from %s for %.1f s (a Ping sent %.1f s ago went unanswered): connection lost",
                        self.endpoint, now - self._last_heard, now - self._probe_at)
            self._lose(f"no message from the server for {now - self._last_heard:.1f} s, and no answer to a Ping "
                       f"for {now - self._probe_at:.1f} s (lost_after={self.lost_after} s)")

    def _ping_message(self) -> m.Ping:
        """A Ping stamped now (heartbeats, ping(), the silence probe)."""
        return m.Ping(nonce=self._next_request, client_time_us=_now_us())

    def _lose(self, reason: str) -> None:
        """Mark the session lost (the next call reconnects) and remember why."""
        self._session_lost = True
        self.counters.lost_reason = reason

    def _drain(self) -> None:
        """Handle every message already waiting (no blocking), e.g. an Error saying the session ended."""
        for _ in range(256):
            received = self._recv(0)
            if received is None:
                return
            self._on_message(*received)

    def _ensure_session(self, drain: bool = True) -> None:
        """Raise if never connected; reconnect a lost session. `drain` first handles what already arrived
        (an Error or Bye saying the session ended, credits that let a frame go out now)."""
        if self.welcome is None:
            raise TransportError("not connected; call connect() first")
        if drain and self._sock is not None:
            self._drain()
        if self._session_lost or self._sock is None:  # (a failed reconnect leaves no socket: retry)
            if not self.auto_reconnect:
                raise TransportError(f"the session with {self.endpoint} ended; call reconnect()")
            log.info("session lost; reconnecting to %s", self.endpoint)
            self.reconnect()


def _now_us() -> int:
    return int(time.time() * 1e6)
