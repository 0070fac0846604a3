"""`sdbridge drain` and the metrics port's POST /drain: the route's refusals (method, peer, grace) with the drain
shown reachable first, and end to end: a real `sdbridge serve` process with a streaming client, drained by the
command in another process, tells the client to move, reports not ready, and exits 0; `drain --wait` returns
once it has."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from sdbridge.cli import main as cli_main
from sdbridge.config import MetricsConfig
from sdbridge.errors import TransportError
from sdbridge.protocol import messages as m
from sdbridge.serving.metrics_http import MetricsServer
from sdbridge.transport.client import BridgeClient
from tests.conftest import wait_for
from tests.reliability.load import ROOT, ServerProcess
from tests.scaleout.helpers import free_port, get


def _call(server: MetricsServer, method: str, peer: str, query: str = "") -> tuple[str, str]:
    """(status line, body) of one request to the WSGI app."""
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        got["status"] = status

    environ = {"PATH_INFO": "/drain", "REQUEST_METHOD": method, "REMOTE_ADDR": peer, "QUERY_STRING": query}
    body = b"".join(server._app(environ, start_response)).decode()
    return got["status"], body


def test_drain_route_refuses_other_methods_hosts_and_graces() -> None:
    calls: list[float] = []
    server = MetricsServer(MetricsConfig(enabled=True, drain_grace_s=7.0), CollectorRegistry(), lambda: [],
                           calls.append)
    assert _call(server, "POST", "127.0.0.1") == ("202 Accepted", "draining for at most 7 s\n")  # it can drain
    assert _call(server, "POST", "::ffff:127.0.0.1", "grace=2.5")[0] == "202 Accepted"
    assert _call(server, "POST", "::1", "grace=0")[0] == "202 Accepted"
    assert calls == [7.0, 2.5, 0.0]
    assert _call(server, "GET", "127.0.0.1")[0].startswith("405")
    status, body = _call(server, "POST", "10.1.2.3")
    assert status.startswith("403") and "10.1.2.3" in body and "loopback" in body
    for bad in ("-1", "nan", "1e9", "soon"):
        status, body = _call(server, "POST", "127.0.0.1", f"grace={bad}")
        assert status.startswith("400") and bad in body and "[0, 3600]" in body
    assert calls == [7.0, 2.5, 0.0]  # none of the refused requests drained
    no_drain = MetricsServer(MetricsConfig(enabled=True), CollectorRegistry(), lambda: [])
    assert _call(no_drain, "POST", "127.0.0.1")[0].startswith("404")


def test_drain_command_names_the_port_when_nothing_answers() -> None:
    port = free_port()
    assert cli_main(["drain", "--metrics-port", str(port)]) == 2
    assert cli_main(["drain", "--metrics-port", "0"]) == 2


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_drain_command_moves_the_session_and_the_replica_exits() -> None:
    metrics_port = free_port()
    server = ServerProcess("identity", free_port(),
                           extra=("--metrics-port", str(metrics_port), "--drain-grace", "30"))
    base = f"http://127.0.0.1:{metrics_port}"
    try:
        with BridgeClient(server.endpoint, name="drained", auto_reconnect=False) as client:
            client.connect(timeout=10)
            client.submit(np.zeros((8, 8, 4), dtype=np.uint8))
            assert client.receive(timeout=10) is not None
            assert get(base + "/readyz")[0] == 200
            command = subprocess.Popen([sys.executable, "-m", "sdbridge", "drain", "--metrics-port",
                                        str(metrics_port), "--wait", "--timeout", "60"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)

            def told() -> bool:
                with contextlib.suppress(TransportError):  # the notice ends the session (no auto_reconnect)
                    client.receive(timeout=0.05)
                return any(n.kind is m.NoticeKind.SERVER_SHUTDOWN for n in client.notices)

            wait_for(told, 30, "the ServerShutdown notice")
            status, body = get(base + "/readyz")
            assert status == 503 and "draining" in body
            assert command.poll() is None  # --wait: the replica still serves its session
        # the client's Bye closed the last session: the replica exits well before the 30 s grace
        output, _ = command.communicate(timeout=30)
        assert command.returncode == 0, output
        assert "draining for at most 30 s" in output and "the replica has exited" in output
        assert server.proc.wait(30) == 0, "".join(server.log[-30:])
    finally:
        server.stop(kill=True)
