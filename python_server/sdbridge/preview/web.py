"""The preview's HTTP + websocket server (asyncio, `websockets`) on its own thread.

GET / serves the page (static/index.html), /app.js and /style.css its code; /ws is the websocket.
The bridge server is reached only through `PreviewHost`: a thread-safe snapshot of its sessions and a
control inbox that its I/O thread applies exactly like a client's Prompt/Params/GameEvent message. The
watched session's frames come from `FrameTaps` and are JPEG-encoded here, once per kept frame, for
every page that watches it; so are the conditioning images of the served ControlNets, made from a kept input
frame's planes (conditioning.py) once per kept frame.

Security: the server binds 127.0.0.1 unless told otherwise; binding any other host requires a token
(generated when none is configured), which the page address carries (`?token=`) and both the page and
the websocket check. Engine clients never get that token: each is told the address of its own session,
whose session token (access.py) lets the page watch and steer that session only. A websocket whose Origin
is another site than the page's own is refused, and without a token only loopback Host names are served
(no DNS rebinding), so a web page the user visits cannot drive the preview through the browser.

Bounded cost: at most limits.max_preview_pages pages at once (the next gets HTTP 503 naming the limit);
each session's snapshot is at most limits.max_preview_snapshot_bytes of JSON (snapshot.py) and a page gets
it only when it changed; malformed HTTP (bad request line, oversized or duplicated headers) gets a 400.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers, MultipleValuesError
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from sdbridge.config import LimitsConfig, PreviewConfig
from sdbridge.errors import ConfigError, InputError, TransportError
from sdbridge.preview.access import Grant, PageAccess
from sdbridge.preview.commands import Weights, command_message, page_hello
from sdbridge.preview.conditioning import ConditioningViews
from sdbridge.preview.encode import control_message, image_message, jpeg_of, to_jpeg
from sdbridge.preview.http400 import StrictHttpConnection
from sdbridge.preview.snapshot import bounded_json
from sdbridge.preview.style_upload import style_image_command
from sdbridge.preview.taps import FrameTaps, TapFrame
from sdbridge.protocol import messages as m

log = logging.getLogger(__name__)

_STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
           "/index.html": ("index.html", "text/html; charset=utf-8"),
           "/app.js": ("app.js", "text/javascript; charset=utf-8"),
           "/style.css": ("style.css", "text/css; charset=utf-8")}
_SAMPLE_PERIOD = 0.5  # seconds between session snapshots (charts, session list)
_RATE_WINDOW = 4.0  # rates are averaged over this many seconds (slow models make a frame every few seconds)
_TOKEN_REFUSED = ("the preview token is missing or wrong; open the address `sdbridge serve` printed (it carries "
                  "?token=...) or the one your engine client was told for its session\n")


class PreviewHost(Protocol):
    """What the preview needs from the bridge server (implemented by BridgeServer)."""

    def preview_sessions(self) -> list[dict[str, Any]]:
        """A snapshot of every live session: ids, client, counters, current values (thread-safe)."""
        ...

    def submit_control(self, session_id: int, message: m.Message, source: str,
                       pixels: bytes | None = None) -> concurrent.futures.Future[None]:
        """Apply a Prompt/Params/GameEvent (or a StyleImage with its `pixels`) to a session on the I/O thread; the
        future fails with its error."""
        ...


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class _Rates:
    at: float
    frames_in: int
    frames_out: int
    skipped: int
    dropped: int


class PreviewServer:
    """Serves the page and websocket on `config.host:config.port` from a thread of its own."""

    def __init__(self, config: PreviewConfig, host: PreviewHost, taps: FrameTaps,
                 limits: LimitsConfig | None = None, weights: Weights | None = None,
                 conditioning: ConditioningViews | None = None) -> None:
        """`limits`: the server's limits (max_preview_pages, max_preview_snapshot_bytes, text and list sizes);
        `weights`: the served names of the named weights (commands.page_hello); `conditioning`: the served
        ControlNets' conditioning views (None: no ControlNet)."""
        self.config = config
        self.weights = dict(weights or {})
        self.conditioning = conditioning
        self.limits = limits or LimitsConfig()
        self._host = host
        self._taps = taps
        self.token = config.token
        if not is_loopback(config.host) and not self.token:
            self.token = secrets.token_urlsafe(18)
        self.access = PageAccess(self.token)
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._snapshots: dict[int, str] = {}  # session id -> bounded JSON; replaced only when it changed
        self._all_sessions = _sessions_message([])  # every session (pages with the server-wide token)
        self._history: dict[int, deque[_Rates]] = {}  # per session: counters of the last _RATE_WINDOW seconds
        self._encoded: dict[tuple[int, str], tuple[TapFrame, bytes]] = {}
        self._controls: dict[int, tuple[TapFrame, list[bytes]]] = {}  # per session: input frame, control messages
        self._values: dict[int, dict[str, Any]] = {}  # per session: its current values (last snapshot)
        self.images_sent = 0
        self.snapshots_sent = 0  # sessions messages sent to pages (only when they changed)
        self.thread_id = 0
        self.connections = 0

    # ------------------------------------------------------------------ lifecycle (any thread)

    def start(self, timeout: float = 10.0) -> str:
        """Bind and serve from a new thread; returns the page address (with the token if one is needed)."""
        self._thread = threading.Thread(target=self._thread_main, name="sdbridge-preview", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TransportError(f"the preview server did not start within {timeout} s")
        if self._failure is not None:
            raise TransportError(f"preview server cannot listen on {self.config.host}:{self.config.port}: "
                                 f"{self._failure}; pick another --preview-port or --preview-host") from self._failure
        return self.url

    @property
    def url(self) -> str:
        """The page address (includes `?token=` when a token is required)."""
        host = self.config.host
        if host in ("", "0.0.0.0", "::"):
            host = socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        query = f"?token={quote(self.token)}" if self.token else ""
        return f"http://{host}:{self.port}/{query}"

    def session_url(self, session_id: int) -> str:
        """The page address of `session_id` alone (its session token, never the server-wide one)."""
        base = self.url.split("?", 1)[0]
        return f"{base}?token={quote(self.access.session_token(session_id))}&session={session_id}"

    def close(self) -> None:
        """Stop serving and join the thread. Idempotent."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    # ------------------------------------------------------------------ preview thread

    def _thread_main(self) -> None:
        self.thread_id = threading.get_native_id()  # benchmarks read this thread's CPU time from /proc
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start(); nothing else may escape a thread
            if not self._ready.is_set():
                self._failure = exc
                self._ready.set()
            else:
                log.exception("preview server stopped on an error")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with serve(self._connection, self.config.host, self.config.port, process_request=self._http,
                         compression=None, max_size=64 * 1024, ping_interval=20, ping_timeout=20,
                         server_header="sdbridge-preview", create_connection=StrictHttpConnection) as server:
            sock = next(iter(server.sockets))
            self.port = int(sock.getsockname()[1])
            self._ready.set()
            sampler = asyncio.create_task(self._sample_forever())
            try:
                await self._stopping.wait()
            finally:
                sampler.cancel()
                server.close()

    # -- HTTP

    def _grant(self, path: str) -> Grant | None:
        """What the token in `path`'s query allows (None: refused)."""
        tokens = parse_qs(urlsplit(path).query).get("token")
        return self.access.grant(tokens[0] if tokens else None)

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            return self._route(connection, request)
        except MultipleValuesError as exc:  # a header we read is given twice
            return connection.respond(400, f"bad request: the {exc} header is given more than once\n")

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        hosts = request.headers.get_all("Host")
        if len(hosts) != 1:
            return connection.respond(400, f"bad request: {len(hosts)} Host headers; HTTP/1.1 needs exactly one\n")
        parts = urlsplit(request.path)
        host_name = urlsplit("//" + hosts[0]).hostname or ""
        if not self.token and not is_loopback(host_name):  # DNS rebinding: a foreign name resolving to us
            return connection.respond(403, f"Host {host_name!r} is not this machine's loopback address; open "
                                           f"http://127.0.0.1:{self.port}/\n")
        if parts.path == "/ws":
            if self._grant(request.path) is None:
                return connection.respond(403, _TOKEN_REFUSED)
            origin = request.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc != hosts[0]:
                return connection.respond(403, f"websocket Origin {origin} is not this page ({hosts[0]})\n")
            if self.connections >= self.limits.max_preview_pages:
                return connection.respond(503, self._pages_full())
            return None  # go on with the websocket handshake
        static = _STATIC.get(parts.path)
        if static is None:
            return connection.respond(404, f"no such page: {parts.path}; the preview is at /\n")
        if parts.path in ("/", "/index.html") and self._grant(request.path) is None:
            return connection.respond(403, _TOKEN_REFUSED)
        name, content_type = static
        body = resources.files("sdbridge.preview").joinpath("static", name).read_bytes()
        headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
        return Response(200, "OK", headers, body)

    def _pages_full(self) -> str:
        limit = self.limits.max_preview_pages
        return (f"the preview already has {self.connections} pages open, the limit "
                f"(limits.max_preview_pages={limit}); close a preview page or tab, or raise "
                f"limits.max_preview_pages in the server config\n")

    # -- shared sampling

    async def _sample_forever(self) -> None:
        while True:
            try:
                if self.connections:  # nobody watches: no snapshot (rates restart with the next page)
                    self._sample()
            except Exception:  # a bug of ours must not end the preview
                log.exception("preview: session snapshot failed")
            await asyncio.sleep(_SAMPLE_PERIOD)

    def _sample(self) -> None:
        now = time.monotonic()
        sessions = self._host.preview_sessions()
        live: dict[int, deque[_Rates]] = {}
        for info in sessions:
            sid = int(info["id"])
            current = _Rates(now, info["frames_in"], info["frames_out"], info["skipped"], info["dropped"])
            history = self._history.get(sid) or deque()
            while history and now - history[0].at > _RATE_WINDOW:
                history.popleft()
            before = history[0] if history else None
            history.append(current)
            if before is not None and now > before.at:
                dt = now - before.at
                out = current.frames_out - before.frames_out
                info["fps_in"] = (current.frames_in - before.frames_in) / dt
                info["fps_out"] = out / dt
                info["skip_rate"] = (current.skipped - before.skipped) / out if out > 0 else 0.0
                info["drop_rate"] = ((current.dropped - before.dropped)
                                     / max(1, current.frames_in - before.frames_in))
            live[sid] = history
        self._history = live
        for key in [k for k in self._encoded if k[0] not in live]:  # ended sessions: drop their last images
            del self._encoded[key]
        self._controls = {sid: entry for sid, entry in self._controls.items() if sid in live}
        self._values = {int(info["id"]): dict(info.get("values") or {}) for info in sessions}
        snapshots: dict[int, str] = {}
        for info in sessions:  # keep the old string when nothing changed: pages compare by identity
            sid = int(info["id"])
            text = bounded_json(info, self.limits.max_preview_snapshot_bytes)
            old = self._snapshots.get(sid)
            snapshots[sid] = old if old == text else text
        if list(snapshots.items()) != list(self._snapshots.items()):
            self._all_sessions = _sessions_message(list(snapshots.values()))
        self._snapshots = snapshots

    def _sessions_for(self, grant: Grant, last: str) -> str:
        """The sessions message a page with `grant` should have (`last`, the same object, when unchanged)."""
        if grant.session is None:
            return self._all_sessions
        text = self._snapshots.get(grant.session)
        message = _sessions_message([text] if text is not None else [])
        return last if message == last else message

    def _image(self, session_id: int, view: str) -> tuple[TapFrame, bytes] | None:
        """The newest kept frame of a view with its encoded message (encoded once for all pages)."""
        frame = self._taps.latest(session_id, view)
        if frame is None:
            return None
        cached = self._encoded.get((session_id, view))
        if cached is not None and cached[0] is frame:
            return cached
        entry = (frame, image_message(frame, view, to_jpeg(frame, self.config.jpeg_quality,
                                                           self.config.max_side)))
        self._encoded[(session_id, view)] = entry
        return entry

    def _control_images(self, session_id: int) -> tuple[TapFrame, list[bytes]] | None:
        """The conditioning image messages of the newest kept input frame (made once for all pages)."""
        frame = self._taps.latest(session_id, FrameTaps.INPUT)
        if frame is None or self.conditioning is None:
            return None
        cached = self._controls.get(session_id)
        if cached is not None and cached[0] is frame:
            return cached
        images = self.conditioning.images(frame)
        entry = (frame, [control_message(frame, kind, jpeg_of(image, self.config.jpeg_quality))
                         for kind, image in images.items()])
        self._controls[session_id] = entry
        return entry

    # -- one page

    async def _connection(self, ws: ServerConnection) -> None:
        grant = self._grant(ws.request.path if ws.request is not None else "")
        if grant is None:  # process_request refused it already; checked again in case of a change
            await ws.close(1008, "the preview token is missing or wrong")
            return
        if self.connections >= self.limits.max_preview_pages:  # several handshakes passed the HTTP check at once
            await ws.close(1013, self._pages_full()[:120])
            return
        self.connections += 1
        state = _PageState(grant=grant)
        sender = asyncio.create_task(self._send_forever(ws, state))
        try:
            async for raw in ws:
                reply = await self._command(raw, state)
                await ws.send(json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
            if state.watched is not None:
                self._taps.unwatch(state.watched)
            self.connections -= 1

    async def _send_forever(self, ws: ServerConnection, state: _PageState) -> None:
        period = 1.0 / self.config.fps
        sent: dict[str, TapFrame] = {}
        try:
            controls = self.conditioning.kinds if self.conditioning is not None else ()
            await ws.send(json.dumps({"type": "hello", "fps": self.config.fps, "session": state.grant.session,
                                      **page_hello(self.limits, self.weights, controls)}))
            while True:
                message = self._sessions_for(state.grant, state.sessions_sent)
                if message is not state.sessions_sent:  # only when it changed
                    state.sessions_sent = message
                    self.snapshots_sent += 1
                    await ws.send(message)
                sid = state.watched
                if sid is not None:
                    for view in (FrameTaps.INPUT, FrameTaps.OUTPUT):
                        entry = self._image(sid, view)
                        if entry is not None and sent.get(view) is not entry[0]:
                            sent[view] = entry[0]
                            await ws.send(entry[1])
                            self.images_sent += 1
                    controls = self._control_images(sid)
                    if controls is not None and sent.get("controls") is not controls[0]:
                        sent["controls"] = controls[0]
                        for message in controls[1]:
                            await ws.send(message)
                            self.images_sent += 1
                await asyncio.sleep(period)
        except ConnectionClosed:
            pass

    async def _command(self, raw: str | bytes, state: _PageState) -> dict[str, Any]:
        request: Any = None
        try:
            if isinstance(raw, bytes):
                raise InputError("the preview websocket accepts JSON text messages only")
            request = json.loads(raw)
            if not isinstance(request, dict):
                raise InputError("a preview command must be a JSON object with an 'op'")
            op = request.get("op")
            if op == "watch":
                sid = request.get("session")
                if sid is not None and not isinstance(sid, int):
                    raise InputError(f"watch.session={sid!r} must be a session id (integer) or null")
                self._check_grant(state.grant, sid, "watch")
                if state.watched is not None:
                    self._taps.unwatch(state.watched)
                state.watched = sid
                if sid is not None:
                    self._taps.watch(sid)
                return {"type": "ack", "req": request.get("req"), "ok": True}
            sid = request.get("session")
            if not isinstance(sid, int):
                raise InputError(f"{op}.session={sid!r} must be a session id (integer)")
            self._check_grant(state.grant, sid, str(op))
            if op == "style_image":  # an uploaded style picture: a StyleImage and its pixels (style_upload.py)
                message, pixels = style_image_command(request, self.limits)
                future = self._host.submit_control(sid, message, "preview", pixels)
            else:
                message = command_message(request, self.limits, self.weights, self._values.get(sid))
                future = self._host.submit_control(sid, message, "preview")
            await asyncio.wait_for(asyncio.wrap_future(future), timeout=5.0)
            return {"type": "ack", "req": request.get("req"), "ok": True}
        except (InputError, ConfigError, ValueError, TypeError, KeyError) as exc:
            return _failed(request, str(exc))
        except TimeoutError:
            return _failed(request, "the server did not apply the change within 5 s (is it shutting down?)")
        except Exception as exc:  # an error raised by the server's own checks (ProtocolError, ...)
            return _failed(request, f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _check_grant(grant: Grant, session_id: int | None, op: str) -> None:
        if not grant.allows(session_id):
            raise InputError(f"{op}.session={session_id}: this page was opened with the address of session "
                             f"{grant.session} and may watch and change that session only")


def _sessions_message(snapshots: list[str]) -> str:
    """The "sessions" message from sessions' bounded JSON snapshots."""
    return '{"type":"sessions","sessions":[' + ",".join(snapshots) + "]}"


@dataclass
class _PageState:
    grant: Grant
    watched: int | None = None
    sessions_sent: str = ""


def _failed(request: Any, error: str) -> dict[str, Any]:
    req = request.get("req") if isinstance(request, dict) else None
    return {"type": "ack", "req": req, "ok": False, "error": error}
