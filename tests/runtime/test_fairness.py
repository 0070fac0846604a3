"""Fair share of the worker, measured over real sockets: the tiny model at 64x64, the server in-process.

A well-behaved client streams alone, then beside a client that sends the costliest valid requests the
limits allow (sdbridge.bench.fairness): a new Prompt blend of limits.max_prompt_blend distinct long texts
about every 20 ms, the longest t_index_list and the largest seed blend. The bystander must keep a good share
of its solo frames/s. The bound (25%) is looser than the goal (50%, the figure `sdbridge bench fairness`
reports) because this 2-core machine is shared with other jobs (at a load average of 13 a run gave 0.37, at
5 one gave 0.86); the worker without fair scheduling gave the bystander 5-6% (one attacker turn of ~9 text
encodings and an 8-step frame per bystander frame).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sdbridge.bench.fairness import measure
from sdbridge.config import ServerConfig, with_overrides
from sdbridge.pipeline import Components
from sdbridge.served_model import factory_from_components
from sdbridge.server import BridgeServer

pytestmark = pytest.mark.integration

SIZE = 64


@pytest.fixture
def tiny_server(tiny: Components, one_thread: None) -> Iterator[BridgeServer]:
    cfg = with_overrides(ServerConfig(), model={"name": "tiny", "width": SIZE, "height": SIZE},
                         session={"heartbeat_timeout_s": 120.0}, top={"bind": "tcp://127.0.0.1:*"})
    factory, model = factory_from_components(tiny, cfg)
    server = BridgeServer(cfg, factory, model)
    server.start_in_thread()
    yield server
    server.close()


@pytest.mark.timeout(240)
def test_bystander_keeps_its_share_beside_the_costliest_valid_requests(tiny_server: BridgeServer) -> None:
    report = measure(tiny_server.endpoint, tiny_server.config.limits, size=SIZE, seconds=4.0, rounds=1)
    print(f"fairness (tiny {SIZE}x{SIZE}): {report.summary()}")
    assert all(a.frames > 0 for a in report.attacks), "the attacker must have been served too"
    assert report.ratio >= 0.25, report.summary()
