"""The preview's conditioning views and named-weight controls, without a browser.

The conditioning images are made by the worker's own code (ControlPlanes) from a kept input frame's planes, only
while a page watches; the hello names the served ControlNets and named weights; a page command for named weights
becomes the Params an engine client would send, naming only served names.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from websockets.sync.client import ClientConnection, connect

from sdbridge.errors import InputError
from sdbridge.pipeline import control_planes as cp
from sdbridge.preview.commands import command_message, page_hello
from sdbridge.preview.conditioning import ConditioningViews
from sdbridge.preview.encode import IMAGE_HEADER, IMAGE_MAGIC, VIEW_CODES
from sdbridge.preview.taps import TapFrame
from sdbridge.protocol import messages as m
from sdbridge.runtime.pixels import Layout, PixelFormat
from sdbridge.runtime.planes import Plane
from sdbridge.transport.client_planes import describe
from tests.conftest import wait_for
from tests.preview.conftest import PlaneStreamer, depth_ramp, scene


def _tap(rgb: np.ndarray, planes: tuple[Plane, ...]) -> TapFrame:
    layout = Layout.packed(rgb.shape[1], rgb.shape[0], PixelFormat.RGB8)
    return TapFrame(7, 3, layout, rgb.tobytes(), planes=planes)


def test_conditioning_images_are_the_workers_conversions_at_preview_size():
    size, side = 128, 64
    desc, array = describe("depth", depth_ramp(size), None)
    views = ConditioningViews(("depth", "canny", "seg"), max_side=side)
    images = views.images(_tap(scene(size), (Plane(desc, array),)))
    assert list(images) == ["depth", "canny"]  # seg: the frame has no Segmentation plane, so no image
    expected = cp.depth_control(torch.from_numpy(depth_ramp(size)[::2, ::2].copy()))[0]
    assert images["depth"].shape == (side, side, 3) and images["depth"].dtype == np.uint8
    assert np.abs(images["depth"].astype(int) - np.rint(expected.permute(1, 2, 0).numpy() * 255)).max() <= 1
    assert images["depth"][:, 0].mean() > images["depth"][:, -1].mean() + 100  # near (left) is bright
    edges = cp.canny_control(torch.from_numpy(scene(size)[::2, ::2].copy()))[0, 0].numpy()
    assert np.array_equal(images["canny"][..., 0] > 127, edges > 0.5) and edges.any()
    assert views.converted == 1
    assert ConditioningViews(()).images(_tap(scene(size), ())) == {}  # no ControlNet: nothing made


def test_hello_names_the_served_weights_and_a_page_command_names_only_those():
    hello = page_hello(_limits(), {"lora_weights": [("pixel", 0.8)]}, ("depth",))
    assert hello["weights"] == {"lora_weights": [["pixel", 0.8]]} and hello["controls"] == ["depth"]
    weights = {"lora_weights": [("pixel", 0.8), ("ink", 1.0)]}
    message = command_message({"op": "params", "lora_weights": [["pixel", 0.25], ["ink", 1.5]]}, None, weights)
    assert message == m.Params(lora_weights=(m.AdapterWeight("pixel", 0.25), m.AdapterWeight("ink", 1.5)))
    with pytest.raises(InputError, match=r"lora_weights names 'oil', which this server does not serve for this "
                                         r"session; it serves: pixel, ink \(preview page\)"):
        command_message({"op": "params", "lora_weights": [["oil", 1.0]]}, None, weights)
    assert command_message({"op": "params", "lora_weights": [["oil", 1.0]]}, None, weights,
                           {"lora_weights": [["oil", 0.5]]}) == m.Params(lora_weights=(m.AdapterWeight("oil", 1.0),))
    with pytest.raises(InputError, match=r"lora_weights\[0\] pixel=3 must be a number in \[-2, 2\]"):
        command_message({"op": "params", "lora_weights": [["pixel", 3]]}, None, weights)


def _limits() -> Any:
    from sdbridge.config import LimitsConfig

    return LimitsConfig()


def _controls(ws: ClientConnection, wanted: set[str], timeout: float = 30.0) -> dict[str, np.ndarray]:
    """The first conditioning image of each KIND in `wanted` the page gets."""
    found: dict[str, np.ndarray] = {}
    deadline = time.monotonic() + timeout
    while set(found) != wanted and time.monotonic() < deadline:
        raw = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(raw, bytes) and raw[4] == VIEW_CODES["control"]:
            magic, _, _, _ = IMAGE_HEADER.unpack_from(raw)
            length = raw[IMAGE_HEADER.size]
            kind = raw[IMAGE_HEADER.size + 1: IMAGE_HEADER.size + 1 + length].decode()
            assert magic == IMAGE_MAGIC
            found[kind] = np.asarray(Image.open(io.BytesIO(raw[IMAGE_HEADER.size + 1 + length:])).convert("RGB"))
    assert set(found) == wanted, f"conditioning images {sorted(found)} within {timeout} s, wanted {sorted(wanted)}"
    return found


def test_a_watching_page_gets_the_conditioning_images_and_the_served_names(controlnet_server):
    streamer = PlaneStreamer(controlnet_server)
    try:
        url = controlnet_server.preview_url.replace("http://", "ws://") + "ws"
        views = controlnet_server.preview.conditioning
        with connect(url, open_timeout=5) as ws:
            hello = json.loads(ws.recv(timeout=5))
            assert hello["type"] == "hello" and hello["controls"] == ["depth", "canny"]
            assert hello["weights"]["controlnet_scale"] == [["depth", 1.0], ["canny", 0.5]]
            assert hello["weights"]["controlnet_end"] == [["depth", 1.0], ["canny", 1.0]]
            wait_for(lambda: streamer.results >= 2, 60, "results streaming")
            assert views.converted == 0  # nobody watches: nothing converted, though frames with planes flow
            ws.send(json.dumps({"op": "watch", "session": streamer.session_id, "req": 1}))
            images = _controls(ws, {"depth", "canny"})
            assert images["depth"][:, :8].mean() > images["depth"][:, -8:].mean() + 100  # near (left) bright
            assert (images["canny"] > 200).mean() < 0.5 and (images["canny"] > 200).any()  # thin edges
            assert views.converted >= 1
        wait_for(lambda: controlnet_server.preview.connections == 0, 10, "the page to close")
        converted, results = views.converted, streamer.results
        wait_for(lambda: streamer.results >= results + 3, 60, "more results")
        assert views.converted == converted  # unwatched again: no conversion
    finally:
        streamer.stop()
