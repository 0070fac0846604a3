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


def _tcp_problem(host: str, port: int) -> str | None:
    """Why a TCP listener on (host, port) cannot be made now: "in use", "unknown host" (the name does not resolve)
    or "not here" (an address of no interface of this machine); None when it can."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return "unknown host"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP and websocket servers do
        try:
            sock.bind(address)
        except OSError as exc:
            return {errno.EADDRINUSE: "in use", errno.EADDRNOTAVAIL: "not here"}.get(exc.errno or 0)
    return None


def check_ports_free(cfg: ServerConfig) -> None:
    """ConfigError naming the option, the address and the fix when the bind, preview or metrics port is taken, or
    its host is no address of this machine (found after the model had loaded, with the fix "pick another
    --preview-port" or "pick a free port or another --bind")."""
    tcp = tcp_host_port(cfg.bind)
    error = _zmq_bind_error(cfg.bind) if tcp is not None else None  # with a port of * too: the host is checked
    if tcp is not None and error is not None:
        if error.errno == errno.EADDRINUSE and not any_free_port(tcp[1]):
            raise ConfigError(f"--bind {cfg.bind}: that port is in use (another sdbridge serve or demo?); stop it or "
                              f"pick another port, e.g. --bind tcp://{tcp[0]}:*  (* = any free port)")
        if error.errno in (errno.EADDRNOTAVAIL, errno.ENODEV):
            raise ConfigError(f"--bind {cfg.bind} (bind): {tcp[0]!r} is no address or interface of this machine "
                              f"({error.strerror}); give one of its addresses, 127.0.0.1 (this machine only) or "
                              f"0.0.0.0 (every interface), e.g. --bind tcp://127.0.0.1:5555")
    for option, host_option, enabled, host, port in (
            ("--preview-port", "--preview-host", cfg.preview.enabled, cfg.preview.host, cfg.preview.port),
            ("--metrics-port", "--metrics-host", cfg.metrics.enabled, cfg.metrics.host, cfg.metrics.port)):
        problem = _tcp_problem(host, port) if enabled else None
        if problem == "in use" and port:
            raise ConfigError(f"{option} {port}: {host}:{port} is in use (another sdbridge serve or demo?); stop it "
                              f"or pick another port ({option} 0: any free port)")
        if problem in ("unknown host", "not here"):
            what = "is no host name this machine can resolve" if problem == "unknown host" else \
                "is no address of this machine"
            raise ConfigError(f"{host_option} {host} ([{option[2:].split('-')[0]}] host): {host!r} {what}; give one "
                              f"of its addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)")
