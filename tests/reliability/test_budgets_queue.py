"""A client that never reads can pin only a few results (limits.max_queued_results).

The ROUTER's per-peer send HWM is derived from session.credits and limits.max_queued_results
(ServerConfig.send_hwm). Before, it was 1000 messages: two clients sending 40 frames of 16 MiB each without
reading raised the server's memory by 1.2 GB. Here one such client sends 4 MiB frames to a `sdbridge serve`
process while an honest client streams; the server's RSS is measured before and after.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import zmq

from sdbridge.config import ServerConfig
from sdbridge.protocol import messages as m
from sdbridge.transport.client import BridgeClient
from sdbridge.transport.zmq_server import RouterTransport
from tests.conftest import wait_for

from .faults import NonReader
from .load import ServerProcess, free_port, rss_kb

SIDE = 1024  # 4 MiB RGBA frames
FRAMES = 80  # 320 MiB if the server kept them all


def test_send_hwm_is_derived_from_credits_and_max_queued_results() -> None:
    cfg = ServerConfig()
    credits, queued = cfg.session.credits, cfg.limits.max_queued_results
    # libzmq acknowledges taken messages every (hwm + 1) // 2: 2C - 1 always leaves room for C = credits + queued
    assert cfg.send_hwm == 2 * (credits + queued) - 1
    hwm = cfg.send_hwm
    assert hwm - (hwm + 1) // 2 + 1 >= credits + queued
    transport = RouterTransport("tcp://127.0.0.1:*", 1 << 20, cfg.send_hwm, cfg.session.recv_hwm,
                                zmq.Context.instance())
    try:
        assert transport.socket.getsockopt(zmq.SNDHWM) == cfg.send_hwm
    finally:
        transport.close()


@pytest.mark.timeout(180)
def test_a_client_that_never_reads_pins_only_a_few_large_results() -> None:
    server = ServerProcess("identity", free_port())
    stop = threading.Event()
    honest_results = [0]

    def honest() -> None:
        image = np.full((64, 64, 4), 5, dtype=np.uint8)
        with BridgeClient(server.endpoint, name="honest") as client:
            client.connect(timeout=10)
            while not stop.is_set():
                if client.credits > 0:
                    client.submit(image)
                if client.receive(timeout=1) is not None:
                    honest_results[0] += 1

    thread = threading.Thread(target=honest, daemon=True)
    try:
        thread.start()
        wait_for(lambda: honest_results[0] >= 20, 30, what="20 results for the honest client")
        base = rss_kb(server.pid)
        flooder = NonReader(server.endpoint, SIDE)
        samples = []
        while flooder.sent < FRAMES:
            flooder.flood(0.5, per_second=40)
            samples.append(rss_kb(server.pid))
        time.sleep(1.0)
        samples.append(rss_kb(server.pid))
        # the honest client keeps streaming after the flood: 5 more results, waited for (how many arrive in a fixed
        # second depends on the machine's load); a server stuck on the non-reader sends it none and this fails
        before, after_flood = honest_results[0], time.monotonic()
        wait_for(lambda: honest_results[0] >= before + 5, 60, what="5 more results for the honest client")
        honest_s = time.monotonic() - after_flood
        flooder.close()
    finally:
        stop.set()
        thread.join(5)
        server.stop()
    frame_kb = SIDE * SIDE * 4 // 1024
    hwm = ServerConfig().send_hwm
    # the queue (send_hwm results), the one the connection is writing, the frames waiting in the receive queue
    # and in flight through the I/O loop, and allocator slack
    bound_kb = (hwm + 4) * frame_kb + 48 * 1024
    growth = max(samples) - base
    print(f"never reads: sent {flooder.sent} frames of {frame_kb} KiB; server RSS {base} KiB -> {samples} KiB "
          f"(+{growth} KiB; bound {bound_kb} KiB = (send_hwm {hwm} + 4) frames + 48 MiB); 5 more honest results "
          f"{honest_s:.2f} s after the flood")
    assert "not reading its results" in "".join(server.log)
    assert growth <= bound_kb


def test_a_burst_of_replies_to_a_reading_client_loses_no_credit() -> None:
    """The small send HWM must not cost an honest client anything: 300 refused frames sent in one burst get
    300 Errors and 300 Credits back (what meets the full queue waits in the peer's backlog, in order)."""
    from .test_budgets import Peer, frame, peers, serving

    with serving() as server, peers(server) as (peer,):
        burst = 300
        head, pixels = frame(1)
        for _ in range(burst):
            peer.send(head, pixels[:-1])  # a pixel part one byte short: Error BAD_PIXEL_SIZE + Credit
        peer.send(m.Ping(nonce=3))
        seen = peer.until(m.Pong, timeout_ms=10000)
        credits = sum(s.granted for s in seen if isinstance(s, m.Credit))
        errors = sum(isinstance(s, m.ErrorMsg) and s.code is m.ErrorCode.BAD_PIXEL_SIZE for s in seen)
        assert (errors, credits) == (burst, burst)
        assert server.transport.stats.send_dropped_hwm == 0
        assert isinstance(peer, Peer) and len(server.table) == 1
