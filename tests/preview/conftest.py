"""Fixtures for the preview page tests: a server with the preview on a random port, and a streaming client.

Everything binds 127.0.0.1 on random ports; every wait has a timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.pipeline import Components
from sdbridge.pipeline.controlnet import ControlNets, tiny_controlnet
from sdbridge.protocol import messages as m
from sdbridge.scene import SceneRenderer
from sdbridge.served_model import factory_from_components
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

SIZE = 64
#: the ControlNets of `controlnet_server` ([model] controlnet entries)
NETS = ("depth=tiny@1", "canny=tiny@0.5")


def depth_ramp(size: int) -> np.ndarray:
    """Linear view depth 1 (left, near) .. 20 (right, far)."""
    return np.tile(np.linspace(1.0, 20.0, size, dtype=np.float32), (size, 1))


def scene(size: int) -> np.ndarray:
    """An RGB frame with a bright square (edges for Canny)."""
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 230
    return rgb


def preview_config(model: str = "identity", controlnet: tuple[str, ...] = (), **preview: object) -> ServerConfig:
    """A server config with the preview enabled on a random loopback port (`controlnet`: [model] controlnet)."""
    return with_overrides(ServerConfig(),
                          model={"name": model, "width": SIZE, "height": SIZE, "controlnet": controlnet},
                          session={"heartbeat_timeout_s": 60.0},
                          preview={"enabled": True, "port": 0, "fps": 10.0, **preview},
                          top={"bind": "tcp://127.0.0.1:*"})


@pytest.fixture
def identity_server() -> Iterator[BridgeServer]:
    """Identity model (frames echo back), preview on."""
    server = BridgeServer(preview_config())
    server.start_in_thread()
    yield server
    server.close()


@pytest.fixture
def tiny_server(tiny: Components) -> Iterator[BridgeServer]:
    """The tiny random-weight model at 64x64, preview on."""
    cfg = preview_config("tiny")
    factory, model = factory_from_components(tiny, cfg)
    server = BridgeServer(cfg, factory, model)
    server.start_in_thread()
    yield server
    server.close()


class Streamer:
    """A game client on its own thread: renders the moving scene and streams it until stopped."""

    def __init__(self, server: BridgeServer, name: str = "test-game", fps: float = 30.0) -> None:
        self.client = BridgeClient(server.endpoint, name=name, engine="pytest scene")
        self.welcome = self.client.connect(timeout=10)
        self.results = 0
        self.notices: list[m.Notice] = []
        self.client.on_notice = self.notices.append
        self._fps = fps
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test-streamer", daemon=True)
        self._thread.start()

    @property
    def session_id(self) -> int:
        return self.welcome.session_id

    def _run(self) -> None:
        scene = SceneRenderer(SIZE, SIZE, channels=4, speed=4.0)
        index = 0
        try:
            while not self._stop.is_set():
                self.client.submit(scene.render(index))
                index += 1
                if self.client.receive(timeout=1.0 / self._fps) is not None:
                    self.results += 1
                time.sleep(1.0 / self._fps)
        except BaseException as exc:  # reported by stop()
            self._error = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)
        self.client.close()
        if self._error is not None:
            raise self._error


@pytest.fixture
def streamer_factory() -> Iterator[Callable[[BridgeServer], Streamer]]:
    made: list[Streamer] = []

    def make(server: BridgeServer) -> Streamer:
        streamer = Streamer(server)
        made.append(streamer)
        return streamer

    yield make
    for streamer in made:
        streamer.stop()


@pytest.fixture
def controlnet_server(tiny: Components) -> Iterator[BridgeServer]:
    """The tiny model with a tiny depth and a tiny canny ControlNet, preview on."""
    cfg = preview_config("tiny", controlnet=NETS)
    nets = ControlNets({"depth": tiny_controlnet(tiny, seed=1), "canny": tiny_controlnet(tiny, seed=2)})
    factory, model = factory_from_components(tiny, cfg, nets)
    server = BridgeServer(cfg, factory, model)
    server.start_in_thread()
    yield server
    server.close()


class PlaneStreamer:
    """A client streaming the square scene with a depth ramp plane until stopped (counts its results)."""

    def __init__(self, server: BridgeServer) -> None:
        self.client = BridgeClient(server.endpoint, name="planes", engine="pytest")
        self.session_id = self.client.connect(timeout=10).session_id
        self.results = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        frame, depth = scene(SIZE), depth_ramp(SIZE)
        while not self._stop.is_set():
            self.client.submit(frame, planes={"depth": depth})
            if self.client.receive(timeout=1.0) is not None:
                self.results += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)
        self.client.close()
