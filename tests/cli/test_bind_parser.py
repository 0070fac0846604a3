"""The bind's HOST:PORT is parsed once (config_endpoint.tcp_host_port) for both the config's bind check and the
port probe: the probe used its own suffix test (':*' or ':0'), so a bind the check reads as 'any free port'
(tcp://HOST:00) was probed as a fixed port."""

from __future__ import annotations

import errno

import pytest
import zmq

from sdbridge.commands import port_probe
from sdbridge.config import ServerConfig
from sdbridge.config_endpoint import any_free_port, bind_problem, tcp_host_port
from sdbridge.errors import ConfigError


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


@pytest.mark.parametrize(("bind", "probed"), [("tcp://127.0.0.1:5555", True), ("tcp://127.0.0.1:0", True),
                                               ("tcp://127.0.0.1:00", True), ("tcp://127.0.0.1:*", True),
                                               ("ipc:///tmp/sdbridge-probe", False)])
def test_the_probe_checks_every_tcp_bind(bind: str, probed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tcp bind is probed (an any-port one too: its host may be no address of this machine); only a fixed
    port can be in use."""
    calls: list[str] = []

    def probe(endpoint: str) -> zmq.ZMQError:
        calls.append(endpoint)
        return zmq.ZMQError(errno.EADDRINUSE)

    monkeypatch.setattr(port_probe, "_zmq_bind_error", probe)
    parts = tcp_host_port(bind)
    in_use = parts is not None and not any_free_port(parts[1])
    if in_use:
        with pytest.raises(ConfigError, match="that port is in use"):
            port_probe.check_ports_free(ServerConfig(bind=bind))
    else:
        port_probe.check_ports_free(ServerConfig(bind=bind))
    assert calls == ([bind] if probed else [])
