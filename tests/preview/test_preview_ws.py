"""The preview's HTTP + websocket server driven by a plain websocket client (no browser).

Covers the page's server side: static files, the token and Origin rules, throttled
JPEG previews of the watched session only, session stats, and prompt / params / event changes that go
through the server's client-message path and reach the engine client as a Notice (source "preview").
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import pytest
from PIL import Image
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from sdbridge.config import PreviewConfig
from sdbridge.preview.commands import command_message
from sdbridge.preview.encode import IMAGE_HEADER, IMAGE_MAGIC
from sdbridge.preview.taps import FrameTaps
from sdbridge.preview.web import PreviewServer, is_loopback
from sdbridge.protocol import messages as m
from sdbridge.runtime.pixels import Layout, PixelFormat
from sdbridge.server import BridgeServer
from tests.conftest import wait_for
from tests.preview.conftest import SIZE


def _ws(server: BridgeServer, **kwargs: Any) -> ClientConnection:
    return connect(server.preview_url.replace("http://", "ws://") + "ws", open_timeout=5, **kwargs)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _next_json(ws: ClientConnection, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(raw, str):
            message = json.loads(raw)
            if message["type"] == kind:
                return message
    raise AssertionError(f"no {kind} message within {timeout} s")


def _command(ws: ClientConnection, **command: Any) -> dict[str, Any]:
    ws.send(json.dumps(command))
    return _next_json(ws, "ack")


def test_page_and_assets_are_served(identity_server):
    url = identity_server.preview_url
    assert url.startswith("http://127.0.0.1:") and "token" not in url
    status, body = _get(url)
    assert status == 200 and b"<canvas" in body and b'id="output-view"' in body
    for asset in ("app.js", "style.css"):
        status, body = _get(url + asset)
        assert status == 200 and len(body) > 500
    assert b"http" not in _get(url + "app.js")[1].replace(b"https:", b"")  # no CDN: works offline
    assert _get(url + "nope")[0] == 404


def test_images_flow_only_for_the_watched_session(identity_server, streamer_factory):
    streamer = streamer_factory(identity_server)
    with _ws(identity_server) as ws:
        sessions = _next_json(ws, "sessions")["sessions"]
        deadline = time.monotonic() + 5
        while not sessions and time.monotonic() < deadline:
            sessions = _next_json(ws, "sessions")["sessions"]
        assert [s["id"] for s in sessions] == [streamer.session_id]
        # results flow (so a preview image could have been kept) while nobody watches: nothing is kept
        before = streamer.results
        wait_for(lambda: streamer.results >= before + 3, 10, "three more results while nobody watches")
        assert identity_server.taps.kept == 0
        assert _command(ws, op="watch", session=streamer.session_id, req=1) == {"type": "ack", "req": 1, "ok": True}
        views: dict[int, Image.Image] = {}
        deadline = time.monotonic() + 10
        while len(views) < 2 and time.monotonic() < deadline:
            raw = ws.recv(timeout=5)
            if isinstance(raw, bytes):
                magic, view, session, _frame = IMAGE_HEADER.unpack_from(raw)
                assert magic == IMAGE_MAGIC and session == streamer.session_id
                views[view] = Image.open(io.BytesIO(raw[IMAGE_HEADER.size:]))
        assert sorted(views) == [1, 2]
        assert all(im.format == "JPEG" and im.size == (SIZE, SIZE) for im in views.values())
        stats = wait_for(lambda: next((s for s in _next_json(ws, "sessions")["sessions"] if "fps_out" in s), None),
                         10, "a session snapshot with rates")
        assert stats["fps_out"] > 0 and stats["frames_out"] > 0 and "skip_rate" in stats
        assert stats["values"]["t_index_list"] == [32, 45]


def test_prompt_params_and_event_reach_the_session_and_the_client(identity_server, streamer_factory):
    streamer = streamer_factory(identity_server)
    session = wait_for(lambda: identity_server.table.sessions(), 5, "the session")[0]
    with _ws(identity_server) as ws:
        reply = _command(ws, op="prompt", session=streamer.session_id, text="a neon city", negative="fog", req=7)
        assert reply == {"type": "ack", "req": 7, "ok": True}
        wait_for(lambda: session.prompt_values.get("prompt") == "a neon city", 10, "the prompt in the session")
        assert session.prompt_values["negative_prompt"] == "fog"
        notice = wait_for(lambda: next((n for n in streamer.notices if n.kind is m.NoticeKind.PROMPT_CHANGED), None),
                          10, "the PromptChanged notice")
        assert notice.source == "preview" and notice.prompt is not None and notice.prompt.text == "a neon city"

        assert _command(ws, op="params", session=streamer.session_id, guidance_scale=1.5, seed=9,
                        t_index_list=[20, 40], similarity_filter_enabled=True, similarity_threshold=0.9,
                        similarity_max_skip=5)["ok"]
        wait_for(lambda: session.prompt_values.get("seed") == 9, 10, "the params in the session")
        assert session.prompt_values["t_index_list"] == [20, 40]
        assert session.prompt_values["similarity_threshold"] == pytest.approx(0.9)
        notice = wait_for(lambda: next((n for n in streamer.notices if n.kind is m.NoticeKind.PARAMS_CHANGED), None),
                          10, "the ParamsChanged notice")
        assert notice.params is not None and notice.params.seed == 9 and notice.source == "preview"

        assert _command(ws, op="event", session=streamer.session_id, name="boss_appears", payload={"hp": 3})["ok"]
        assert ("boss_appears", {"hp": 3}) in list(session.events)
        wait_for(lambda: any(n.kind is m.NoticeKind.INFO and "boss_appears" in n.message for n in streamer.notices),
                 10, "the event notice")


def test_bad_commands_are_refused_with_a_reason(identity_server, streamer_factory):
    streamer = streamer_factory(identity_server)
    with _ws(identity_server) as ws:
        reply = _command(ws, op="params", session=streamer.session_id, guidance_scale="high")
        assert not reply["ok"] and "guidance_scale" in reply["error"]
        reply = _command(ws, op="prompt", session=999_999, text="x")
        assert not reply["ok"] and "999999" in reply["error"]
        reply = _command(ws, op="prompt", session=streamer.session_id, text="x" * 5000)
        assert not reply["ok"] and "5000" in reply["error"]
        reply = _command(ws, op="fly", session=streamer.session_id)
        assert not reply["ok"] and "fly" in reply["error"]
        reply = _command(ws, op="event", session=streamer.session_id, name=" ")
        assert not reply["ok"] and "name" in reply["error"]
        # a good command after them: its notice follows any a refused command would have caused (one path, in order)
        assert _command(ws, op="params", session=streamer.session_id, seed=5)["ok"]
        marker = wait_for(lambda: next((n for n in streamer.notices if n.kind is m.NoticeKind.PARAMS_CHANGED), None),
                          10, "the good command's ParamsChanged notice")
    assert marker.params is not None and marker.params.seed == 5
    applied = [n for n in streamer.notices if n.kind is not m.NoticeKind.INFO or "injected" in n.message]
    assert applied == [marker]  # nothing refused was applied (the only other notice is the page address)


def test_other_sites_cannot_open_the_websocket(identity_server):
    with pytest.raises(InvalidStatus) as info:
        _ws(identity_server, origin="http://evil.example")
    assert info.value.response.status_code == 403


class _NoHost:
    def preview_sessions(self) -> list[dict[str, Any]]:
        return []

    def submit_control(self, session_id, message, source):  # pragma: no cover - not called here
        raise AssertionError("not expected")


def test_token_is_required_when_set_and_generated_beyond_loopback():
    preview = PreviewServer(PreviewConfig(enabled=True, port=0, token="s3cret"), _NoHost(), FrameTaps(10))
    url = preview.start()
    try:
        assert url.endswith("/?token=s3cret")
        base = url.split("?")[0]
        assert _get(base)[0] == 403
        assert _get(base + "?token=wrong")[0] == 403
        assert _get(url)[0] == 200
        with pytest.raises(InvalidStatus) as info:
            connect(base.replace("http", "ws") + "ws", open_timeout=5)
        assert info.value.response.status_code == 403
        with connect(base.replace("http", "ws") + "ws?token=s3cret", open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
    finally:
        preview.close()
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    wide = PreviewServer(PreviewConfig(enabled=True, host="0.0.0.0", port=0), _NoHost(), FrameTaps(10))
    assert len(wide.token) >= 20 and wide.token in wide.url  # generated; never served without one


def test_taps_keep_at_most_fps_frames_and_only_when_watched(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("sdbridge.preview.taps.time.monotonic", lambda: clock[0])
    taps = FrameTaps(fps=5)
    layout = Layout.packed(2, 2, PixelFormat.RGB8)
    for i in range(10):
        taps.offer_output(1, i, layout, b"\0" * 12)
    assert taps.latest(1, "output") is None and taps.kept == 0
    taps.watch(1)
    for i in range(100):  # 100 frames over 2 s at 5 fps: 10 kept
        taps.offer_output(1, i, layout, b"\0" * 12)
        taps.offer_output(2, i, layout, b"\0" * 12)  # not watched
        clock[0] += 0.02
    assert taps.kept == 10 and taps.offered == 100
    assert taps.latest(1, "output").frame_id >= 90 and taps.latest(2, "output") is None
    taps.unwatch(1)
    assert taps.latest(1, "output") is None and taps.watched == frozenset()


def test_command_messages_match_the_wire_messages():
    assert command_message({"op": "prompt", "text": "a", "negative": "b"}) == m.Prompt(text="a", negative="b")
    assert command_message({"op": "params", "delta": 0.5, "t_index_list": [1, 2]}) == \
        m.Params(delta=0.5, t_index_list=(1, 2))
    assert command_message({"op": "event", "name": "hit", "payload": {"x": 1}}) == m.GameEvent("hit", {"x": 1})


def test_engine_clients_are_told_the_page_address_of_their_session(identity_server, streamer_factory):
    streamer = streamer_factory(identity_server)
    notice = wait_for(lambda: next((n for n in streamer.notices if n.kind is m.NoticeKind.INFO
                                    and n.source == "preview"), None), 10, "the page address notice")
    token = identity_server.preview.access.session_token(streamer.session_id)
    assert notice.message == identity_server.preview_url + f"?token={token}&session={streamer.session_id}"
    assert notice.preview_url == notice.message  # the typed field (protocol 1.1); message kept for 1.0 clients
    assert streamer.client.preview_url == notice.preview_url
    assert streamer.welcome.capabilities & m.Capability.NOTICES  # both sides say they speak Notice
    assert notice in streamer.client.notices
    status, body = _get(notice.message)
    assert status == 200 and b"output-view" in body


def test_previews_are_subsampled_to_max_side_and_keep_colours():
    from sdbridge.preview.encode import to_jpeg, to_rgb
    from sdbridge.preview.taps import TapFrame
    from sdbridge.runtime.pixels import RowOrder

    bgra = np.zeros((100, 200, 4), dtype=np.uint8)
    bgra[..., 2] = 255  # red in BGRA
    bgra[:50, :, 1] = 255  # top half yellow
    frame = TapFrame(1, 1, Layout.packed(200, 100, PixelFormat.BGRA8, RowOrder.BOTTOM_UP), bgra.tobytes())
    rgb = to_rgb(frame, max_side=64)  # step 4: 50x25
    assert rgb.shape == (25, 50, 3)
    assert tuple(rgb[0, 0]) == (255, 0, 0) and tuple(rgb[-1, 0]) == (255, 255, 0)  # bottom-up: rows flipped
    assert Image.open(io.BytesIO(to_jpeg(frame, 80, 64))).size == (50, 25)
    assert to_rgb(frame).shape == (100, 200, 3)


def test_foreign_host_names_are_refused_without_a_token(identity_server):
    request = urllib.request.Request(identity_server.preview_url, headers={"Host": "evil.example:80"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status == 403
    request = urllib.request.Request(identity_server.preview_url,
                                     headers={"Host": f"localhost:{identity_server.preview.port}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
