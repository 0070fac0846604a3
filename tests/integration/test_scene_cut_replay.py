"""Frame.scene_cut (protocol 1.4) with the real tiny model: a cut changes what latent feedback blends into the
frames after it, and a recorded session with a cut replays bit-identical (`sdbridge replay` re-runs the cut)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.pipeline import Components
from sdbridge.record.format import Recording
from sdbridge.record.replay import replay
from sdbridge.served_model import factory_from_components
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

pytestmark = pytest.mark.integration

SIZE, FRAMES, CUT = 64, 5, 3


def _server(tiny: Components, record_dir: str | None = None) -> BridgeServer:
    model = {"name": "tiny", "width": SIZE, "height": SIZE}
    # the server's own cut detection off (scene_cut_threshold 0): only the client's cut counts
    pipeline = {"latent_feedback": 0.5, "scene_cut_threshold": 0.0, "t_index_list": [40]}
    cfg = with_overrides(ServerConfig(), model=model, pipeline=pipeline, top={"bind": "tcp://127.0.0.1:*"})
    factory, description = factory_from_components(tiny, cfg)
    server = BridgeServer(cfg, factory, description, record_dir=record_dir)
    server.start_in_thread()
    return server


def _outputs(server: BridgeServer, cut: bool) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    frames = [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(FRAMES)]
    outs = []
    with BridgeClient(server.endpoint, name="cut") as client:
        client.connect(timeout=30)
        client.set_prompt("a castle")
        for i, frame in enumerate(frames):
            client.submit(frame, scene_cut=cut and i == CUT)
            result = client.receive(timeout=60)
            assert result is not None
            outs.append(np.array(result.image))
    return outs


def test_a_scene_cut_changes_the_frames_after_it_and_replays_bit_identical(tiny: Components, tmp_path: Path) -> None:
    server = _server(tiny)
    try:
        plain = _outputs(server, cut=False)
    finally:
        server.close()
    server = _server(tiny, record_dir=str(tmp_path / "rec"))
    try:
        cut = _outputs(server, cut=True)
        server.recorder.close_all()
    finally:
        server.close()
    for i in range(CUT):  # before the cut: the same stream
        np.testing.assert_array_equal(plain[i], cut[i])
    assert not np.array_equal(plain[CUT], cut[CUT])  # the cut frame gets no feedback from the frames before it
    (path,) = sorted((tmp_path / "rec").glob("session-*.sdrec"))
    with Recording(path) as recording:
        assert [e.kind for e in recording.entries()].count("scene_cut") == 1
        report = replay(recording, tiny)
    assert report.calls == FRAMES and report.identical, report
