"""The bind's HOST:PORT is parsed once (config_endpoint.tcp_host_port) for both the config's bind check and the
port probe: the probe used its own suffix test (':*' or ':0'), so a bind the check reads as 'any free port'
(tcp://HOST:00) was probed as a fixed port."""

from __future__ import annotations

import pytest

from sdbridge.commands import port_probe
from sdbridge.config import ServerConfig
from sdbridge.config_endpoint import any_free_port, bind_problem, tcp_host_port


@pytest.mark.parametrize(("bind", "parts"), [
    ("tcp://127.0.0.1:5555", ("127.0.0.1", "5555")),
    ("tcp://[::1]:6000", ("[::1]", "6000")),
    ("tcp://*:*", ("*", "*")),
    ("tcp://127.0.0.1", None),
    ("tcp://:5555", None),
    ("ipc:///tmp/x", None),
])
def test_one_parser_for_the_bind(bind: str, parts: tuple[str, str] | None) -> None:
    assert tcp_host_port(bind) == parts
    if bind.startswith("tcp://"):
        assert (bind_problem(bind) is None) == (parts is not None)


@pytest.mark.parametrize(("bind", "probed"), [("tcp://127.0.0.1:5555", True), ("tcp://127.0.0.1:0", False),
                                               ("tcp://127.0.0.1:00", False), ("tcp://127.0.0.1:*", False),
                                               ("ipc:///tmp/sdbridge-probe", False)])
def test_the_probe_skips_exactly_the_any_port_binds(bind: str, probed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def probe(endpoint: str) -> None:
        calls.append(endpoint)

    monkeypatch.setattr(port_probe, "_zmq_bind_error", probe)
    port_probe.check_ports_free(ServerConfig(bind=bind))
    assert calls == ([bind] if probed else [])
    parts = tcp_host_port(bind)
    assert probed == (parts is not None and not any_free_port(parts[1]))
