"""Shared pieces of the scale-out tests: an in-process identity server with the metrics port, HTTP reads with a
deadline, free loopback ports."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from typing import Any

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.server import BridgeServer


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def identity_server(**sections: dict[str, Any]) -> BridgeServer:
    """A started identity server (worker path) on a free loopback port with the metrics port on another."""
    metrics = {"enabled": True, "port": 0, **sections.pop("metrics", {})}
    model = {"name": "identity", "identity_inline": False, **sections.pop("model", {})}
    cfg = with_overrides(ServerConfig(), model=model, metrics=metrics, top={"bind": "tcp://127.0.0.1:*"},
                         **sections)
    server = BridgeServer(cfg)
    server.start_in_thread()
    return server


def get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """(HTTP status, body) of a GET; an error status is returned, not raised (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()
    except (urllib.error.URLError, ConnectionError) as exc:
        return 0, str(exc)
