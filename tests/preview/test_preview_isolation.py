"""Engine clients never get the preview's server-wide token. Each is told the address of its
own session, which opens the page for that session only: it cannot list, watch or steer another session, and
cannot be turned into another session's address. The server-wide token still sees and steers every session.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from sdbridge.preview.access import PageAccess
from sdbridge.preview.encode import IMAGE_HEADER
from sdbridge.protocol import messages as m
from sdbridge.server import BridgeServer
from tests.conftest import wait_for
from tests.preview.conftest import Streamer, preview_config

WIDE = "wide-token-of-the-studio"


@pytest.fixture
def token_server() -> Iterator[BridgeServer]:
    """Identity model, preview with a server-wide token."""
    server = BridgeServer(preview_config(token=WIDE))
    server.start_in_thread()
    yield server
    server.close()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _address(streamer: Streamer) -> str:
    notice = wait_for(lambda: next((n for n in streamer.notices if n.kind is m.NoticeKind.INFO
                                    and n.source == "preview"), None), 10, "the page address notice")
    return str(notice.message)


def _ws(address: str) -> ClientConnection:
    parts = urlsplit(address)
    return connect(f"ws://{parts.netloc}/ws?{parts.query}", open_timeout=5)


def _messages(ws: ClientConnection, seconds: float) -> list[str | bytes]:
    out: list[str | bytes] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        except TimeoutError:
            break
    return out


def _command(ws: ClientConnection, **command: Any) -> dict[str, Any]:
    ws.send(json.dumps(command))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        raw = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(raw, str) and json.loads(raw)["type"] == "ack":
            return dict(json.loads(raw))
    raise AssertionError("no ack within 10 s")


def _listed(ws: ClientConnection) -> set[int]:
    """Session ids of the sessions messages received in the next 1.5 s (at least one must come)."""
    seen: set[int] = set()
    got = False
    for raw in _messages(ws, 1.5):
        if isinstance(raw, str) and json.loads(raw)["type"] == "sessions":
            got = True
            seen.update(int(s["id"]) for s in json.loads(raw)["sessions"])
    assert got, "no sessions message"
    return seen


def test_a_client_is_told_its_own_session_address_never_the_server_token(token_server: BridgeServer) -> None:
    a, b = Streamer(token_server, name="game-a"), Streamer(token_server, name="game-b")
    try:
        address_a, address_b = _address(a), _address(b)
        for address, streamer in ((address_a, a), (address_b, b)):
            assert address.startswith("http://127.0.0.1:")  # what the C# and C++ clients look for
            assert WIDE not in address
            query = parse_qs(urlsplit(address).query)
            assert query["session"] == [str(streamer.session_id)]
            assert query["token"][0].startswith(f"s{streamer.session_id}.")
            assert _status(address) == 200
        assert address_a != address_b
        base = address_a.split("?")[0]
        assert _status(base) == 403  # no token
        # a session token cannot be turned into another session's: the MAC covers the session id
        mac_a = parse_qs(urlsplit(address_a).query)["token"][0].split(".", 1)[1]
        forged = f"{base}?token=s{b.session_id}.{mac_a}&session={b.session_id}"
        assert _status(forged) == 403
        with pytest.raises(InvalidStatus) as info:
            _ws(forged)
        assert info.value.response.status_code == 403
    finally:
        a.stop()
        b.stop()


def test_a_session_address_watches_and_steers_only_that_session(token_server: BridgeServer) -> None:
    a, b = Streamer(token_server, name="game-a"), Streamer(token_server, name="game-b")
    try:
        wait_for(lambda: len(token_server.table.sessions()) == 2, 10, "two sessions")
        session_b = next(s for s in token_server.table.sessions() if s.session_id == b.session_id)
        with _ws(_address(a)) as ws:
            assert _listed(ws) == {a.session_id}  # the session list holds its own session only
            reply = _command(ws, op="watch", session=b.session_id, req=1)
            assert not reply["ok"] and f"session {a.session_id}" in reply["error"]
            reply = _command(ws, op="prompt", session=b.session_id, text="stolen", req=2)
            assert not reply["ok"] and f"prompt.session={b.session_id}" in reply["error"]
            reply = _command(ws, op="params", session=b.session_id, seed=7, req=3)
            assert not reply["ok"]
            reply = _command(ws, op="event", session=b.session_id, name="boss", req=4)
            assert not reply["ok"]
            assert session_b.prompt_values.get("prompt") != "stolen" and "boss" not in [e for e, _ in session_b.events]
            assert _command(ws, op="watch", session=a.session_id, req=5)["ok"]
            images = [raw for raw in _messages(ws, 2.0) if isinstance(raw, bytes)]
            assert images and {IMAGE_HEADER.unpack_from(raw)[2] for raw in images} == {a.session_id}
            assert _command(ws, op="prompt", session=a.session_id, text="mine", req=6)["ok"]
        # the server-wide token sees and steers every session
        with _ws(token_server.preview_url) as ws:
            assert _listed(ws) == {a.session_id, b.session_id}
            assert _command(ws, op="prompt", session=b.session_id, text="from the studio", req=7)["ok"]
        wait_for(lambda: session_b.prompt_values.get("prompt") == "from the studio", 10, "the studio's prompt")
    finally:
        a.stop()
        b.stop()


def test_session_tokens_without_a_server_token_still_scope_the_page() -> None:
    access = PageAccess("")
    assert access.grant(None) is not None and access.grant(None).session is None  # loopback, no token: all
    grant = access.grant(access.session_token(5))
    assert grant is not None and grant.session == 5 and grant.allows(5) and not grant.allows(6)
    assert access.grant("s6." + access.session_token(5).split(".", 1)[1]) is None
    assert access.grant("wrong") is None
    other = PageAccess("")  # another server process: its tokens do not open this one
    assert access.grant(other.session_token(5)) is None
    wide = PageAccess(WIDE)
    assert wide.grant(None) is None and wide.grant(WIDE).session is None
