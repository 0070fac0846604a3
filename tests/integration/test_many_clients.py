"""Several clients at once, each in its own thread, against the identity server: no mixing, no loss."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

pytestmark = pytest.mark.integration

CLIENTS = 4
FRAMES = 60


@pytest.fixture
def identity_server(identity_inline: bool) -> Iterator[BridgeServer]:
    """The identity server, answering inline on the I/O thread and through the worker's latest-wins slot."""
    cfg = with_overrides(ServerConfig(), model={"name": "identity", "identity_inline": identity_inline},
                         top={"bind": "tcp://127.0.0.1:*"},
                         session={"credits": 3})
    server = BridgeServer(cfg)
    server.start_in_thread()
    yield server
    server.close()


def _run_client(endpoint: str, index: int, problems: list[str], counts: list[int]) -> None:
    rng = np.random.default_rng(index)
    sent: dict[int, np.ndarray] = {}
    received = 0
    with BridgeClient(endpoint, name=f"client-{index}") as client:
        client.connect(timeout=10)
        for i in range(FRAMES):
            h, w = 8 + index, 12 + 2 * index  # every client its own size
            image = rng.integers(0, 256, (h, w, 4 if index % 2 else 3), dtype=np.uint8)
            frame_id = client.submit(image)
            if frame_id is not None:
                sent[frame_id] = image
            if i % 10 == 0:
                client.set_prompt(f"prompt of client {index} step {i}")
            while client.credits == 0 or (i == FRAMES - 1 and len(sent) > received + client.counters.credits_returned):
                result = client.receive(timeout=10)
                if result is None:
                    problems.append(f"client {index}: no result within 10 s")
                    return
                received += 1
                want = sent.get(result.frame_id)
                if want is None or not np.array_equal(result.image, want):
                    problems.append(f"client {index}: frame {result.frame_id} is not the frame it sent")
                    return
    counts[index] = received


def test_concurrent_clients_get_only_their_own_frames(identity_server: BridgeServer) -> None:
    problems: list[str] = []
    counts = [0] * CLIENTS
    threads = [threading.Thread(target=_run_client, args=(identity_server.endpoint, i, problems, counts))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    assert problems == []
    assert all(c > 0 for c in counts)
    assert identity_server.transport.stats.send_dropped_hwm == 0
