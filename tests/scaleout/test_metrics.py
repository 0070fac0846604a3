"""The metrics port of one replica (sdbridge.serving.metrics, metrics_http): the Prometheus series after real
traffic, /healthz, /readyz (ready, full, draining), the GPU memory gauges with torch.cuda patched, and the
`serve` flags that turn it on."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import types

import numpy as np
import pytest

from sdbridge.commands import serve
from sdbridge.config import ConfigError, ServerConfig, parse_config, with_overrides
from sdbridge.errors import ProtocolError, TransportError
from sdbridge.protocol import messages as m
from sdbridge.serving.metrics import Hist, gpu_memory
from sdbridge.transport.client import BridgeClient
from tests.conftest import wait_for
from tests.scaleout.helpers import get, identity_server

pytestmark = pytest.mark.integration


def _value(text: str, series: str) -> float:
    """The value of one series line (`name{labels} value`) in Prometheus text; fails naming the series."""
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{series} not in the scrape:\n{text[:3000]}"
    return float(found.group(1))


def _scrape_when(url: str, series: str, value: float) -> str:
    """The first scrape of /metrics in which `series` has `value` (the I/O thread counts after sending)."""

    def scrape() -> str:
        text = get(url + "/metrics")[1]
        return text if _value(text, series) == value else ""

    return str(wait_for(scrape, 10, f"{series} to reach {value}"))


def test_series_after_traffic_and_health() -> None:
    server = identity_server(limits={"max_sessions": 2})
    try:
        url = server.metrics_url
        assert get(url + "/healthz") == (200, "alive\n")
        assert get(url + "/readyz") == (200, "ready\n")
        image = np.random.default_rng(1).integers(0, 256, (16, 24, 4), dtype=np.uint8)
        with BridgeClient(server.endpoint, name="metrics-a") as client:
            client.connect(timeout=10)
            for _ in range(5):
                client.submit(image)
                result = client.receive(timeout=10)
                assert result is not None and np.array_equal(result.image, image)
        # the session closes when the server reads the Bye: its frames then stay in the totals
        text = _scrape_when(url, "sdbridge_sessions_open", 0)
        assert _value(text, "sdbridge_frames_in_total") == 5
        assert _value(text, "sdbridge_frames_out_total") == 5
        assert _value(text, "sdbridge_latency_seconds_count") == 5
        assert _value(text, "sdbridge_inference_seconds_count") == 5
        assert _value(text, "sdbridge_queue_wait_seconds_count") == 5
        assert _value(text, "sdbridge_sessions_max") == 2
        assert _value(text, 'sdbridge_replica_info{accel="eager",device="cpu",family="IDENTITY",model="identity"}') == 1
        assert _value(text, "sdbridge_ready") == 1
        assert "sdbridge_gpu_memory" not in text  # a CPU replica has none
    finally:
        server.close()


def test_live_sessions_and_errors_by_code() -> None:
    server = identity_server(limits={"max_sessions": 1})
    try:
        image = np.zeros((8, 8, 4), dtype=np.uint8)
        with BridgeClient(server.endpoint, name="metrics-live") as client:
            client.connect(timeout=10)
            client.submit(image)
            assert client.receive(timeout=10) is not None
            status, body = get(server.metrics_url + "/readyz")
            assert status == 503 and "full: 1 of limits.max_sessions=1" in body
            second = BridgeClient(server.endpoint, name="refused", auto_reconnect=False)
            with pytest.raises(ProtocolError, match="SESSION_LIMIT"):
                second.connect(timeout=5)
            second.close()
            labels = f'{{client="metrics-live",session="{client.session_id}"}}'
            text = _scrape_when(server.metrics_url, "sdbridge_session_frames_out_total" + labels, 1)
            assert _value(text, "sdbridge_session_frames_in_total" + labels) == 1
            assert _value(text, 'sdbridge_errors_total{code="SESSION_LIMIT"}') == 1
            assert _value(text, "sdbridge_sessions_open") == 1
            assert _value(text, "sdbridge_ready") == 0
    finally:
        server.close()


def test_draining_replica_refuses_hello_tells_sessions_and_stops() -> None:
    server = identity_server(metrics={"drain_grace_s": 30.0})
    try:
        with BridgeClient(server.endpoint, name="drained", auto_reconnect=False) as client:
            client.connect(timeout=10)
            client.submit(np.zeros((8, 8, 4), dtype=np.uint8))
            assert client.receive(timeout=10) is not None
            server.drain()
            status, body = get(server.metrics_url + "/readyz")
            assert status == 503 and "draining" in body
            _, text = get(server.metrics_url + "/metrics")
            assert _value(text, "sdbridge_draining") == 1

            def told() -> bool:
                with contextlib.suppress(TransportError):  # the notice ends the session (no auto_reconnect here)
                    client.receive(timeout=0.05)
                return any(n.kind is m.NoticeKind.SERVER_SHUTDOWN for n in client.notices)

            wait_for(told, 10, "the ServerShutdown notice")
            assert not client.connected and "shutting down" in client.counters.lost_reason
            late = BridgeClient(server.endpoint, name="late", auto_reconnect=False)
            with pytest.raises(ProtocolError, match="draining"):
                late.connect(timeout=5)
            late.close()
            # moving: Bye to the old session, then the Hello is refused (draining) or unanswered (the replica
            # stopped as soon as its last session left)
            with pytest.raises((ProtocolError, TransportError)):
                client.reconnect(timeout=2)
        # the client's Bye closed the last session: the I/O loop ends well before the 30 s grace
        io_thread = server._io_thread
        wait_for(lambda: not io_thread.is_alive(), 10, "the drained server to stop")
    finally:
        server.close()


def test_gpu_memory_from_torch_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CUDA branch (not run on a GPU here): torch.cuda's functions patched."""
    fake_cuda = types.SimpleNamespace(is_available=lambda: True,
                                      memory_allocated=lambda d: 1234 if d == "cuda:1" else 0,
                                      memory_reserved=lambda d: 4096 if d == "cuda:1" else 0)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=fake_cuda))
    assert gpu_memory("cuda:1") == {"allocated": 1234.0, "reserved": 4096.0}
    assert gpu_memory("cpu") == {}


def test_serve_flags_and_config_section() -> None:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    cfg = serve.config_from_args(parser.parse_args(["--metrics-port", "0", "--metrics-host", "0.0.0.0",
                                                    "--drain-grace", "7.5"]))
    assert (cfg.metrics.enabled, cfg.metrics.port, cfg.metrics.host, cfg.metrics.drain_grace_s) == (
        True, 0, "0.0.0.0", 7.5)
    assert serve.config_from_args(parser.parse_args([])).metrics == ServerConfig().metrics
    parsed = parse_config("[metrics]\nenabled = true\nport = 9100\ndrain_grace_s = 20.0\n")
    assert (parsed.metrics.enabled, parsed.metrics.port, parsed.metrics.drain_grace_s) == (True, 9100, 20.0)
    with pytest.raises(ConfigError, match=r"metrics.port=70000 must be in \[0, 65535\]"):
        with_overrides(ServerConfig(), metrics={"port": 70000})
    with pytest.raises(ConfigError, match=r"metrics\.drain_grace_s=-1"):
        with_overrides(ServerConfig(), metrics={"drain_grace_s": -1.0})


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    hist = Hist("sdbridge_test_seconds", "test", bounds=(0.01, 0.1, 1.0))
    for value in (0.005, 0.01, 0.05, 0.5, 2.0, 3.0):
        hist.observe(value)
    samples = {(s.name, s.labels.get("le", "")): s.value for s in hist.family().samples}
    assert [samples[("sdbridge_test_seconds_bucket", le)] for le in ("0.01", "0.1", "1.0", "+Inf")] == [2, 3, 4, 6]
    assert samples[("sdbridge_test_seconds_count", "")] == 6
    assert samples[("sdbridge_test_seconds_sum", "")] == pytest.approx(5.565)
