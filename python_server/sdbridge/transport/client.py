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
for `lost_after` seconds (and then not to a Ping within a second), says the session is gone, or drains (Notice
ServerShutdown), the client reconnects with a new socket and a new Hello (a fresh session), then re-sends its
last prompt, parameters and state; `on_reconnect` is called afterwards. A refused or unanswered reconnect is
tried again with backoff and jitter for up to `lost_after` s (client_retry: behind a balancer, another replica).
A frame in flight when the session ended is lost (its result never comes).

Protocol 1.4: `submit(..., scene_cut=True)` says a frame starts a new shot; `send_style_image(name, image)` sends a
style reference image (weighed with `set_params(style_blend=...)`, re-sent after a reconnect); `welcome.sessions_open`
/ `sessions_max` show the replica's capacity; `wanted_planes` the plane kinds the server uses now (from the Welcome,
then from Notices of kind WANTED_PLANES_CHANGED).

The client is split by responsibility: this module holds the public API (`BridgeClient`, its results and
counters) and what each message from the server does; `client_io` the socket (send, poll, receive, the
handshake wait, the liveness clocks); `client_session` the state a reconnect replays and the frame book;
`client_messages` the building and checking of messages.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zmq

from sdbridge.errors import ProtocolError, TransportError, VersionMismatchError
from sdbridge.protocol import handshake
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MINOR
from sdbridge.transport import client_messages as build
from sdbridge.transport import client_planes
from sdbridge.transport.client_io import ClientSocket, curve_keys
from sdbridge.transport.client_retry import Backoff, with_backoff
from sdbridge.transport.client_session import FrameBook, PendingFrame, SessionReplay

log = logging.getLogger(__name__)

#: Errors after which the session is gone and a new handshake is needed (set_session_gone in schemas/bridge.fbs).
_SESSION_GONE = m.SESSION_GONE
_UNKNOWN_CONNECTION = m.UNKNOWN_CONNECTION  # the server has no session for this connection (set in bridge.fbs)


def _log_server_error(message: m.ErrorMsg, reconnects: bool) -> None:
    """Log a server's Error: a warning, except that a server which does not know this connection (libzmq re-made
    it, e.g. through a balancer to another replica) is expected and answered with a new Hello when the client
    `reconnects` by itself: said at INFO."""
    moved = message.code in _UNKNOWN_CONNECTION and reconnects
    log.log(logging.INFO if moved else logging.WARNING, "server error %s: %s%s", message.code.name,
            message.message, "; reconnecting with a new Hello" if moved else "")


def accepted(answer: m.Welcome | m.ErrorMsg) -> m.Welcome:
    """The Welcome of a handshake's `answer`, its warning logged (WARNING for another minor, else INFO); raises
    VersionMismatchError for another major (refused or welcomed) and ProtocolError for any other refusal."""
    if isinstance(answer, m.ErrorMsg):
        if answer.code is m.ErrorCode.VERSION_MISMATCH:
            raise VersionMismatchError(int(answer.code), f"server refused the handshake: {answer.message}")
        raise ProtocolError(int(answer.code), f"server refused the handshake ({answer.code.name}): {answer.message}")
    warning = handshake.check_welcome(answer)
    if warning:
        log.log(logging.WARNING if answer.protocol_minor != PROTOCOL_MINOR else logging.INFO, "server: %s", warning)
    return answer


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
        curve = curve_keys(curve_server_key, curve_public_key, curve_secret_key)
        self.endpoint = build.check_endpoint(endpoint)
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
        self.preview_url = ""  # this session's preview page address ("" until the server sends it; preview_address)
        self.wanted_planes: tuple[m.PlaneKind, ...] = ()  # the plane kinds the server uses now (protocol 1.4)
        self._io = ClientSocket(context or zmq.Context.instance(), curve)
        self.welcome: m.Welcome | None = None
        self.credits = 0
        self.counters = ClientCounters()
        self._frames = FrameBook()
        self._results: deque[BridgeResult] = deque()
        self._stats: dict[int, m.Stats] = {}
        self._next_request = 1
        self._session_lost = False
        self._connect_timeout = 5.0
        self.backoff = Backoff()  # between reconnect tries (client_retry)
        self._replay = SessionReplay()  # what a new session needs to look like the old one

    # ------------------------------------------------------------------ connection

    @property
    def connected(self) -> bool:
        """True after a Welcome, until close or loss of the session."""
        return self._io.is_open and self.welcome is not None and not self._session_lost

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

        With `auto_reconnect` (the default) a refusal for capacity (SessionLimit: a full replica) is tried again
        on a new connection with backoff and jitter until `timeout` has passed (client_retry: behind a balancer,
        another replica answers; a single full server is tried until then), as the C# and C++ clients do.
        Raises VersionMismatchError when the server refuses our protocol major, ProtocolError on any other
        refusal (or the last capacity refusal), TransportError when no answer comes within `timeout`.
        """
        self._connect_timeout = timeout
        if not self.auto_reconnect:
            return self._handshake(timeout)
        return with_backoff(self._handshake, self.backoff, timeout, timeout, what="connect")

    def _handshake(self, timeout: float) -> m.Welcome:
        """One try: a new socket, Hello, and the Welcome or the refusal (see `connect`)."""
        self._open_socket()
        try:
            answer = accepted(self._io.handshake(build.hello(self.name, self.engine, self.engine_version), timeout))
        except ProtocolError:  # a refusal, or a Welcome of another major
            self._close_socket()
            raise
        self.welcome = answer
        self.wanted_planes = answer.wanted_planes
        self.credits = answer.initial_credits
        self._session_lost = False
        self._frames.new_session()
        return answer

    def reconnect(self, timeout: float | None = None) -> m.Welcome:
        """Drop the current session and socket and handshake again (a fresh session on the server)."""
        if self._io.is_open and self.welcome is not None:  # a lost session too: a draining server frees it
            self._io.try_send(m.Bye(reason="reconnect"))
        self._close_socket()
        self._session_lost = True  # until the new Welcome arrives
        pending = self._frames.pending
        welcome = self._handshake(self._connect_timeout if timeout is None else timeout)
        self.counters.reconnects += 1
        self._frames.pending = pending  # the newest frame still wants out; it goes after the replay below
        self._replay.send(self._io, build.now_us())  # the new session starts from the server defaults
        self._flush_pending()
        if self.on_reconnect is not None:
            self.on_reconnect(self)
        return welcome

    def close(self) -> None:
        """Say Bye (best effort) and close the socket (linger 0). Idempotent."""
        if self._io.is_open and self.connected:
            self._io.try_send(m.Bye(reason="client closed"))
        self._close_socket()
        self.welcome = None
        self._frames.pending = None

    def __enter__(self) -> BridgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ frames

    def submit(self, image: np.ndarray, *, stream_id: int = 0, planes: Mapping[str, np.ndarray] | None = None,
               plane_info: Mapping[str, Mapping[str, Any]] | None = None, scene_cut: bool = False) -> int | None:
        """Send one frame, (H, W, 4) RGBA or (H, W, 3) RGB uint8 top-down, its `planes` (see client_planes) and
        `scene_cut` (a new shot: camera cut, level load, teleport). Returns its frame id, or None when no credit is
        left: the frame then waits as the one pending frame (replacing an older one, and keeping its scene cut) and
        goes out when credit returns. Do not modify `image` or a plane until its result arrives."""
        build.check_image(image, self.welcome)
        build.check_txt2img_off(self.txt2img)
        self._ensure_session()
        extra = client_planes.frame_planes(planes, plane_info, self.welcome)  # descriptions, arrays
        frame_id = self._frames.new_id()
        image = np.ascontiguousarray(image)
        if self.credits <= 0:
            if self._frames.hold((frame_id, image, stream_id, extra, scene_cut)):
                self.counters.replaced_pending += 1
            self._heartbeat()
            return None
        self._send_frame((frame_id, image, stream_id, extra, scene_cut))
        return frame_id

    def send_style_image(self, name: str, image: np.ndarray) -> None:
        """Send style image `name` ((H, W, 3|4) uint8, top row first) for the server's IP-Adapter (StyleImages, 1.4),
        replacing one of that name; weigh them with set_params(style_blend=...). Re-sent after a reconnect."""
        self._ensure_session()
        header, pixels = build.style_image(name, image, self.welcome)
        self._io.send_frame(header, pixels)
        self._replay.remember_style(header, pixels)

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
        return self._frames.next_frame_id

    @property
    def pending(self) -> bool:
        """True when a frame waits for credit."""
        return self._frames.pending is not None

    # ------------------------------------------------------------------ control

    def set_prompt(self, prompt: str | Sequence[tuple[str, float]], negative_prompt: str = "", *,
                   transition_frames: int = 0, transition_seconds: float = 0.0, stream_id: int = 0) -> None:
        """Change the prompt: a text, or a weighted blend [(text, weight), ...]."""
        message = build.prompt(prompt, negative_prompt, transition_frames=transition_frames,
                               transition_seconds=transition_seconds, stream_id=stream_id)
        self._control(message)
        self._replay.prompt = message

    def set_params(self, *, seed: int | Sequence[tuple[int, float]] | None = None, stream_id: int = 0,
                   **values: Any) -> None:
        """Change runtime parameters, by their registry names (sdbridge.params); only the ones given change.

        `seed` may be a weighted blend [(seed, weight), ...]. The others: guidance_scale, delta, t_index_list,
        similarity_filter, similarity_threshold, max_skip_frames, cfg_mode ("none", "self", "initialize", "full"
        or a CfgMode), txt2img; named weights as [(name, value), ...] or {name: value}: lora_weights,
        controlnet_scale / controlnet_start / controlnet_end (name: the ControlNet's kind), style_blend (name: a
        style image's, see send_style_image); the protocol 1.4 numbers (latent_feedback, motion_warp(_step),
        scene_cut_threshold, ip_adapter_scale, attention_bank(_interval), feature_injection(_threshold)) and
        attention_bank_blocks ("all", "down", "mid", "up"). `txt2img=True`: the server generates frames from the
        prompt alone, one per credit given with `request_frames`; `submit` is refused until `txt2img=False`
        (protocol 1.2 servers; TransportError when the server does not offer it). Each value is checked here
        against its registry range, the server's check: InputError naming the parameter, value and range.
        """
        message = build.params_message(values, seed, stream_id)
        build.check_txt2img_offered(message, self.welcome, self.endpoint)
        self._control(message)
        self._replay.remember_params(message)

    @property
    def txt2img(self) -> bool:
        """True while this client asked the server for generated frames (set_params(txt2img=True))."""
        return bool(self._replay.params.get("txt2img"))

    def request_frames(self, count: int | None = None) -> int:
        """In txt2img mode, ask for up to `count` generated frames (None: one per credit held); returns how many
        were asked for (0 without credit). Each spends a credit; `receive` returns them, each returning one."""
        build.check_txt2img_on(self.txt2img)
        self._ensure_session()
        wanted = self.credits if count is None else min(count, self.credits)
        if wanted <= 0:
            self._heartbeat()
            return 0
        self._io.send(m.Credit(granted=wanted))
        self.credits -= wanted
        return wanted

    def send_event(self, name: str, payload: Mapping[str, bool | int | float | str] | None = None) -> None:
        """Report a game event (e.g. "enter_zone", {"biome": "forest"})."""
        self._control(build.game_event(name, payload, self._frames.next_frame_id - 1))

    def set_state(self, key: str | Mapping[str, bool | int | float | str],
                  value: bool | int | float | str | None = None, *, replace_all: bool = False) -> None:
        """Set one state variable (`set_state("time_of_day", "night")`) or several from a mapping."""
        message = build.state(key, value, replace_all)
        self._control(message)
        self._replay.remember_state(message)

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
        self._io.send(self._ping_message())

    # ------------------------------------------------------------------ internals

    def _send_frame(self, frame: PendingFrame) -> None:
        frame_id, image, stream_id, (descs, arrays), cut = frame
        self._io.send_frame(build.frame_header(frame_id, image, self.session_id, stream_id, descs, cut), image, arrays)
        self.credits -= 1
        self.counters.frames_sent += 1
        self._frames.sent(frame_id)

    def _flush_pending(self) -> None:
        if self._frames.pending is not None and self.credits > 0 and self.connected:
            frame = self._frames.take_pending()
            assert frame is not None
            self._send_frame(frame)

    def _control(self, message: m.Message) -> None:
        self._ensure_session()
        self._io.send(message)

    def _open_socket(self) -> None:
        self._close_socket()
        self._io.open(self.endpoint)

    def _close_socket(self) -> None:
        self._io.close()
        self.credits = 0

    def _pump(self, timeout: float) -> None:
        """Handle messages until a Result or Stats arrives, the session is lost, or nothing more comes
        within `timeout` seconds. Messages already waiting are handled even when the time is up (up to
        256 of them), so `receive(timeout=0)` still returns a result that has arrived."""
        deadline = time.monotonic() + timeout
        late = 0
        while late < 256:
            remaining = deadline - time.monotonic()
            late += remaining <= 0
            received = self._io.recv(max(0.0, remaining))
            if received is None or self._on_message(*received) or self._session_lost:
                return

    def _on_message(self, message: m.Message, pixels: memoryview | None) -> bool:
        """Handle one message; True when it is something a caller waits for (Result, Stats)."""
        if isinstance(message, m.ResultHeader):
            assert pixels is not None
            self._on_result(message, pixels)
            return True
        if isinstance(message, m.Credit):
            self.credits += message.granted
            self.counters.credits_returned += message.granted
            self._flush_pending()
        elif isinstance(message, m.ErrorMsg):
            self.counters.errors += 1
            self.counters.recent_errors.append(message)
            _log_server_error(message, self.auto_reconnect)
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
            self.wanted_planes = build.wanted_planes(message, self.wanted_planes)
            if message.kind is m.NoticeKind.SERVER_SHUTDOWN:  # a draining replica: move (to another one)
                self._lose(f"server shutting down: {message.message}")
            if self.on_notice is not None:
                self.on_notice(message)
        return False

    def _on_result(self, message: m.ResultHeader, pixels: memoryview) -> None:
        """Queue a result for `receive`; its credit may send the pending frame."""
        self.credits += message.credits_granted or 1
        image = build.result_image(message, pixels)
        timings = build.result_timings(message)
        round_trip = self._frames.round_trip(message.frame_id)
        if round_trip is not None:
            timings["round_trip"] = round_trip
        self._results.append(BridgeResult(message.frame_id, image, timings, message.is_warmup, message.skipped,
                                          message.source_frame_id, message.stream_id, message.session_id))
        self.counters.results += 1
        self._flush_pending()

    def _heartbeat_period(self) -> float:
        interval = self.welcome.heartbeat_interval_ms / 1000.0 if self.welcome else 0.0
        return interval if interval > 0 else 1.0

    def _heartbeat(self) -> None:
        if self.connected and self.welcome and self.welcome.heartbeat_interval_ms > 0 \
                and time.monotonic() - self._io.last_sent >= self._heartbeat_period():
            self._io.send(self._ping_message())

    def _check_lost(self) -> None:
        """Give the session up after `lost_after` s of silence, once a probe Ping went unanswered
        (ClientSocket.check_silence says why the clock alone is not enough)."""
        if not self.connected:
            return
        reason = self._io.check_silence(self.lost_after, self._drain, self._ping_message)
        if reason:
            self._lose(reason)

    def _ping_message(self) -> m.Ping:
        """A Ping stamped now (heartbeats, ping(), the silence probe)."""
        return build.ping(self._next_request)

    def _lose(self, reason: str) -> None:
        """Mark the session lost (the next call reconnects) and remember why."""
        self._session_lost = True
        self.counters.lost_reason = reason

    def _drain(self) -> None:
        """Handle every message already waiting (no blocking), e.g. an Error saying the session ended."""
        for _ in range(256):
            received = self._io.recv(0)
            if received is None:
                return
            self._on_message(*received)

    def _ensure_session(self, drain: bool = True) -> None:
        """Raise if never connected; reconnect a lost session. `drain` first handles what already arrived
        (an Error or Bye saying the session ended, credits that let a frame go out now)."""
        if self.welcome is None:
            raise TransportError("not connected; call connect() first")
        if drain and self._io.is_open:
            self._drain()
        if self._session_lost or not self._io.is_open:  # (a failed reconnect leaves no socket: retry)
            if not self.auto_reconnect:
                raise TransportError(f"the session with {self.endpoint} ended; call reconnect()")
            log.info("session lost; reconnecting to %s", self.endpoint)
            _reconnect_after_loss(self, self._connect_timeout)


def _reconnect_after_loss(client: BridgeClient, timeout: float) -> None:
    """Reconnect a lost session with backoff within `client.lost_after`; a failure says first why the session went
    (a draining server: "server shutting down"), then why no new one came."""
    try:
        with_backoff(client.reconnect, client.backoff, client.lost_after, timeout)
    except TransportError as exc:
        raise TransportError(f"the session was lost ({client.counters.lost_reason}) and reconnecting failed: "
                             f"{exc}") from exc
