"""A Params naming a live LoRA, a ControlNet or (through style_blend) an IP-Adapter the served model does not run is
refused where it enters the server (sdbridge.serving.served_names): at once, naming the field, the value and the fix,
with nothing queued, so the values accepted before it stay and the next frame runs. Before, the worker found it when
applying the update: before the session's first frame that failed the frame and dropped the other values sent
before it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from sdbridge.errors import FieldError
from sdbridge.protocol import messages as m
from sdbridge.serving.served_names import ServedNames
from tests.transport.test_protocol14 import SIZE, Served

from .conftest import RawPeer

NAMES = ServedNames(live_loras=("toon",), controlnets=("depth",), ip_adapter=False)


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served(names=NAMES)
    s.server.start_in_thread()
    yield s
    s.server.close()


def _frame(peer: RawPeer, frame_id: int) -> list[Any]:
    pixels = np.zeros((SIZE, SIZE, 4), np.uint8).tobytes()
    peer.send_msg(m.FrameHeader(frame_id=frame_id, width=SIZE, height=SIZE, stride=SIZE * 4,
                                pixel_format=m.PixelFormat.RGBA8), pixels)
    return peer.recv_until(m.ResultHeader, timeout_ms=10000)


@pytest.mark.parametrize(("params", "field", "says"), [
    (m.Params(lora_weights=(m.AdapterWeight("other", 0.5),)), "Params.lora_weights",
     "lora_weights names 'other', which is no live LoRA of this model; live LoRAs: toon"),
    (m.Params(controlnet_scale=(m.AdapterWeight("canny", 0.5),)), "Params.controlnet_scale",
     "controlnet_scale names ControlNet 'canny', not loaded; loaded: ['depth'] (a server loads one with "
     "--controlnet canny=SOURCE)"),
    (m.Params(controlnet_end=(m.AdapterWeight("pose", 0.5),)), "Params.controlnet_end", "ControlNet 'pose'"),
    (m.Params(style_blend=(m.AdapterWeight("ink", 1.0),)), "Params.style_blend",
     "style_blend: this pipeline has no IP-Adapter; start the server with --ip-adapter SOURCE"),
])
def test_a_name_the_model_lacks_is_refused_at_once_and_the_earlier_values_stay(
        served: Served, params: m.Params, field: str, says: str) -> None:
    peer = RawPeer(served.server.endpoint)
    try:
        peer.hello()
        peer.send_msg(m.Params(guidance_scale=1.5))  # accepted before the session's first frame
        peer.send_msg(params)
        seen = peer.recv_until(m.ErrorMsg)
        error = seen[-1]
        assert (error.code, error.field) == (m.ErrorCode.BAD_PARAM, field), error
        assert says in error.message and not error.session_closed
        answered = _frame(peer, 1)  # the frame runs: the refused values never reached the pipeline
        assert not any(isinstance(msg, m.ErrorMsg) for msg in answered), answered
        got = served.updates()
        assert got.get("guidance_scale") == 1.5  # accepted before the refusal: kept
        assert not {"lora_weights", "controlnet_scale", "controlnet_end", "style_blend"} & set(got)
    finally:
        peer.close()


def test_names_the_model_has_pass(served: Served) -> None:
    peer = RawPeer(served.server.endpoint)
    try:
        peer.hello()
        peer.send_msg(m.Params(lora_weights=(m.AdapterWeight("toon", 0.5),),
                           controlnet_scale=(m.AdapterWeight("depth", 0.25),), style_blend=()))
        answered = _frame(peer, 1)
        assert not any(isinstance(msg, m.ErrorMsg) for msg in answered), answered
        assert served.updates()["lora_weights"] == [("toon", 0.5)]
    finally:
        peer.close()


def test_a_model_that_does_not_say_its_names_leaves_them_to_the_pipeline() -> None:
    s = Served(names=None)  # e.g. the passthrough model: it takes every update and ignores it
    s.server.start_in_thread()
    peer = RawPeer(s.server.endpoint)
    try:
        peer.hello()
        peer.send_msg(m.Params(lora_weights=(m.AdapterWeight("other", 0.5),)))
        answered = _frame(peer, 1)
        assert not any(isinstance(msg, m.ErrorMsg) for msg in answered), answered
        assert s.updates()["lora_weights"] == [("other", 0.5)]
    finally:
        peer.close()
        s.server.close()


def test_rules_and_page_changes_name_their_source() -> None:
    with pytest.raises(FieldError) as refused:
        NAMES.check({"guidance_scale": 1.0, "lora_weights": (("x", 1.0),)}, source="rules: ")
    assert refused.value.field_name == "rules: Params.lora_weights"
    assert str(refused.value).startswith("rules: lora_weights names 'x'")
    NAMES.check({"style_blend": (), "ip_adapter_scale": 0.5})  # an empty blend and a scale need no adapter
