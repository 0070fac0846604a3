"""The metrics port: Prometheus text on /metrics, /healthz (the process answers) and /readyz (ready for new
sessions: 200, else 503 with the reasons), for scrapers, balancers (deploy/haproxy) and Kubernetes probes; and
POST /drain (`sdbridge drain`, a Kubernetes preStop hook), which starts draining as SIGTERM does.

/drain answers only a client on this host (a loopback peer address), whatever address the port is bound to: a
port opened to the cluster for probes and scrapes does not let anyone else take the replica out of service.

One thread per request (daemon threads) beside the I/O loop; nothing here touches the sockets of the server.
"""

from __future__ import annotations

import ipaddress
import logging
import socketserver
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from sdbridge.config import MetricsConfig
from sdbridge.errors import TransportError

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

#: Starts draining for at most this many seconds (BridgeServer.drain); called from an HTTP thread.
DrainRequest = Callable[[float], None]

#: The longest grace period /drain accepts (an hour: longer is a typo, not a plan).
MAX_DRAIN_GRACE_S = 3600.0


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics http: " + format, *args)


class MetricsServer:
    """Serves /metrics, /healthz and /readyz on `config.host`:`config.port` (port 0: any free one)."""

    def __init__(self, config: MetricsConfig, registry: CollectorRegistry, readiness: Callable[[], list[str]],
                 drain: DrainRequest | None = None) -> None:
        """`drain`: what POST /drain calls (None: /drain answers 404)."""
        self.config = config
        self.readiness = readiness
        self.drain = drain
        self._metrics = make_wsgi_app(registry)
        self._httpd: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> str:
        """Bind and serve in a daemon thread; returns the base address (http://host:port)."""
        try:
            self._httpd = make_server(self.config.host, self.config.port, self._app, server_class=_ThreadingServer,
                                      handler_class=_QuietHandler)
        except OSError as exc:
            raise TransportError(f"metrics server cannot listen on {self.config.host}:{self.config.port}: {exc}; "
                                 f"pick another --metrics-port (0: any free port)") from exc
        self.port = self._httpd.server_port
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="sdbridge-metrics", daemon=True)
        self._thread.start()
        url = f"http://{self.config.host}:{self.port}"
        log.info("metrics on %s/metrics (health %s/healthz, readiness %s/readyz)", url, url, url)
        return url

    def close(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _text(start_response, "200 OK", "alive\n")
        if path == "/readyz":
            reasons = self.readiness()
            if reasons:
                return _text(start_response, "503 Service Unavailable", "not ready: " + "; ".join(reasons) + "\n")
            return _text(start_response, "200 OK", "ready\n")
        if path == "/metrics":
            result: Iterable[bytes] = self._metrics(environ, start_response)
            return result
        if path == "/drain" and self.drain is not None:
            return self._drain(environ, start_response)
        return _text(start_response, "404 Not Found", "unknown path; try /metrics, /healthz, /readyz or POST /drain\n")

    def _drain(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """POST /drain[?grace=SECONDS] from this host: start draining (default grace: metrics.drain_grace_s)."""
        assert self.drain is not None
        if environ.get("REQUEST_METHOD") != "POST":
            return _text(start_response, "405 Method Not Allowed", "POST /drain starts draining (`sdbridge drain`)\n")
        peer = str(environ.get("REMOTE_ADDR", ""))
        if not _is_loopback(peer):
            return _text(start_response, "403 Forbidden",
                         f"/drain answers only clients on this host (loopback), not {peer}; run `sdbridge drain` "
                         f"on the replica's host (or in its pod), or send it SIGTERM\n")
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        grace = self.config.drain_grace_s
        if "grace" in query:
            try:
                grace = float(query["grace"][-1])
            except ValueError:
                grace = -1.0
            if not 0.0 <= grace <= MAX_DRAIN_GRACE_S:  # also refuses nan
                return _text(start_response, "400 Bad Request",
                             f"grace={query['grace'][-1]!r} must be seconds in [0, {MAX_DRAIN_GRACE_S:g}]; e.g. "
                             f"/drain?grace=20\n")
        log.info("drain requested over HTTP by %s: draining for at most %g s", peer, grace)
        self.drain(grace)
        return _text(start_response, "202 Accepted", f"draining for at most {grace:g} s\n")


def _is_loopback(address: str) -> bool:
    """True for a loopback peer address (127.0.0.0/8, ::1, and IPv4-mapped loopback ::ffff:127.x.y.z)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]
