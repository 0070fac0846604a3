"""A real Prometheus server (Debian's `prometheus`, scripts/install_tools.sh group scaleout) scrapes a replica's
metrics port on loopback; its HTTP query API then holds the series with the values the traffic made."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from sdbridge.transport.client import BridgeClient
from tests.conftest import NO_SKIP, wait_for
from tests.scaleout.helpers import free_port, get, identity_server

pytestmark = pytest.mark.integration

PROMETHEUS = shutil.which("prometheus")
if PROMETHEUS is None and not NO_SKIP:
    pytest.skip("prometheus not installed (bash scripts/install_tools.sh scaleout)", allow_module_level=True)


def _query(base: str, expr: str) -> list[dict[str, object]]:
    """The result vector of an instant query ([] while Prometheus is not up or has no sample yet)."""
    status, body = get(f"{base}/api/v1/query?query={urllib.parse.quote(expr)}", timeout=2)
    if status != 200:
        return []
    data = json.loads(body)
    return list(data["data"]["result"]) if data.get("status") == "success" else []


@pytest.mark.timeout(120)
def test_prometheus_scrapes_the_series(tmp_path: Path) -> None:
    server = identity_server()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    proc = None
    try:
        target = server.metrics_url.removeprefix("http://")
        config.write_text("global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n"
                          f"  - job_name: sdbridge\n    static_configs:\n      - targets: ['{target}']\n")
        assert PROMETHEUS is not None
        with (tmp_path / "prometheus.log").open("wb") as log:
            proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=log)
        base = f"http://127.0.0.1:{port}"
        image = np.random.default_rng(2).integers(0, 256, (16, 16, 4), dtype=np.uint8)
        with BridgeClient(server.endpoint, name="scraped") as client:
            client.connect(timeout=10)
            for _ in range(7):
                client.submit(image)
                assert client.receive(timeout=10) is not None
            labels = f'client="scraped",session="{client.session_id}"'

            def scraped(expr: str, value: float) -> bool:
                result = _query(base, expr)
                return bool(result) and float(result[0]["value"][1]) == value  # type: ignore[index]

            wait_for(lambda: scraped("sdbridge_frames_out_total", 7), 60, "Prometheus to scrape 7 results")
            assert scraped(f"sdbridge_session_frames_in_total{{{labels}}}", 7)
            assert scraped("sdbridge_sessions_open", 1)
            assert scraped("sdbridge_latency_seconds_count", 7)
            assert scraped('sdbridge_replica_info{model="identity",device="cpu"}', 1)
            assert scraped('up{job="sdbridge"}', 1)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        server.close()
