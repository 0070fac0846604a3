"""Background builds: the pipeline serves with torch while a (fake, slow) engine builds, then switches."""

from __future__ import annotations

import threading

import pytest
import torch

from sdbridge.acceleration import AccelOptions, BackendChoice
from sdbridge.acceleration.base import Runners
from sdbridge.acceleration.builder import BuildState
from sdbridge.acceleration.eager import eager_runners
from sdbridge.acceleration.factory import accelerate_with_handle
from sdbridge.errors import EngineBuildError
from sdbridge.pipeline import Components, StreamConfig, StreamPipeline
from tests.conftest import random_frames


class SlowBuilder:
    """Builds 'engine' runners (eager ones that count their calls) only when the test releases it."""

    def __init__(self, components: Components, fail: bool = False) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.engine_calls = 0
        self._components, self._fail = components, fail

    def __call__(self) -> Runners:
        self.started.set()
        assert self.release.wait(240), "the test never released the build"
        if self._fail:
            raise EngineBuildError("fake build failed: out of GPU memory")
        base = eager_runners(self._components)

        def unet(*args: torch.Tensor) -> torch.Tensor:
            self.engine_calls += 1
            return base.unet(*args)

        return Runners(unet=unet, vae_encode=base.vae_encode, vae_decode=base.vae_decode, description="fake engine")


def test_serves_with_torch_while_building_then_switches(tiny: Components) -> None:
    slow = SlowBuilder(tiny)
    comps, handle = accelerate_with_handle(tiny, AccelOptions(BackendChoice.ONNXRUNTIME, background=True), build=slow)
    assert slow.started.wait(10)
    config = StreamConfig(width=64, height=64, t_index_list=(16, 32))
    pipe, reference = StreamPipeline(comps, config), StreamPipeline(tiny, config)
    pipe.prepare("castle")
    reference.prepare("castle")
    frames = random_frames(6, 64, seed=12)
    for frame in frames[:3]:  # the build is still running: torch eager serves
        torch.testing.assert_close(pipe(frame).latents, reference(frame).latents, atol=0, rtol=0)
    assert handle.builder is not None and handle.builder.state is BuildState.BUILDING
    assert not handle.ready and "eager" in handle.description and slow.engine_calls == 0
    slow.release.set()
    assert handle.builder.wait(30) and handle.builder.state is BuildState.READY
    assert handle.ready and handle.description == "fake engine"
    for frame in frames[3:]:  # same stream, no restart: now on the engine
        torch.testing.assert_close(pipe(frame).latents, reference(frame).latents, atol=0, rtol=0)
    assert slow.engine_calls == 3


def test_failed_background_build_is_reported_not_hidden(tiny: Components) -> None:
    slow, errors = SlowBuilder(tiny, fail=True), []
    _, handle = accelerate_with_handle(tiny, AccelOptions(BackendChoice.ONNXRUNTIME, background=True),
                                       build=slow, on_error=errors.append)
    slow.release.set()
    assert handle.builder is not None and handle.builder.wait(30)
    assert handle.builder.state is BuildState.FAILED and not handle.ready
    assert len(errors) == 1 and "out of GPU memory" in str(errors[0]) and handle.builder.error is errors[0]


def test_background_needs_an_engine_backend(tiny: Components) -> None:
    from sdbridge.errors import ConfigError

    with pytest.raises(ConfigError, match="background"):
        accelerate_with_handle(tiny, AccelOptions(BackendChoice.COMPILE, background=True), build=lambda: None)  # type: ignore
