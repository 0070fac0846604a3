"""`sdbridge serve` as a real subprocess: it serves, and SIGTERM / SIGINT stop it cleanly with exit code 0."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sdbridge.transport.client import BridgeClient

pytestmark = pytest.mark.integration


def _start_server(*extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sdbridge.cli", "serve", "--model", "identity", "--bind", "tcp://127.0.0.1:*",
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if selector.select(timeout=1.0):
            line = proc.stdout.readline()
            if line.startswith("sdbridge serving"):
                return proc, line.rsplit(" ", 1)[-1].strip()
            if not line and proc.poll() is not None:
                break
    proc.kill()
    _, err = proc.communicate(timeout=10)
    raise AssertionError(f"`sdbridge serve` did not start: {err[-2000:]}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_server_cleanly(sig: signal.Signals) -> None:
    proc, endpoint = _start_server()
    try:
        image = np.random.default_rng(0).integers(0, 256, (32, 48, 4), dtype=np.uint8)
        with BridgeClient(endpoint, name="sigterm-test") as client:
            client.connect(timeout=10)
            frame_id = client.submit(image)
            result = client.receive(timeout=10)
            assert result is not None and result.frame_id == frame_id
            np.testing.assert_array_equal(result.image, image)  # identity returns the input unchanged
            proc.send_signal(sig)
            start = time.monotonic()
            code = proc.wait(timeout=15)
            took = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    _, err = proc.communicate(timeout=10)
    assert code == 0, err[-2000:]
    assert took < 10, f"shutdown took {took:.1f} s"
    assert "server stopped" in err
