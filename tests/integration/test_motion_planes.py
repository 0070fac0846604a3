"""A frame's Motion plane reaches the session's motion-guided warp end to end: the real server with the tiny model and
motion_warp on, driven by BridgeClient over tcp loopback (sdbridge.runtime.control_inputs, runtime.motion_planes).

Each client is its own session (a fresh pipeline with the same seed), run one after another, so equal inputs give
equal outputs. The same camera pan declared in two conventions (Pixels towards the Previous frame at full size;
UV towards the Next frame with +y up, at half size) moves the previous output latent by the same cells (the warp is
watched in this process) and gives the same output; a zero-motion plane warps by zero; no motion plane, no warp.
Random ports, linger 0, a timeout on every receive: nothing here can hang.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest
import torch

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.pipeline import Components, temporal_warp
from sdbridge.served_model import factory_from_components
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

pytestmark = pytest.mark.integration

SIZE, FRAMES = 64, 4
PAN = (8.0, -8.0)  # pixels, current -> previous, +y down: the surface at p was 8 px right and 8 px up


@pytest.fixture(scope="module")
def warp_server(tiny: Components) -> Iterator[BridgeServer]:
    model = {"name": "tiny", "width": SIZE, "height": SIZE}
    pipeline = {"motion_warp": 0.8, "motion_warp_step": 1, "t_index_list": (16, 45), "scene_cut_threshold": 0.0}
    cfg = with_overrides(ServerConfig(), model=model, pipeline=pipeline, top={"bind": "tcp://127.0.0.1:*"})
    factory, description = factory_from_components(tiny, cfg)
    server = BridgeServer(cfg, factory, description)
    server.start_in_thread()
    yield server
    server.close()


def _frames() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(FRAMES)]


def _field(size: int, x: float, y: float) -> np.ndarray:
    field = np.empty((size, size, 2), dtype=np.float32)
    field[..., 0], field[..., 1] = x, y
    return field


def _outputs(server: BridgeServer, motion: np.ndarray | None,
             info: Mapping[str, Any] | None = None) -> list[np.ndarray]:
    """One session's outputs of _frames(), every frame with the motion plane `motion` (None: no plane)."""
    outs = []
    with BridgeClient(server.endpoint, name="motion") as client:
        client.connect(timeout=10)
        client.set_prompt("a castle")
        for frame in _frames():
            planes = {} if motion is None else {"motion": motion}
            plane_info = None if info is None else {"motion": info}
            assert client.submit(frame, planes=planes, plane_info=plane_info) is not None
            result = client.receive(timeout=60)
            assert result is not None
            outs.append(np.array(result.image, copy=True))
    return outs[-2:]  # past the warm-up (latency) frame


def _warps(monkeypatch: pytest.MonkeyPatch, outputs: Any) -> tuple[list[np.ndarray], list[torch.Tensor]]:
    """(outputs(), the flows the warp moved an output latent by during it); the server runs in this process."""
    flows: list[torch.Tensor] = []
    warp = temporal_warp.warp

    def spy(src: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if src.shape[1] == 4:  # an output latent (the mask's own warps move 1- and 2-channel planes)
            flows.append(flow.clone())
        return warp(src, flow)

    with monkeypatch.context() as patch:
        patch.setattr(temporal_warp, "warp", spy)
        return outputs(), flows


def test_the_warp_uses_each_frames_motion_plane_in_its_declared_convention(warp_server: BridgeServer,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # Pixels, Previous, y down (the warp's own convention), and the same pan as UV fractions of a half-size plane
    # towards the Next frame with +y up: x = -(-u * w), y = -(-(v * h))
    pixels, pan_flows = _warps(monkeypatch, lambda: _outputs(warp_server, _field(SIZE, *PAN)))
    half = SIZE // 2
    uv_next_up, uv_flows = _warps(monkeypatch, lambda: _outputs(
        warp_server, _field(half, -PAN[0] / SIZE, PAN[1] / SIZE),
        {"motion_units": "uv", "motion_target": "next", "motion_y_up": True}))
    _, still_flows = _warps(monkeypatch, lambda: _outputs(warp_server, _field(SIZE, 0.0, 0.0)))
    _, unwarped_flows = _warps(monkeypatch, lambda: _outputs(warp_server, None))
    cells = torch.tensor([PAN[0] / 8, PAN[1] / 8]).view(1, 2, 1, 1).expand(1, 2, SIZE // 8, SIZE // 8)
    # frames 1 and 2 take frame 0 and 1's outputs at the last step (frame 3 would reach it in a fifth call)
    assert len(pan_flows) == len(uv_flows) == len(still_flows) == FRAMES - 2
    for pan, uv, still in zip(pan_flows, uv_flows, still_flows, strict=True):
        assert torch.equal(pan, cells) and torch.equal(uv, cells)  # the plane's pan, in latent cells
        assert torch.equal(still, torch.zeros_like(cells))
    assert unwarped_flows == []  # no motion plane: no warp
    for p, u in zip(pixels, uv_next_up, strict=True):
        np.testing.assert_array_equal(p, u)  # one motion, two conventions: one output
