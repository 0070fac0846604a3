"""Engine planes condition a session's ControlNet end to end: the real server with the tiny model and a `tiny` depth
ControlNet, driven by BridgeClient over tcp loopback with depth planes (sdbridge.runtime.control_inputs).

Each client is its own session (a fresh pipeline with the same seed), run one after another (no shared batch), so
equal inputs give equal outputs; a recorded session with planes replays bit-identical. Random ports, linger 0, a
timeout on every receive: nothing here can hang.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sdbridge.cli import main
from sdbridge.config import ServerConfig, with_overrides
from sdbridge.pipeline import Components
from sdbridge.pipeline.controlnet import ControlNets, tiny_controlnet
from sdbridge.pipeline.controlnet_loading import load_controlnets
from sdbridge.protocol import messages as m
from sdbridge.record.format import Recording
from sdbridge.record.replay import replay
from sdbridge.scene import BOX_DEPTH, SKY_DEPTH, SceneRenderer
from sdbridge.served_model import factory_from_components
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

pytestmark = pytest.mark.integration

SIZE, FRAMES = 64, 4


def _server(tiny: Components, controlnet: bool) -> BridgeServer:
    model = {"name": "tiny", "width": SIZE, "height": SIZE, "controlnet": ("depth=tiny@1",) if controlnet else ()}
    cfg = with_overrides(ServerConfig(), model=model, top={"bind": "tcp://127.0.0.1:*"})
    nets = ControlNets({"depth": tiny_controlnet(tiny, seed=4)}) if controlnet else None
    factory, description = factory_from_components(tiny, cfg, nets)
    server = BridgeServer(cfg, factory, description)
    server.start_in_thread()
    return server


@pytest.fixture(scope="module")
def depth_server(tiny: Components) -> Iterator[BridgeServer]:
    server = _server(tiny, controlnet=True)
    yield server
    server.close()


def _frames() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(FRAMES)]


def _depth(tilt: str) -> np.ndarray:
    """Linear view depth 1..20 rising left to right ("x") or top to bottom ("y")."""
    ramp = np.linspace(1.0, 20.0, SIZE, dtype=np.float32)
    return np.tile(ramp, (SIZE, 1)) if tilt == "x" else np.tile(ramp[:, None], (1, SIZE))


def _outputs(server: BridgeServer, depths: list[np.ndarray | None]) -> list[np.ndarray]:
    """One session's outputs of _frames(), frame i with depth plane depths[i] (None: no plane)."""
    outs = []
    with BridgeClient(server.endpoint, name="planes") as client:
        client.connect(timeout=10)
        client.set_prompt("a castle")
        for frame, depth in zip(_frames(), depths, strict=True):
            planes = {} if depth is None else {"depth": depth}
            assert client.submit(frame, planes=planes) is not None
            result = client.receive(timeout=60)
            assert result is not None
            outs.append(np.array(result.image, copy=True))
    return outs[-2:]  # past the warm-up (latency) frames


def test_depth_planes_condition_the_output(depth_server: BridgeServer) -> None:
    along_x = _outputs(depth_server, [_depth("x")] * FRAMES)
    along_y = _outputs(depth_server, [_depth("y")] * FRAMES)
    again_x = _outputs(depth_server, [_depth("x")] * FRAMES)
    for a, b, c in zip(along_x, along_y, again_x, strict=True):
        np.testing.assert_array_equal(a, c)  # equal planes: equal output
        assert np.abs(a.astype(int) - b.astype(int)).max() > 0  # another depth plane: another output


def test_a_frame_without_depth_runs_without_control_and_says_so(tiny: Components, depth_server: BridgeServer,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    plain = _server(tiny, controlnet=False)
    try:
        expected = _outputs(plain, [None] * FRAMES)
    finally:
        plain.close()
    with caplog.at_level(logging.WARNING, logger="sdbridge.runtime.control_inputs"):
        got = _outputs(depth_server, [None] * FRAMES)
        with_depth = _outputs(depth_server, [_depth("x")] * FRAMES)
    for e, g, d in zip(expected, got, with_depth, strict=True):
        np.testing.assert_array_equal(g, e)  # no depth ever sent: the ControlNet is off (scale 0)
        assert np.abs(d.astype(int) - e.astype(int)).max() > 0  # able to fail: a depth plane changes it
    told = [r.getMessage() for r in caplog.records if "ControlNet 'depth'" in r.getMessage()]
    assert len(told) == 1, told  # once per session, not per frame
    assert "no Depth plane" in told[0] and "Frame.planes" in told[0]


def test_the_welcome_names_the_wanted_planes(depth_server: BridgeServer) -> None:
    with BridgeClient(depth_server.endpoint, name="planes") as client:
        welcome = client.connect(timeout=10)
    assert welcome.wanted_planes == (m.PlaneKind.DEPTH,)  # protocol 1.4: a typed field (text for older clients)


def test_a_recorded_session_with_planes_replays_bit_identical(tiny: Components, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    model = {"name": "tiny", "width": SIZE, "height": SIZE, "controlnet": ("depth=tiny@1",)}
    cfg = with_overrides(ServerConfig(), model=model, top={"bind": "tcp://127.0.0.1:*"})
    nets, _ = load_controlnets(cfg.model.controlnets(), tiny)  # what `sdbridge replay` loads from the meta
    factory, description = factory_from_components(tiny, cfg, nets)
    server = BridgeServer(cfg, factory, description, record_dir=str(tmp_path / "rec"))
    server.start_in_thread()
    try:
        depths = [_depth("x"), _depth("y"), None, _depth("x")]  # planes change per frame; one frame has none
        _outputs(server, depths)
        server.recorder.close_all()
    finally:
        server.close()
    (path,) = sorted((tmp_path / "rec").glob("session-*.sdrec"))
    with Recording(path) as recording:
        planes = [e.data for e in recording.entries() if e.kind == "planes"]
        assert [len(p["descs"]) for p in planes] == [1, 1, 1]  # the frame without a plane wrote none
        np.testing.assert_array_equal(recording.plane(planes[1]["call"], 0), _depth("y"))
        report = replay(recording, tiny, controlnets=nets)
        other = replay(recording, tiny, controlnets=ControlNets({"depth": tiny_controlnet(tiny, seed=5)}))
    assert report.calls == FRAMES and report.identical, report
    assert not other.identical  # able to fail: other control weights give other outputs
    assert main(["replay", str(path), "--dtype", "float32"]) == 0  # loads the recorded ControlNets itself
    assert f"all {FRAMES} outputs identical" in capsys.readouterr().out


def test_the_scene_depth_is_its_own_geometry() -> None:
    scene = SceneRenderer(SIZE, SIZE)
    image, depth = scene.render(12), scene.render_depth(12)
    box = np.all(image == (200, 60, 50), axis=-1)
    assert box.any() and np.all(depth[box] == BOX_DEPTH)
    assert depth[0, 0] == SKY_DEPTH and depth[-1, 0] < depth[-10, 0] < SKY_DEPTH  # the ground nears the camera


def test_demo_with_a_depth_controlnet_writes_input_control_output(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--model", "tiny", "--size", str(SIZE), "--frames", "4", "--save-every", "1", "--fps",
                 "200", "--out", str(tmp_path), "--no-preview", "--controlnet", "depth"])
    assert code == 0 and "4 results" in capsys.readouterr().out
    (first, *_) = sorted(tmp_path.glob("pair_*.png"))
    triple = np.asarray(Image.open(first))
    assert triple.shape == (SIZE, 3 * SIZE, 3)
    control = triple[:, SIZE:2 * SIZE]
    assert (control[..., 0] == control[..., 2]).all() and control.max() == 255 and control.min() == 0  # grey
    ground = int(0.8 * SIZE)
    assert control[-1, 0, 0] > control[ground, 0, 0] > control[0, 0, 0]  # near ground bright, sky dark
