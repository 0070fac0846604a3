"""`sdbridge serve` with a port that is already taken stops before the model loads, naming the option and the fix
(it used to load the model first: minutes for a real one; a taken metrics port was a traceback)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
import zmq

from sdbridge import cli
from sdbridge.config import MetricsConfig
from sdbridge.errors import TransportError
from sdbridge.serving.metrics_http import MetricsServer
from tests.cli.conftest import free_port


@pytest.fixture
def taken_tcp() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _serve(*argv: str) -> int:
    return cli.main(["serve", "--model", "identity", *argv])


def _error(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_free_ports_reach_the_model_load(loads: list[str], caplog: pytest.LogCaptureFixture) -> None:
    assert _serve("--bind", f"tcp://127.0.0.1:{free_port()}", "--preview-port", str(free_port()),
                  "--metrics-port", str(free_port())) == 2
    assert loads == ["load"] and "model load reached" in _error(caplog)


def test_a_taken_bind_port_stops_before_the_model_loads(loads: list[str], caplog: pytest.LogCaptureFixture) -> None:
    ctx = zmq.Context.instance()
    holder = ctx.socket(zmq.ROUTER)
    try:
        port = holder.bind_to_random_port("tcp://127.0.0.1")
        assert _serve("--bind", f"tcp://127.0.0.1:{port}") == 2
    finally:
        holder.close(linger=0)
    message = _error(caplog)
    assert loads == [] and f"--bind tcp://127.0.0.1:{port}: that port is in use" in message, message
    assert "--bind tcp://127.0.0.1:*" in message


@pytest.mark.parametrize("option", ["--preview-port", "--metrics-port"])
def test_a_taken_page_port_stops_before_the_model_loads(option: str, taken_tcp: int, loads: list[str],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    assert _serve("--bind", f"tcp://127.0.0.1:{free_port()}", option, str(taken_tcp)) == 2
    message = _error(caplog)
    assert loads == [] and f"{option} {taken_tcp}: 127.0.0.1:{taken_tcp} is in use" in message, message


def test_the_metrics_server_names_a_taken_port(taken_tcp: int) -> None:
    metrics = MetricsServer(MetricsConfig(enabled=True, port=taken_tcp), registry=None,  # type: ignore[arg-type]
                            readiness=list)
    with pytest.raises(TransportError, match=f"127.0.0.1:{taken_tcp}: .*pick another --metrics-port"):
        metrics.start()


@pytest.mark.parametrize(("flags", "words"), [
    (["--preview-port", "0", "--preview-host", "not.a.host.invalid"],
     ["--preview-host not.a.host.invalid ([preview] host)", "is no host name this machine can resolve"]),
    (["--metrics-port", "0", "--metrics-host", "192.0.2.1"],
     ["--metrics-host 192.0.2.1 ([metrics] host)", "is no address of this machine", "0.0.0.0 (every interface)"]),
])
def test_a_host_that_is_not_here_is_refused_before_the_model_loads(flags: list[str], words: list[str],
                                                                   loads: list[str],
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Before: the model loaded, then "preview server cannot listen on not.a.host:8796: [Errno -2] Name or service
    not known; pick another --preview-port" (the port was not the problem)."""
    assert _serve("--bind", f"tcp://127.0.0.1:{free_port()}", *flags) == 2
    message = _error(caplog)
    assert loads == [], message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("bind", ["tcp://192.0.2.1:5555", "tcp://192.0.2.1:*", "tcp://nohost.invalid:5555"])
def test_a_bind_host_that_is_not_here_is_refused_before_the_model_loads(bind: str, loads: list[str],
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Before: the model loaded, then "cannot bind ROUTER to 'tcp://192.0.2.1:5555': Cannot assign requested
    address ...; pick a free port or another --bind"."""
    assert _serve("--bind", bind, "--insecure") == 2
    message = _error(caplog)
    assert loads == [], message
    assert f"--bind {bind} (bind): " in message and "is no address or interface of this machine" in message, message
