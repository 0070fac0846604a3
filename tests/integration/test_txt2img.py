"""Live CFG mode and txt2img over the wire (protocol 1.2), with the tiny model and the identity model.

- the pipeline: StreamConfig.txt2img makes a call ignore its input and equal txt2img() (also staged for a shared
  UNet batch); cfg_mode changes between frames through update;
- the server: Params.cfg_mode reaches the session's pipeline; Params.txt2img plus client Credits give one generated
  Result per credit, of the model's size, numbered 1, 2, 3, ...; Frames are refused meanwhile (credit back);
  a Credit outside txt2img or beyond the free credits is refused naming the field; txt2img off returns the
  credits of requests not yet started; the identity model answers with its test pattern.

Random ports, linger 0, a timeout on every receive: nothing here can hang.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.errors import InputError
from sdbridge.pipeline import Components, StreamConfig, StreamPipeline
from sdbridge.pipeline.guidance import CfgMode
from sdbridge.protocol import messages as m
from sdbridge.served_model import factory_from_components
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient
from tests.conftest import wait_for

pytestmark = pytest.mark.integration

SIZE = 64


def _server(components: Components, credits: int = 2) -> BridgeServer:
    cfg = with_overrides(ServerConfig(), model={"name": components.name, "width": SIZE, "height": SIZE},
                         session={"heartbeat_interval_ms": 1000, "heartbeat_timeout_s": 120.0, "credits": credits},
                         top={"bind": "tcp://127.0.0.1:*"})
    factory, model = factory_from_components(components, cfg)
    server = BridgeServer(cfg, factory, model)
    server.start_in_thread()
    return server


@pytest.fixture(scope="module")
def tiny_server(tiny: Components) -> Iterator[BridgeServer]:
    server = _server(tiny)
    yield server
    server.close()


@pytest.fixture()
def client(tiny_server: BridgeServer) -> Iterator[BridgeClient]:
    with BridgeClient(tiny_server.endpoint, name="txt2img-test") as c:
        c.connect(timeout=10)
        c.set_prompt("a lighthouse at dusk")
        yield c


def _errors(client: BridgeClient, code: m.ErrorCode) -> list[m.ErrorMsg]:
    return [e for e in client.counters.recent_errors if e.code is code]


def test_a_txt2img_config_ignores_the_input_and_equals_txt2img(tiny: Components) -> None:
    config = StreamConfig(width=SIZE, height=SIZE, t_index_list=(20, 40), seed=5)
    plain, switched = StreamPipeline(tiny, config), StreamPipeline(tiny, config.replace(txt2img=True))
    for pipe in (plain, switched):
        pipe.prepare("a lighthouse")
    rng = np.random.default_rng(0)
    for _ in range(3):
        frame = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)  # a different input each call: ignored
        expected, got = plain.txt2img(), switched(frame)
        assert got.is_warmup == expected.is_warmup and np.array_equal(got.image, expected.image)
    staged = switched.stage(np.zeros((SIZE, SIZE, 3), np.uint8))  # the shared-batch path generates too
    assert np.array_equal(switched.complete(staged, switched.run_unet(staged.request)).image,  # type: ignore[union-attr]
                          plain.txt2img().image)


def test_cfg_mode_changes_between_frames_over_the_wire(tiny_server: BridgeServer, client: BridgeClient) -> None:
    frame = np.full((SIZE, SIZE, 3), 128, np.uint8)
    client.set_params(cfg_mode="full", guidance_scale=3.0)
    assert client.submit(frame) is not None and client.receive(timeout=30) is not None
    session = next(s for s in tiny_server.table.sessions() if s.session_id == client.session_id)
    assert session.pipeline.config.cfg_mode is CfgMode.FULL
    client.set_params(cfg_mode=m.CfgMode.SELF)
    assert client.submit(frame) is not None and client.receive(timeout=30) is not None
    assert session.pipeline.config.cfg_mode is CfgMode.SELF
    with pytest.raises(InputError, match=r"cfg_mode='strong' must be one of none, self, initialize, full"):
        client.set_params(cfg_mode="strong")
    client._io.send(m.Params(cfg_mode=7))  # what a buggy engine client could send
    error = wait_for(lambda: client.receive(timeout=0.2) or _errors(client, m.ErrorCode.BAD_PARAM), 10,
                     "the refusal of cfg_mode=7")
    assert isinstance(error, list) and error[-1].field == "Params.cfg_mode"
    assert error[-1].message == "Params.cfg_mode: cfg_mode=7 must be one of none, self, initialize, full"
    assert session.pipeline.config.cfg_mode is CfgMode.SELF  # unchanged


def test_txt2img_streams_one_result_per_credit_without_frames(tiny_server: BridgeServer,
                                                              client: BridgeClient) -> None:
    assert client.welcome is not None and client.welcome.capabilities & m.Capability.TXT2IMG
    client.set_params(txt2img=True)
    assert client.request_frames() == 2 and client.credits == 0
    results = []
    for _ in range(5):
        result = client.receive(timeout=30)
        assert result is not None
        results.append(result)
        assert client.request_frames(1) == 1
    assert [r.frame_id for r in results] == [1, 2, 3, 4, 5]
    assert all(r.image.shape == (SIZE, SIZE, 4) for r in results)
    assert results[0].is_warmup and not results[-1].is_warmup  # Stream Batch latency, as for img2img
    assert len({r.image.tobytes() for r in results}) == 5  # fresh noise each frame
    with pytest.raises(InputError, match="submit\\(\\) while txt2img is on"):
        client.submit(np.zeros((SIZE, SIZE, 4), np.uint8))
    stats = client.stats()
    assert stats.frames_out == 5  # (frames_in counts the 7 requests: 2 + 5)
    session = next(s for s in tiny_server.table.sessions() if s.session_id == client.session_id)
    assert client.receive(timeout=30) is not None  # one of the two requests still in flight: its credit is back
    before = session.last_frame_at  # limits.idle_session_s counts from the last request, as from a Frame
    assert client.request_frames(1) == 1
    wait_for(lambda: session.last_frame_at > before, 10, "the request to count as activity")


def test_frames_and_bad_credits_are_refused_in_txt2img_and_off_returns_credits(
        tiny_server: BridgeServer, client: BridgeClient) -> None:
    client._io.send(m.Credit(granted=1))  # not in txt2img mode yet
    wait_for(lambda: client.receive(timeout=0.2) or _errors(client, m.ErrorCode.BAD_PARAM), 10, "Credit refusal")
    assert _errors(client, m.ErrorCode.BAD_PARAM)[-1].field == "Credit"
    client.set_params(txt2img=True)
    client._io.send(m.Credit(granted=3))  # more than the 2 credits held
    wait_for(lambda: client.receive(timeout=0.2) or _errors(client, m.ErrorCode.NO_CREDIT), 10, "NO_CREDIT")
    assert _errors(client, m.ErrorCode.NO_CREDIT)[-1].field == "Credit.granted"
    # a Frame while txt2img is on (sent under the client's own check): refused, its credit comes back
    header = m.FrameHeader(frame_id=99, width=SIZE, height=SIZE, stride=SIZE * 4, pixel_format=m.PixelFormat.RGBA8,
                           row_order=m.RowOrder.TOP_DOWN, session_id=client.session_id)
    client._io.send_frame(header, np.zeros((SIZE, SIZE, 4), np.uint8))
    client.credits -= 1
    wait_for(lambda: client.receive(timeout=0.2) or client.credits == 2, 10, "the refused frame's credit")
    refused = [e for e in _errors(client, m.ErrorCode.BAD_PARAM) if e.field == "Frame"]
    assert refused and "txt2img mode" in refused[-1].message
    # off: every credit comes back (a request already with the worker answers with its Result)
    assert client.request_frames() == 2
    client.set_params(txt2img=False)
    wait_for(lambda: (client.receive(timeout=0.2), client.credits == 2)[1], 30, "both credits back")
    assert client.submit(np.zeros((SIZE, SIZE, 4), np.uint8)) is not None  # frames flow again
    assert client.receive(timeout=30) is not None


def test_the_identity_model_answers_txt2img_with_its_test_pattern() -> None:
    from sdbridge.pipeline import load_components

    server = _server(load_components("identity"), credits=3)
    try:
        with BridgeClient(server.endpoint, name="identity-txt2img") as client:
            client.connect(timeout=10)
            client.set_params(txt2img=True)
            assert client.request_frames() == 3
            results = [client.receive(timeout=10) for _ in range(3)]
    finally:
        server.close()
    assert all(r is not None for r in results)
    images = [r.image for r in results if r is not None]
    assert [r.frame_id for r in results if r is not None] == [1, 2, 3]
    for image in images:  # red rises left to right, green top to bottom, opaque
        assert image.shape == (SIZE, SIZE, 4) and image[0, -1, 0] == 255 and image[-1, 0, 1] == 255
        assert image[0, 0, 0] == 0 and (image[..., 3] == 255).all()
    assert len({int(image[0, 0, 2]) for image in images}) == 3  # blue steps with each generated frame
