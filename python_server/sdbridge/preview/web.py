"""The preview's HTTP + websocket server (asyncio, `websockets`) on its own thread.

GET / serves the page (static/index.html), /app.js and /style.css its code; /ws is the websocket.
The bridge server is reached only through `PreviewHost`: a thread-safe snapshot of its sessions and a
control inbox that its I/O thread applies exactly like a client's Prompt/Params/GameEvent message. The
watched session's frames come from `FrameTaps` and are JPEG-encoded here, once per kept frame, for
every page that watches it.

Security: the server binds 127.0.0.1 unless told otherwise; binding any other host requires a token
(generated when none is configured), which the page address carries (`?token=`) and both the page and
the websocket check. A websocket whose Origin is another site than the page's own is refused, and without a
token only loopback Host names are served (no DNS rebinding), so a web page the user visits cannot drive
the preview through the browser.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hmac
import ipaddress
import json
import logging
import math
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from sdbridge.config import PreviewConfig
from sdbridge.errors import ConfigError, InputError, TransportError
from sdbridge.preview.encode import image_message, to_jpeg
from sdbridge.preview.taps import FrameTaps, TapFrame
from sdbridge.protocol import messages as m

log = logging.getLogger(__name__)

_STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
           "/index.html": ("index.html", "text/html; charset=utf-8"),
           "/app.js": ("app.js", "text/javascript; charset=utf-8"),
           "/style.css": ("style.css", "text/css; charset=utf-8")}
_SAMPLE_PERIOD = 0.5  # seconds between session snapshots (charts, session list)
_RATE_WINDOW = 4.0  # rates are averaged over this many seconds (slow models make a frame every few seconds)
_MAX_TEXT = 4096


class PreviewHost(Protocol):
    """What the preview needs from the bridge server (implemented by BridgeServer)."""

    def preview_sessions(self) -> list[dict[str, Any]]:
        """A snapshot of every live session: ids, client, counters, current values (thread-safe)."""
        ...

    def submit_control(self, session_id: int, message: m.Message, source: str) -> concurrent.futures.Future[None]:
        """Apply a Prompt/Params/GameEvent to a session on the I/O thread; the future fails with its error."""
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

    def __init__(self, config: PreviewConfig, host: PreviewHost, taps: FrameTaps) -> None:
        self.config = config
        self._host = host
        self._taps = taps
        self.token = config.token
        if not is_loopback(config.host) and not self.token:
            self.token = secrets.token_urlsafe(18)
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._sessions_message = json.dumps({"type": "sessions", "sessions": []})
        self._sessions_version = 0
        self._history: dict[int, deque[_Rates]] = {}  # per session: counters of the last _RATE_WINDOW seconds
        self._encoded: dict[tuple[int, str], tuple[TapFrame, bytes]] = {}
        self.images_sent = 0
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
                                 f"{self._failure}; pick another --preview-port") from self._failure
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
        """The page address that opens with `session_id` selected."""
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}session={session_id}"

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
                         server_header="sdbridge-preview") as server:
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

    def _token_ok(self, query: dict[str, list[str]]) -> bool:
        if not self.token:
            return True
        given = (query.get("token") or [""])[0]
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        host_name = urlsplit("//" + request.headers.get("Host", "")).hostname or ""
        if not self.token and not is_loopback(host_name):  # DNS rebinding: a foreign name resolving to us
            return connection.respond(403, f"Host {host_name!r} is not this machine's loopback address; open "
                                           f"http://127.0.0.1:{self.port}/\n")
        if parts.path == "/ws":
            if not self._token_ok(query):
                return connection.respond(403, "the preview token is missing or wrong; open the address "
                                               "`sdbridge serve` printed (it carries ?token=...)\n")
            origin = request.headers.get("Origin")
            host = request.headers.get("Host", "")
            if origin is not None and urlsplit(origin).netloc != host:
                return connection.respond(403, f"websocket Origin {origin} is not this page ({host})\n")
            return None  # go on with the websocket handshake
        static = _STATIC.get(parts.path)
        if static is None:
            return connection.respond(404, f"no such page: {parts.path}; the preview is at /\n")
        if parts.path in ("/", "/index.html") and not self._token_ok(query):
            return connection.respond(403, "the preview token is missing or wrong; open the address "
                                           "`sdbridge serve` printed (it carries ?token=...)\n")
        name, content_type = static
        body = resources.files("sdbridge.preview").joinpath("static", name).read_bytes()
        headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
        return Response(200, "OK", headers, body)

    # -- shared sampling

    async def _sample_forever(self) -> None:
        while True:
            try:
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
        self._sessions_message = json.dumps({"type": "sessions", "time": time.time(), "sessions": sessions},
                                            default=_jsonable)
        self._sessions_version += 1

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

    # -- one page

    async def _connection(self, ws: ServerConnection) -> None:
        self.connections += 1
        state = _PageState()
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
            await ws.send(json.dumps({"type": "hello", "fps": self.config.fps}))
            while True:
                if state.sessions_version != self._sessions_version:
                    state.sessions_version = self._sessions_version
                    await ws.send(self._sessions_message)
                sid = state.watched
                if sid is not None:
                    for view in (FrameTaps.INPUT, FrameTaps.OUTPUT):
                        entry = self._image(sid, view)
                        if entry is not None and sent.get(view) is not entry[0]:
                            sent[view] = entry[0]
                            await ws.send(entry[1])
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
                if state.watched is not None:
                    self._taps.unwatch(state.watched)
                state.watched = sid
                if sid is not None:
                    self._taps.watch(sid)
                return {"type": "ack", "req": request.get("req"), "ok": True}
            sid = request.get("session")
            if not isinstance(sid, int):
                raise InputError(f"{op}.session={sid!r} must be a session id (integer)")
            message = command_message(request)
            future = self._host.submit_control(sid, message, "preview")
            await asyncio.wait_for(asyncio.wrap_future(future), timeout=5.0)
            return {"type": "ack", "req": request.get("req"), "ok": True}
        except (InputError, ConfigError, ValueError, TypeError, KeyError) as exc:
            return _failed(request, str(exc))
        except TimeoutError:
            return _failed(request, "the server did not apply the change within 5 s (is it shutting down?)")
        except Exception as exc:  # an error raised by the server's own checks (ProtocolError, ...)
            return _failed(request, f"{type(exc).__name__}: {exc}")


@dataclass
class _PageState:
    watched: int | None = None
    sessions_version: int = -1


def _failed(request: Any, error: str) -> dict[str, Any]:
    req = request.get("req") if isinstance(request, dict) else None
    return {"type": "ack", "req": req, "ok": False, "error": error}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return list(value)
    if hasattr(value, "value"):  # Enum
        return value.value
    return str(value)


def _text(request: dict[str, Any], key: str, default: str = "") -> str:
    value = request.get(key, default)
    if not isinstance(value, str):
        raise InputError(f"{key}={value!r} must be a string")
    if len(value) > _MAX_TEXT:
        raise InputError(f"{key} has {len(value)} characters, above {_MAX_TEXT}")
    return value


def _number(request: dict[str, Any], key: str, kind: Callable[[Any], Any]) -> Any:
    value = request[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{key}={value!r} must be a finite number")
    if kind is int and value != int(value):
        raise InputError(f"{key}={value!r} must be an integer")
    return kind(value)


def command_message(request: dict[str, Any]) -> m.Message:
    """The bridge message a page command stands for (the same message an engine client would send)."""
    op = request.get("op")
    if op == "prompt":
        seconds = _number(request, "transition_seconds", float) if "transition_seconds" in request else 0.0
        return m.Prompt(text=_text(request, "text"), negative=_text(request, "negative"),
                        transition_seconds=seconds)
    if op == "params":
        fields: dict[str, Any] = {}
        for key, kind in (("guidance_scale", float), ("delta", float), ("seed", int),
                          ("similarity_threshold", float), ("similarity_max_skip", int)):
            if key in request:
                fields[key] = _number(request, key, kind)
        if "similarity_filter_enabled" in request:
            enabled = request["similarity_filter_enabled"]
            if not isinstance(enabled, bool):
                raise InputError(f"similarity_filter_enabled={enabled!r} must be true or false")
            fields["similarity_filter_enabled"] = enabled
        if "t_index_list" in request:
            t_index = request["t_index_list"]
            if not isinstance(t_index, list) or not t_index or not all(
                    isinstance(t, int) and not isinstance(t, bool) for t in t_index):
                raise InputError(f"t_index_list={t_index!r} must be a non-empty list of integers")
            fields["t_index_list"] = tuple(t_index)
        if not fields:
            raise InputError("params: no parameter given (guidance_scale, delta, seed, t_index_list, "
                             "similarity_filter_enabled, similarity_threshold, similarity_max_skip)")
        return m.Params(**fields)
    if op == "event":
        payload = request.get("payload") or {}
        if not isinstance(payload, dict) or not all(
                isinstance(v, bool | int | float | str) for v in payload.values()):
            raise InputError("event.payload must be a JSON object of booleans, numbers and strings")
        name = _text(request, "name").strip()
        if not name:
            raise InputError("event.name is empty; name the event (e.g. boss_appears)")
        return m.GameEvent(name=name, payload={str(k): v for k, v in payload.items()})
    raise InputError(f"unknown preview command op={op!r}; use watch, prompt, params or event")
