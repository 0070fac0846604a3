"""Protocol 1.4 through a real server and the Python client: every new Params field reaches the session's pipeline,
the Welcome's capacity counts sessions, the wanted planes follow the ControlNets and motion warping (with a Notice
on a live change), Frame.scene_cut resets the pipeline's temporal state before its frame, and a StyleImage reaches
the pipeline as an RGB image (a recording fake pipeline stands in for the model)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.errors import ProtocolError
from sdbridge.protocol import messages as m
from sdbridge.served_model import ModelDescription
from sdbridge.server import BridgeServer
from sdbridge.serving.served_names import ServedNames
from sdbridge.transport.client import BridgeClient
from sdbridge.transport.client_retry import retryable
from tests.runtime.fakes import FakeOut

from .conftest import MAX_BYTES, MAX_SIDE, RawPeer

SIZE = 16


class FakePipeline:
    """Records what the worker does with it, in order: ("update", kwargs), ("scene_cut",), ("call",)."""

    latency_frames = 0

    def __init__(self, log: list[tuple[Any, ...]], seen: threading.Condition) -> None:
        self.log, self.seen = log, seen

    def _note(self, *entry: Any) -> None:
        with self.seen:
            self.log.append(entry)
            self.seen.notify_all()

    def prepare(self, prompt: Any = "", negative_prompt: Any = "") -> None:
        pass

    def update(self, **kwargs: Any) -> None:
        self._note("update", kwargs)

    def scene_cut(self) -> None:
        self._note("scene_cut")

    def __call__(self, image: np.ndarray) -> FakeOut:
        self._note("call")
        return FakeOut(np.asarray(image))


class Served:
    """A server with FakePipelines; `log` is every pipeline's record; `names`: what its model description says the
    model runs (ModelDescription.names; None: not said)."""

    def __init__(self, record_dir: str | None = None, names: ServedNames | None = None, **model: Any) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.seen = threading.Condition()
        config = with_overrides(ServerConfig(), model={"name": "identity", "identity_inline": False, **model},
                                limits={"max_width": MAX_SIDE, "max_height": MAX_SIDE, "max_message_bytes": MAX_BYTES,
                                        "max_sessions": 3, "max_style_images": 2},
                                top={"bind": "tcp://127.0.0.1:*"})
        description = ModelDescription("fake", m.ModelFamily.SD15, SIZE, SIZE, 0, names=names)
        self.server = BridgeServer(config, pipeline_factory=lambda w, h: FakePipeline(self.log, self.seen),
                                   model=description, record_dir=record_dir)

    def updates(self) -> dict[str, Any]:
        """Every update the pipelines got, merged in order."""
        merged: dict[str, Any] = {}
        for entry in list(self.log):
            if entry[0] == "update":
                merged.update(entry[1])
        return merged

    def wait_for(self, what: str, count: int = 1) -> None:
        with self.seen:
            assert self.seen.wait_for(lambda: sum(e[0] == what for e in self.log) >= count, timeout=10), self.log


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served(ip_adapter="tiny", controlnet=("depth=tiny",))
    s.server.start_in_thread()
    yield s
    s.server.close()


def _image(seed: int = 0, channels: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, channels), dtype=np.uint8)


def _round_trip(client: BridgeClient, **submit: Any) -> None:
    client.submit(_image(), **submit)
    assert client.receive(timeout=10) is not None


def test_every_new_params_field_reaches_the_pipeline(served: Served) -> None:
    values = {"controlnet_scale": {"depth": 0.5}, "controlnet_start": [("depth", 0.25)],
              "controlnet_end": [("depth", 0.75)], "latent_feedback": 0.25, "motion_warp": 0.5, "motion_warp_step": 1,
              "scene_cut_threshold": 0.375, "ip_adapter_scale": 0.625, "style_blend": [("ink", 1.5)],
              "lora_weights": [("toon", -0.5)]}
    with BridgeClient(served.server.endpoint, name="params14") as client:
        client.connect(timeout=10)
        _round_trip(client)
        assert "latent_feedback" not in served.updates()  # able to fail: nothing set it yet
        client.set_params(**values)
        _round_trip(client)  # the update applies before the next frame
    got = served.updates()
    expected = {k: [(n, float(w)) for n, w in (v.items() if isinstance(v, dict) else v)]
                if isinstance(v, dict | list) else v for k, v in values.items()}
    assert {k: got[k] for k in expected} == expected


def test_out_of_range_new_fields_are_refused_naming_the_field(served: Served) -> None:
    peer = RawPeer(served.server.endpoint)  # a client without the Python client's own checks
    try:
        peer.hello()
        fields = []
        for params in (m.Params(latent_feedback=0.9), m.Params(style_blend=(m.AdapterWeight("ink", 3.0),)),
                       m.Params(motion_warp_step=50), m.Params(controlnet_end=(m.AdapterWeight("depth", 1.5),))):
            peer.send_msg(params)
            error = peer.recv_until(m.ErrorMsg)[-1]
            assert isinstance(error, m.ErrorMsg) and not error.session_closed
            fields.append(error.field)
        peer.send_msg(m.Ping(nonce=7))
        assert peer.recv_until(m.Pong)  # the session stays up
    finally:
        peer.close()
    assert fields == ["Params.latent_feedback", "Params.style_blend[0].weight", "Params.motion_warp_step",
                      "Params.controlnet_end[0].weight"]
    assert "latent_feedback" not in served.updates()


def test_the_welcome_counts_the_replicas_sessions(served: Served) -> None:
    clients = [BridgeClient(served.server.endpoint, name=f"c{i}") for i in range(3)]
    try:
        welcomes = [c.connect(timeout=10) for c in clients]
        assert [(w.sessions_open, w.sessions_max) for w in welcomes] == [(1, 3), (2, 3), (3, 3)]
        extra = BridgeClient(served.server.endpoint, name="one-too-many", auto_reconnect=False)
        with pytest.raises(ProtocolError, match=r"SESSION_LIMIT.*retry later") as refused:  # full: a retry hint
            extra.connect(timeout=10)
        extra.close()
        assert retryable(refused.value)  # the client's reconnect backoff tries again (elsewhere, behind a balancer)
    finally:
        for c in clients:
            c.close()


def test_wanted_planes_follow_the_controlnets_and_motion_warping(served: Served) -> None:
    with BridgeClient(served.server.endpoint, name="planes14") as client:
        welcome = client.connect(timeout=10)
        assert welcome.wanted_planes == client.wanted_planes == (m.PlaneKind.DEPTH,)
        client.set_params(motion_warp=0.5)  # warping on: the server now wants motion vectors too
        _round_trip(client)
        assert client.wanted_planes == (m.PlaneKind.DEPTH, m.PlaneKind.MOTION)
        client.set_params(motion_warp=0.25)  # still on: no Notice
        client.set_params(motion_warp=0.0)
        _round_trip(client)
        assert client.wanted_planes == (m.PlaneKind.DEPTH,)
        changes = [n.wanted_planes for n in client.notices if n.kind is m.NoticeKind.WANTED_PLANES_CHANGED]
    assert changes == [(m.PlaneKind.DEPTH, m.PlaneKind.MOTION), (m.PlaneKind.DEPTH,)]


def test_a_server_without_controlnets_wants_no_planes() -> None:
    s = Served()
    s.server.start_in_thread()
    try:
        with BridgeClient(s.server.endpoint, name="none") as client:
            welcome = client.connect(timeout=10)
        assert welcome.wanted_planes == ()
        assert not welcome.capabilities & m.Capability.STYLE_IMAGES  # no IP-Adapter: no style images
    finally:
        s.server.close()


def test_a_scene_cut_resets_the_temporal_state_before_its_frame(served: Served) -> None:
    with BridgeClient(served.server.endpoint, name="cut") as client:
        client.connect(timeout=10)
        _round_trip(client)
        _round_trip(client)
        assert not any(e[0] == "scene_cut" for e in served.log)  # able to fail: plain frames cut nothing
        _round_trip(client, scene_cut=True)
        _round_trip(client)
    kinds = [e[0] for e in served.log if e[0] in ("scene_cut", "call")]
    assert kinds == ["call", "call", "scene_cut", "call", "call"]


def test_a_style_image_reaches_the_pipeline_as_rgb(served: Served) -> None:
    image = _image(3)
    with BridgeClient(served.server.endpoint, name="style") as client:
        welcome = client.connect(timeout=10)
        assert welcome.capabilities & m.Capability.STYLE_IMAGES
        client.send_style_image("ink", image)
        client.set_params(style_blend=[("ink", 1.0)])
        _round_trip(client)
    styles = served.updates()["style_images"]
    assert styles.names == ("ink",)
    np.testing.assert_array_equal(styles.images[0][1], image[..., :3])
    assert served.updates()["style_blend"] == [("ink", 1.0)]
