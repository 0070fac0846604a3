"""`sdbridge serve --preview-port N` as a real subprocess prints the page address and serves the page;
beyond loopback it generates a token and refuses the page without it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.integration


def _serve(*extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sdbridge.cli", "serve", "--model", "identity", "--bind", "tcp://127.0.0.1:*",
         "--preview-port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    # blocking reads (select() would miss a second line already in the text buffer), bounded by a kill timer
    timer = threading.Timer(120, proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            if line.startswith("sdbridge preview page:"):
                return proc, line.split(":", 1)[1].strip()
    finally:
        timer.cancel()
    proc.wait(10)
    raise AssertionError("`sdbridge serve --preview-port 0` printed no page address")


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise


def test_serve_prints_and_serves_the_page_on_loopback():
    proc, url = _serve()
    try:
        assert url.startswith("http://127.0.0.1:") and "token" not in url
        assert _status(url) == 200
    finally:
        assert _stop(proc) == 0


def test_serve_beyond_loopback_generates_a_token():
    proc, url = _serve("--preview-host", "0.0.0.0")
    try:
        assert "?token=" in url and len(url.split("?token=")[1]) >= 20
        port = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]
        token = url.split("?token=")[1]
        assert _status(f"http://127.0.0.1:{port}/") == 403
        assert _status(f"http://127.0.0.1:{port}/?token={token}") == 200
    finally:
        assert _stop(proc) == 0
