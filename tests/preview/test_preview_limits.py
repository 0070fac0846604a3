"""Preview side of the per-session budgets: the page costs bounded bytes and bad input gets a clear refusal.

Malformed HTTP gets a 400 (never a 500 or a traceback); pages are bounded by limits.max_preview_pages; each
session's snapshot by limits.max_preview_snapshot_bytes, sent only when it changed; page commands whose values
do not fit the parameter ranges (and so the wire types) are refused with the field, the value and the range.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

import sdbridge.preview
from sdbridge import params
from sdbridge.config import LimitsConfig, PreviewConfig
from sdbridge.errors import InputError
from sdbridge.preview.commands import PAGE_PARAMS, command_message
from sdbridge.preview.snapshot import bounded_json
from sdbridge.preview.style_upload import MAX_IMAGE_CHARS, PAGE_SIDE
from sdbridge.preview.taps import FrameTaps
from sdbridge.preview.web import PreviewServer
from sdbridge.protocol import messages as m
from sdbridge.protocol.codec import encode
from sdbridge.server import BridgeServer
from tests.conftest import wait_for
from tests.preview.conftest import Streamer


class _FakeHost:
    """A bridge server stand-in whose session snapshot the test sets."""

    def __init__(self) -> None:
        self.sessions: list[dict[str, Any]] = []
        self.controls: list[tuple[int, m.Message]] = []

    def preview_sessions(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self.sessions]

    def submit_control(self, session_id: int, message: m.Message, source: str) -> Any:
        import concurrent.futures

        self.controls.append((session_id, message))
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        future.set_result(None)
        return future


def _session(sid: int, **values: Any) -> dict[str, Any]:
    return {"id": sid, "client": "game", "engine": "pytest", "frames_in": 0, "frames_out": 0, "skipped": 0,
            "dropped": 0, "values": values, "events": []}


@pytest.fixture
def fake() -> Iterator[tuple[PreviewServer, _FakeHost]]:
    host = _FakeHost()
    preview = PreviewServer(PreviewConfig(enabled=True, port=0), host, FrameTaps(10),
                            LimitsConfig(max_preview_pages=2, max_preview_snapshot_bytes=4096))
    preview.start()
    yield preview, host
    preview.close()


def _ws(preview: PreviewServer) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{preview.port}/ws", open_timeout=5)


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        out = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            out += chunk


BAD_REQUESTS = {
    "duplicate Host": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n",
    "no Host": b"GET / HTTP/1.1\r\n\r\n",
    "bad request line": b"GARBAGE\r\n\r\n",
    "oversized header": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    "too many headers": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(300))
                        + b"\r\n",
    "duplicate Origin": b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                        b"Origin: http://127.0.0.1\r\nOrigin: http://evil.example\r\n\r\n",
    "POST with a body": b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello",
}


@pytest.mark.parametrize("kind", sorted(BAD_REQUESTS))
def test_malformed_http_gets_a_400_and_no_traceback(fake, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    preview, _ = fake
    with caplog.at_level(logging.DEBUG):
        reply = _raw(preview.port, BAD_REQUESTS[kind])
    status = reply.split(b"\r\n", 1)[0]
    assert status == b"HTTP/1.1 400 Bad Request", f"{kind}: {reply[:200]!r}"
    assert b"bad request" in reply
    noisy = [r for r in caplog.records if r.levelno >= logging.ERROR or (r.exc_info and r.levelno >= logging.INFO)]
    assert noisy == []  # no 500, no logged traceback
    assert _raw(preview.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").startswith(b"HTTP/1.1 200")


def test_open_pages_are_bounded_with_a_clear_refusal(fake) -> None:
    preview, _ = fake
    first, second = _ws(preview), _ws(preview)
    try:
        wait_for(lambda: preview.connections == 2, 5, "two pages open")
        with pytest.raises(InvalidStatus) as info:
            _ws(preview)
        assert info.value.response.status_code == 503
        body = info.value.response.body.decode()
        assert "limits.max_preview_pages=2" in body and "close a preview page" in body
    finally:
        first.close()
    wait_for(lambda: preview.connections == 1, 5, "the closed page to be counted out")
    with _ws(preview) as third:
        assert json.loads(third.recv(timeout=5))["type"] == "hello"
    second.close()


def _sessions_messages(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            raw = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        if isinstance(raw, str) and json.loads(raw)["type"] == "sessions":
            out.append({"size": len(raw.encode()), **json.loads(raw)})
    return out


def test_snapshots_are_bounded_and_sent_only_when_they_change(fake) -> None:
    preview, host = fake
    blend = [[f"prompt {i} " + "x" * 1000, 1.0] for i in range(1000)]  # ~1 MB of prompt blend
    host.sessions = [_session(1, prompt=blend, negative_prompt="n" * 50_000)]
    with _ws(preview) as ws:
        # the first snapshot, then the second sample adds the rates (0 frames/s): two messages, then none (waited
        # for up to 3.2 s: on a busy machine the second sample came after a fixed 1.6 s window)
        with_session: list[dict[str, Any]] = []
        deadline = time.monotonic() + 3.2
        while len(with_session) < 2 and time.monotonic() < deadline:
            with_session += [msg for msg in _sessions_messages(ws, 0.2) if msg["sessions"]]
        assert 1 <= len(with_session) <= 2
        again = [msg for msg in _sessions_messages(ws, 1.6) if msg["sessions"]]  # three more samples
        assert again == [], f"{len(again)} unchanged snapshots sent again: {again} after {with_session}"
        snapshot = with_session[-1]["sessions"][0]
        assert max(msg["size"] for msg in with_session) <= 4096 + 64  # one snapshot plus the message's own few bytes
        assert snapshot["id"] == 1 and snapshot["client"] == "game"
        assert "more entries" in snapshot["values"]["prompt"][-1]
        assert "more characters]" in snapshot["values"]["negative_prompt"]
        host.sessions = [_session(1, prompt="a calm lake")]
        changed = wait_for(lambda: [msg for msg in _sessions_messages(ws, 0.6) if msg["sessions"]], 5,
                           "the changed snapshot")
        assert changed[0]["sessions"][0]["values"]["prompt"] == "a calm lake"


def test_bounded_json_says_what_it_left_out() -> None:
    info = _session(3, prompt="p" * 10_000, t_index_list=list(range(40)))
    text = bounded_json(info, 2048)
    assert len(text.encode()) <= 2048
    cut = json.loads(text)
    assert cut["values"]["prompt"].endswith("more characters]") and cut["values"]["prompt"].startswith("ppp")
    assert bounded_json({"id": 1, "rate": float("nan")}, 100) == '{"id":1,"rate":null}'
    tiny = json.loads(bounded_json(info, 10))
    assert tiny["id"] == 3 and "limits.max_preview_snapshot_bytes=10" in tiny["truncated"]


BAD_VALUES = [
    ({"op": "params", "seed": -1}, "seed=-1", "[0, 18446744073709551615]"),
    ({"op": "params", "seed": 2**64}, f"seed={2**64}", "[0, 18446744073709551615]"),
    ({"op": "params", "guidance_scale": 1e39}, "guidance_scale=1e+39", "[0, 30]"),
    ({"op": "params", "guidance_scale": float("nan")}, "guidance_scale=nan", "[0, 30]"),
    ({"op": "params", "delta": float("inf")}, "delta=inf", "[0, 2]"),
    ({"op": "params", "similarity_max_skip": -5}, "max_skip_frames=-5", "[0, 1000]"),
    ({"op": "params", "similarity_threshold": 1.0}, "similarity_threshold=1.0", "[0, 1)"),
    ({"op": "params", "t_index_list": [2**40]}, f"t_index_list entry {2**40}", "[0, 49]"),
    ({"op": "params", "t_index_list": [-1, 10]}, "t_index_list entry -1", "[0, 49]"),
    ({"op": "prompt", "text": "a", "transition_seconds": 1e39}, "transition_seconds=1e+39", "[0, 3600]"),
]


@pytest.mark.parametrize(("command", "field", "bounds"), BAD_VALUES, ids=[b[1] for b in BAD_VALUES])
def test_commands_that_do_not_fit_the_wire_are_refused_naming_field_value_and_range(
        command: dict[str, Any], field: str, bounds: str) -> None:
    with pytest.raises(InputError) as info:
        command_message(command)
    assert field in str(info.value) and bounds in str(info.value)


def test_every_accepted_value_encodes_in_a_notice() -> None:
    """The edges of each range fit the wire: a command the page accepts can always be echoed to the client."""
    edges: dict[str, Any] = {}
    for param in PAGE_PARAMS:
        if param.kind is params.Kind.BOOL:
            edges[param.name] = True
        elif param.kind is params.Kind.INT_LIST:
            edges[param.name] = [param.minimum, param.maximum]
        elif param.kind is params.Kind.WEIGHTS:  # named weights: one entry at each end of the range
            edges[param.name] = [["low", float(param.minimum)], ["high", float(param.maximum)]]
        elif param.kind is params.Kind.ENUM:  # a choice list: its last choice (the highest wire number)
            edges[param.name] = param.choices[-1]
        else:
            top = param.maximum if not param.maximum_exclusive else param.maximum - 0.001
            edges[param.name] = int(top) if param.kind is params.Kind.INT else float(top)
    message = command_message({"op": "params", **edges})
    assert encode(m.Notice(kind=m.NoticeKind.PARAMS_CHANGED, source="preview", params=message, message="x"))
    with pytest.raises(InputError, match=r"t_index_list has 9 steps, above limits.max_t_index_list=8"):
        command_message({"op": "params", "t_index_list": list(range(9))})
    with pytest.raises(InputError, match="does not fit a 64-bit integer"):
        command_message({"op": "event", "name": "hit", "payload": {"hp": 2**63}})


def test_the_hello_message_carries_the_ranges_for_the_pages_inputs(fake) -> None:
    preview, _ = fake
    with _ws(preview) as ws:
        hello = json.loads(ws.recv(timeout=5))
    assert hello["type"] == "hello" and hello["session"] is None
    assert hello["params"] == json.loads(json.dumps(params.to_json()))  # the page's controls: the registry
    seed = next(p for p in hello["params"] if p["name"] == "seed")
    assert seed["minimum_text"] == "0" and seed["maximum_text"] == "18446744073709551615"
    assert hello["limits"]["max_t_index_list"] == 8 and hello["limits"]["max_text_chars"] == 4096
    assert hello["limits"]["style_side"] == PAGE_SIDE and hello["limits"]["style_max_chars"] == MAX_IMAGE_CHARS


def test_the_page_takes_the_style_upload_limits_from_the_hello() -> None:
    """The page scales and bounds a style picture with the server's figures, not copies of them."""
    script = (Path(sdbridge.preview.__file__).parent / "static" / "app.js").read_text(encoding="utf-8")
    assert "state.limits.style_side" in script and "state.limits.style_max_chars" in script
    copies = [str(n) for n in (PAGE_SIDE, MAX_IMAGE_CHARS) if re.search(rf"\b{n}\b", script.replace("_", ""))]
    assert copies == [], f"app.js restates {copies}: read them from the hello's limits"


def test_a_bad_page_command_leaves_the_server_serving(identity_server: BridgeServer) -> None:
    """Seed -1 typed into the page stopped the whole server; now the page gets a refusal."""
    streamer = Streamer(identity_server)
    try:
        with connect(identity_server.preview_url.replace("http://", "ws://") + "ws", open_timeout=5) as ws:
            for command, field, _ in BAD_VALUES:
                ws.send(json.dumps({**command, "session": streamer.session_id, "req": field}, allow_nan=True))
                deadline = time.monotonic() + 10
                while True:
                    assert time.monotonic() < deadline, f"no ack for {field}"
                    raw = ws.recv(timeout=10)
                    if isinstance(raw, str) and json.loads(raw)["type"] == "ack":
                        reply = json.loads(raw)
                        break
                assert reply["req"] == field and not reply["ok"] and field in reply["error"]
        before = streamer.results
        wait_for(lambda: streamer.results > before + 3, 10, "results still flowing")
        assert identity_server.table.sessions()
    finally:
        streamer.stop()
