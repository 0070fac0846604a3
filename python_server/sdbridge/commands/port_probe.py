"""Before `sdbridge serve` (and the demo's server) loads a model, check that the ports it will listen on are free.

Loading a real model takes minutes; a port already taken (a second `sdbridge serve`, an earlier demo still running)
used to be found only afterwards. Each probe binds and closes at once; the server's own bind still reports a port
taken in between.
"""

from __future__ import annotations

import errno
import socket

import zmq

from sdbridge.config import ServerConfig
from sdbridge.config_endpoint import any_free_port, tcp_host_port
from sdbridge.errors import ConfigError


def _zmq_bind_error(endpoint: str) -> zmq.ZMQError | None:
    """The error binding a ROUTER to `endpoint` gives now (None: it bound, and its listener is gone again).

    A context of its own, terminated before returning: closing a socket only asks libzmq's I/O thread to close its
    listener later, so the server's own bind right after found the port still taken; terminating the context waits
    until every socket of it is closed."""
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.ROUTER)
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as exc:
            return exc
        finally:
            sock.close(linger=0)
    finally:
        ctx.term()
    return None


def _tcp_in_use(host: str, port: int) -> bool:
    """Whether a TCP listener on (host, port) is refused because the address is in use."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False  # the server names the bad host itself
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP and websocket servers do
        try:
            sock.bind(address)
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def check_ports_free(cfg: ServerConfig) -> None:
    """ConfigError naming the option, the address and the fix when the bind, preview or metrics port is taken."""
    tcp = tcp_host_port(cfg.bind)
    if tcp is not None and not any_free_port(tcp[1]):
        error = _zmq_bind_error(cfg.bind)
        if error is not None and error.errno == errno.EADDRINUSE:
            raise ConfigError(f"--bind {cfg.bind}: that port is in use (another sdbridge serve or demo?); stop it or "
                              f"pick another port, e.g. --bind tcp://{tcp[0]}:*  (* = any free port)")
    taken = [(option, host, port) for option, enabled, host, port in (
        ("--preview-port", cfg.preview.enabled, cfg.preview.host, cfg.preview.port),
        ("--metrics-port", cfg.metrics.enabled, cfg.metrics.host, cfg.metrics.port))
        if enabled and port and _tcp_in_use(host, port)]
    if taken:
        option, host, port = taken[0]
        raise ConfigError(f"{option} {port}: {host}:{port} is in use (another sdbridge serve or demo?); stop it or "
                          f"pick another port ({option} 0: any free port)")
