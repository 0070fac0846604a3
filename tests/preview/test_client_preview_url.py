"""What README.md says of `BridgeClient.preview_url`: "" right after `connect()` (the address comes in a Notice after
the Welcome, handled by the client's next pump), then this session's page address once `stats()` (or `receive()`)
has run: a newcomer printing it right after connect saw "" and nothing said why."""

from __future__ import annotations

from pathlib import Path

from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_page_address_arrives_with_the_first_pump(identity_server: BridgeServer) -> None:
    with BridgeClient(identity_server.endpoint, name="newcomer") as client:
        welcome = client.connect(timeout=5)
        assert client.preview_url == ""  # connect returns on the Welcome; the Notice is not handled yet
        client.stats(timeout=5)  # the Notice was sent before the Stats reply, on the same connection
        assert client.preview_url.startswith(identity_server.preview_url.split("?", 1)[0])
        assert f"session={welcome.session_id}" in client.preview_url
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert ("`BridgeClient.preview_url`, \"\" until the client has handled that Notice: right after `connect()` it "
            "still is; the first `receive()` or `stats()` reads it)") in text
