"""Shared by the command tests: a model loader that only records that `sdbridge serve` got as far as loading (so a
refusal is shown to come before any load), and a free loopback port."""

from __future__ import annotations

import socket

import pytest

from sdbridge import server
from sdbridge.errors import BridgeError


class ModelLoadReachedError(BridgeError):
    """What the patched model loader raises: the serve command got as far as loading the model."""


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`server.load_model` replaced: each call appends "load" and raises ModelLoadReachedError."""
    calls: list[str] = []

    def load_model(config: object, **_: object) -> None:
        calls.append("load")
        raise ModelLoadReachedError("model load reached")

    monkeypatch.setattr(server, "load_model", load_model)
    return calls


def free_port() -> int:
    """A loopback TCP port nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
