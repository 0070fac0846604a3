"""Style images end to end over a real server (tiny model with a tiny random IP-Adapter, tcp loopback): a rules
file's [styles] reach each session's pipeline at its start, a GameEvent fades to the rule's style frame by frame, and
a picture uploaded by the preview page (the server's control inbox, the page's own path) becomes a style the client
can then choose with Params.style_blend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.pipeline.components import load_components
from sdbridge.pipeline.ip_adapter_tiny import tiny_ip_adapter
from sdbridge.preview.style_upload import style_image_command
from sdbridge.served_model import factory_from_components
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient
from tests.events.test_styles import _write
from tests.preview.test_style_upload import _data_url

pytestmark = pytest.mark.integration

SIZE = 64
RULES = """
[styles]
forest = "styles/forest.png"
desert = "desert.png"

[prompt]
template = "a landscape"
style = { forest = 1.0 }

[[rules]]
event = "biome"
when = { name = "desert" }
style = { desert = 1.0 }
transition = { frames = 2 }
"""


def _frames(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(count)]


def _run(client: BridgeClient, count: int) -> None:
    for frame in _frames(count):
        assert client.submit(frame) is not None
        assert client.receive(timeout=60) is not None


def test_rules_and_the_preview_page_set_styles_on_a_real_server(tmp_path: Path) -> None:
    comps = load_components("tiny", device="cpu", dtype=torch.float32)
    adapter = tiny_ip_adapter(comps, seed=2)
    cfg = with_overrides(ServerConfig(), model={"name": "tiny", "width": SIZE, "height": SIZE, "ip_adapter": "tiny"},
                         session={"heartbeat_timeout_s": 120.0}, top={"bind": "tcp://127.0.0.1:*"})
    factory, model = factory_from_components(comps, cfg, None, adapter)
    server = BridgeServer(cfg, factory, model, rules_path=str(_write(tmp_path, RULES)))
    server.start_in_thread()
    try:
        with BridgeClient(server.endpoint, name="game") as game:
            game.connect(timeout=10)
            _run(game, 1)
            session = next(s for s in server.table.sessions() if s.session_id == game.session_id)
            style = session.pipeline.style
            assert style.names == ("forest", "desert") and style.weights() == {"forest": 1.0, "desert": 0.0}
            encodes = adapter.encodes
            game.send_event("biome", {"name": "desert"})
            _run(game, 1)  # the first frame after the event: half way (2 frames)
            assert style.weights() == pytest.approx({"forest": 0.5, "desert": 0.5})
            _run(game, 2)
            assert style.weights() == {"forest": 0.0, "desert": 1.0}
            assert adapter.encodes == encodes  # the fade re-blends cached embeddings, it encodes nothing
            picture = np.zeros((30, 40, 3), dtype=np.uint8)
            picture[:, :20] = (200, 40, 10)
            header, pixels = style_image_command({"name": "concept", "image": _data_url(picture)})
            server.submit_control(game.session_id, header, "preview", pixels).result(timeout=10)
            game.set_params(style_blend=[("concept", 1.0)])
            _run(game, 1)
            assert style.names == ("forest", "desert", "concept")
            assert style.weights() == {"forest": 0.0, "desert": 0.0, "concept": 1.0} and style.active
            assert adapter.encodes == encodes + 1 and game.last_error is None
    finally:
        server.close()
