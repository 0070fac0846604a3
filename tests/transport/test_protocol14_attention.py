"""Protocol 1.4's cached-attention knobs (attention_bank, attention_bank_interval, attention_bank_blocks,
feature_injection, feature_injection_threshold) through a real server and the Python client: each reaches the
session's pipeline, a hostile value is refused naming its field, `[pipeline]` gives their starting values (range
checked) and an engine backend with `[pipeline] attention_bank` > 0 is refused before the server binds."""

from __future__ import annotations

import types

import pytest

from sdbridge.config import Accel, ServerConfig, parse_config, with_overrides
from sdbridge.errors import ConfigError, InputError
from sdbridge.protocol import messages as m
from sdbridge.served_model import factory_from_components
from sdbridge.transport.client import BridgeClient

from .conftest import RawPeer
from .test_protocol14 import Served, _round_trip, served  # noqa: F401 (served: the fixture)

KNOBS = {"attention_bank": 3, "attention_bank_interval": 4, "attention_bank_blocks": "mid",
         "feature_injection": 0.5, "feature_injection_threshold": 0.75}


def test_each_cached_attention_knob_reaches_the_pipeline(served: Served) -> None:  # noqa: F811
    with BridgeClient(served.server.endpoint, name="attention14") as client:
        client.connect(timeout=10)
        _round_trip(client)
        assert not set(KNOBS) & set(served.updates())  # able to fail: nothing set them yet
        for name, value in KNOBS.items():  # one Params each: every field decodes on its own
            client.set_params(**{name: value})
        _round_trip(client)  # the updates apply before the next frame
    got = served.updates()
    assert {k: got[k] for k in KNOBS} == KNOBS


HOSTILE = [
    (m.Params(attention_bank=9), "Params.attention_bank"),
    (m.Params(attention_bank_interval=0), "Params.attention_bank_interval"),
    (m.Params(attention_bank_blocks=m.AttentionBankBlocks.UNKNOWN), "Params.attention_bank_blocks"),
    (m.Params(attention_bank_blocks=77), "Params.attention_bank_blocks"),  # a number this build does not know
    (m.Params(feature_injection=1.5), "Params.feature_injection"),
    (m.Params(feature_injection_threshold=float("nan")), "Params.feature_injection_threshold"),
]


def test_hostile_cached_attention_values_are_refused_naming_the_field(served: Served) -> None:  # noqa: F811
    peer = RawPeer(served.server.endpoint)  # a client without the Python client's own checks
    try:
        peer.hello()
        fields = []
        for params, _ in HOSTILE:
            peer.send_msg(params)
            error = peer.recv_until(m.ErrorMsg)[-1]
            assert isinstance(error, m.ErrorMsg) and not error.session_closed
            fields.append(error.field)
        peer.send_msg(m.Params(attention_bank=2))  # a good one still applies: the session stays up
        header = m.FrameHeader(frame_id=1, width=4, height=2, stride=16, pixel_format=m.PixelFormat.RGBA8)
        peer.send_msg(header, bytes(32))  # the update applies before this frame
        assert peer.recv_until(m.ResultHeader)
    finally:
        peer.close()
    assert fields == [field for _, field in HOSTILE]
    assert served.updates() == {"attention_bank": 2}  # none of the hostile values reached the pipeline


@pytest.mark.parametrize(("name", "value"), [("attention_bank", -1), ("attention_bank_interval", 121),
                                             ("attention_bank_blocks", "left"), ("feature_injection", 2.0)])
def test_the_python_client_refuses_out_of_range_knobs_before_sending(name: str, value: object) -> None:
    client = BridgeClient("tcp://127.0.0.1:1", name="never-connects", auto_reconnect=False)
    try:
        with pytest.raises(InputError, match=name):
            client.set_params(**{name: value})
    finally:
        client.close()


def test_pipeline_section_sets_the_starting_values_within_their_ranges() -> None:
    cfg = parse_config('[pipeline]\nattention_bank = 2\nattention_bank_interval = 5\nattention_bank_blocks = "up"\n'
                       'feature_injection = 0.25\nfeature_injection_threshold = 0.8\n')
    p = cfg.pipeline
    assert (p.attention_bank, p.attention_bank_interval, p.attention_bank_blocks, p.feature_injection,
            p.feature_injection_threshold) == (2, 5, "up", 0.25, 0.8)
    for line, field in (("attention_bank = 9", "pipeline.attention_bank"),
                        ('attention_bank_blocks = "left"', "pipeline.attention_bank_blocks"),
                        ("feature_injection_threshold = 1.5", "pipeline.feature_injection_threshold")):
        with pytest.raises(ConfigError, match=field):
            parse_config(f"[pipeline]\n{line}\n")


class _EngineUnet:
    """Stands in for an ONNX Runtime / TensorRT runner: no diffusers attention processors."""


@pytest.mark.parametrize("backend", [Accel.ONNXRUNTIME, Accel.TENSORRT, Accel.COMPILE])
def test_an_engine_backend_refuses_a_pipeline_attention_bank_naming_both(backend: Accel) -> None:
    from sdbridge.pipeline import ModelFamily

    config = with_overrides(ServerConfig(), accel={"backend": backend}, pipeline={"attention_bank": 2})
    components = types.SimpleNamespace(family=ModelFamily.SD15, unet=_EngineUnet(), name="tiny")
    with pytest.raises(ConfigError, match=rf"pipeline\.attention_bank=2 with accel\.backend={backend.value}: "
                                          r"attention_bank=2 needs the eager backend"):
        factory_from_components(components, config)


def test_the_page_and_the_recorder_carry_the_knobs() -> None:
    from sdbridge import params
    from sdbridge.preview.commands import PAGE_PARAMS

    controls = {p.name: p.preview_control for p in PAGE_PARAMS}
    assert {k: controls.get(k) for k in KNOBS} == {
        "attention_bank": "slider", "attention_bank_interval": "number", "attention_bank_blocks": "select",
        "feature_injection": "slider", "feature_injection_threshold": "slider"}  # the block choice: a choice list
    message = m.Params(attention_bank=2, attention_bank_interval=4, attention_bank_blocks=m.AttentionBankBlocks.DOWN,
                       feature_injection=0.5, feature_injection_threshold=0.75)
    assert params.recorder_values(message) == {
        "attention_bank": 2, "attention_bank_interval": 4, "attention_bank_blocks": "down", "feature_injection": 0.5,
        "feature_injection_threshold": 0.75}
    started = params.live_values(parse_config('[pipeline]\nattention_bank_blocks = "mid"\n').pipeline)
    assert started["attention_bank_blocks"] == "mid" and started["attention_bank_interval"] == 1


class _DiffusersLikeUnet:
    """Built lazily (torch imported in the test): an nn.Module with diffusers' attention-processor API."""

    @staticmethod
    def make() -> object:
        import torch

        class Unet(torch.nn.Module):
            @property
            def attn_processors(self) -> dict[str, object]:
                return {}

            def set_attn_processor(self, processor: object) -> None:
                pass

        return Unet()


def test_pipeline_starting_values_reach_every_sessions_stream_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import sdbridge.pipeline as pipeline
    from sdbridge.pipeline import ModelFamily

    built: list[object] = []

    def fake_build(components: object, config: object, *extra: object) -> object:
        built.append(config)
        return types.SimpleNamespace(latency_frames=1)

    monkeypatch.setattr(pipeline, "build_pipeline", fake_build)
    config = with_overrides(ServerConfig(), pipeline={"attention_bank": 2, "attention_bank_interval": 5,
                                                      "attention_bank_blocks": "up", "feature_injection": 0.25,
                                                      "feature_injection_threshold": 0.8})
    components = types.SimpleNamespace(family=ModelFamily.SD15, unet=_DiffusersLikeUnet.make(), name="tiny")
    factory, _ = factory_from_components(components, config)  # eager and a bankable UNet: not refused
    factory(64, 64)
    assert [(c.attention_bank, c.attention_bank_interval, c.attention_bank_blocks, c.feature_injection,
             c.feature_injection_threshold) for c in built] == [(2, 5, "up", 0.25, 0.8)] * 2
