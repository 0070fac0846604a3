"""The real server with the tiny random-weight model at 64x64, driven by BridgeClient over tcp loopback.

Random ports, linger 0, a timeout on every receive: nothing here can hang.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.pipeline import Components
from sdbridge.served_model import factory_from_components
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient, BridgeResult

pytestmark = pytest.mark.integration

SIZE = 64


def _config(**session: object) -> ServerConfig:
    return with_overrides(ServerConfig(), model={"name": "tiny", "width": SIZE, "height": SIZE},
                          session=dict(session), top={"bind": "tcp://127.0.0.1:*"})


@pytest.fixture(scope="module")
def tiny_server(tiny: Components) -> Iterator[BridgeServer]:
    # long heartbeat timeout: one test thread drives several clients, and a client blocked in another
    # client's receive() cannot send heartbeats (tests/transport/test_liveness.py covers expiry)
    cfg = _config(heartbeat_interval_ms=1000, heartbeat_timeout_s=120.0)
    factory, model = factory_from_components(tiny, cfg)
    server = BridgeServer(cfg, factory, model)
    server.start_in_thread()
    yield server
    server.close()


def _frames(count: int, seed: int, channels: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, (SIZE, SIZE, channels), dtype=np.uint8) for _ in range(count)]
    for f in frames:
        if channels == 4:
            f[..., 3] = 255
    return frames


def _client(server: BridgeServer, name: str, prompt: str) -> BridgeClient:
    client = BridgeClient(server.endpoint, name=name)
    client.connect(timeout=10)
    client.set_prompt(prompt)
    return client


def _round_trips(client: BridgeClient, frames: list[np.ndarray]) -> list[BridgeResult]:
    out = []
    for frame in frames:
        assert client.submit(frame) is not None
        result = client.receive(timeout=30)
        assert result is not None
        out.append(result)
    return out


def test_two_clients_with_different_prompts_never_mix(tiny_server: BridgeServer) -> None:
    a_in, b_in = _frames(5, seed=1), _frames(5, seed=2, channels=3)
    a = _client(tiny_server, "a", "a red castle")
    b = _client(tiny_server, "b", "a blue ocean at night")
    try:
        assert a.session_id != b.session_id
        a_out: list[BridgeResult] = []
        b_out: list[BridgeResult] = []
        for fa, fb in zip(a_in, b_in, strict=True):  # both in flight at once, interleaved
            ida, idb = a.submit(fa), b.submit(fb)
            ra, rb = a.receive(timeout=30), b.receive(timeout=30)
            assert ra is not None and rb is not None
            assert (ra.frame_id, rb.frame_id) == (ida, idb)
            a_out.append(ra)
            b_out.append(rb)
        assert all(r.image.shape == (SIZE, SIZE, 4) for r in a_out)  # RGBA in, RGBA out
        assert all(r.image.shape == (SIZE, SIZE, 3) for r in b_out)  # RGB in, RGB out
    finally:
        a.close()
        b.close()
    # a fresh session with a's prompt and inputs reproduces exactly a's outputs: nothing of b leaked in
    with _client(tiny_server, "a-again", "a red castle") as ref:
        ref_out = _round_trips(ref, a_in)
    for index, (got, want) in enumerate(zip(a_out, ref_out, strict=True)):
        np.testing.assert_array_equal(got.image, want.image, err_msg=f"output {index} of client a")
    # and b's prompt gives other pictures for the same input
    with _client(tiny_server, "b-on-a", "a blue ocean at night") as other:
        other_out = _round_trips(other, a_in)
    assert any(not np.array_equal(x.image, y.image) for x, y in zip(other_out[1:], ref_out[1:], strict=True))


def test_frame_ids_come_back_in_order(tiny_server: BridgeServer) -> None:
    frames = _frames(8, seed=3)
    with _client(tiny_server, "order", "a forest") as client:
        sent, received = [], []
        for frame in frames:
            frame_id = client.submit(frame)
            if frame_id is not None:
                sent.append(frame_id)
            while client.credits == 0:  # keep the pipe full: 2 in flight
                result = client.receive(timeout=30)
                assert result is not None
                received.append(result.frame_id)
        while len(received) + client.counters.credits_returned < len(sent):
            result = client.receive(timeout=30)
            assert result is not None
            received.append(result.frame_id)
    assert received == sorted(received) and len(set(received)) == len(received)
    assert set(received) <= set(sent)


def test_prompt_change_shows_within_latency_plus_one_frames(tiny_server: BridgeServer) -> None:
    frame = _frames(1, seed=4)[0]
    with _client(tiny_server, "prompt", "a red castle") as client:
        latency = client.latency_frames
        assert latency == 1  # two t_index values, Stream Batch: an output lags its input by n-1 = 1
        before = _round_trips(client, [frame] * (latency + 3))
        assert before[0].is_warmup and not before[-1].is_warmup
        steady = before[-1].image
        np.testing.assert_array_equal(before[-2].image, steady)  # static input -> static output
        client.set_prompt("a blue ocean at night")
        after = _round_trips(client, [frame] * (latency + 2))
    changed = after[latency].image
    assert np.abs(changed.astype(int) - steady.astype(int)).mean() > 0.05
    np.testing.assert_array_equal(after[latency + 1].image, changed)  # the new prompt's steady state


def test_reconnect_gets_a_fresh_session(tiny_server: BridgeServer) -> None:
    frame = _frames(1, seed=5)[0]
    with _client(tiny_server, "reconnect", "a red castle") as client:
        first = client.session_id
        _round_trips(client, [frame])
        client.reconnect(timeout=10)
        assert client.session_id != first
        ids = [s.session_id for s in tiny_server.table.sessions()]
        assert client.session_id in ids and first not in ids  # Bye freed the old session
        assert _round_trips(client, [frame])[0].frame_id == 2


def test_other_frame_sizes_are_resized_in_and_out(tiny_server: BridgeServer) -> None:
    rng = np.random.default_rng(7)
    frame = rng.integers(0, 256, (40, 48, 4), dtype=np.uint8)  # not the model's 64x64
    with _client(tiny_server, "resize", "a red castle") as client:
        assert "resized" in client.welcome.warning
        results = _round_trips(client, [frame, frame])
    assert all(r.image.shape == (40, 48, 4) for r in results)
    np.testing.assert_array_equal(results[-1].image[..., 3], frame[..., 3])  # alpha passes through
