"""The metrics port: Prometheus text on /metrics, /healthz (the process answers) and /readyz (ready for new
sessions: 200, else 503 with the reasons), for scrapers, balancers (deploy/haproxy) and Kubernetes probes.

One thread per request (daemon threads) beside the I/O loop; nothing here touches the sockets of the server.
"""

from __future__ import annotations

import logging
import socketserver
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from sdbridge.config import MetricsConfig

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics http: " + format, *args)


class MetricsServer:
    """Serves /metrics, /healthz and /readyz on `config.host`:`config.port` (port 0: any free one)."""

    def __init__(self, config: MetricsConfig, registry: CollectorRegistry, readiness: Callable[[], list[str]]) -> None:
        self.config = config
        self.readiness = readiness
        self._metrics = make_wsgi_app(registry)
        self._httpd: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> str:
        """Bind and serve in a daemon thread; returns the base address (http://host:port)."""
        self._httpd = make_server(self.config.host, self.config.port, self._app, server_class=_ThreadingServer,
                                  handler_class=_QuietHandler)
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
        return _text(start_response, "404 Not Found", "unknown path; try /metrics, /healthz or /readyz\n")


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]
