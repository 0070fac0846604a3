"""The preview page needs its token off localhost: a real `sdbridge serve` with the preview bound to
all interfaces prints an address carrying a generated token; without it (or with a wrong one) the page is
refused, with it the page is served - also when reached through a non-loopback address of this machine."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from .load import ServerProcess, free_port

pytestmark = pytest.mark.integration


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _outside_address() -> str | None:
    """An address of this machine that is not loopback (the one a default route would use), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, only a route is chosen
            address = str(s.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.mark.timeout(180)
def test_preview_beyond_loopback_requires_the_token() -> None:
    port = free_port()
    server = ServerProcess("identity", free_port(), extra=["--preview-host", "0.0.0.0", "--preview-port", str(port)])
    try:
        deadline = time.monotonic() + 30
        while not any("sdbridge preview page:" in line for line in server.log):
            assert time.monotonic() < deadline, "".join(server.log[-20:])
            time.sleep(0.05)
        url = next(line for line in server.log if "sdbridge preview page:" in line).split(": ", 1)[1].strip()
        token = parse_qs(urlsplit(url).query).get("token", [""])[0]
        assert len(token) >= 16, f"no generated token in the printed address {url}"
        hosts = ["127.0.0.1"] + ([a] if (a := _outside_address()) else [])
        for host in hosts:
            base = f"http://{host}:{port}/"
            assert _status(base) == 403
            assert _status(base + "?token=wrong" + token[:4]) == 403
            assert _status(base + "?token=" + token) == 200
    finally:
        server.stop()
