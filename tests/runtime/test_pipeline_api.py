"""The worker decides by the pipeline interface, never by the concrete class."""

from __future__ import annotations

from typing import Any

from sdbridge.runtime.pipeline_api import shares_unet_batch


class _Staged:
    """A test pipeline that implements the staged (shared-batch) calls."""

    latency_frames = 0

    def stage(self, image: Any) -> Any:
        return image

    def complete(self, staged: Any, unet_out: Any) -> Any:
        return staged

    def run_unet(self, request: Any) -> Any:
        return request

    def call_unet(self, sample: Any, timesteps: Any, embeds: Any, added: Any = None) -> Any:
        return sample


class _Forwarding:
    """A wrapper that forwards every attribute to its inner pipeline (as the recorder's does)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_any_class_with_the_staged_calls_shares_a_batch_and_a_forwarding_wrapper_does_not():
    inner = _Staged()
    assert shares_unet_batch(inner)
    wrapper = _Forwarding(inner)
    assert callable(wrapper.stage)  # the instance forwards it ...
    assert not shares_unet_batch(wrapper)  # ... but its class does not implement it: its frames run alone


def test_the_served_pipelines_by_interface():
    from sdbridge.pipeline import IdentityPipeline
    from sdbridge.pipeline.stream import StreamPipeline
    from sdbridge.record.recorder import RecordingPipeline

    assert shares_unet_batch(object.__new__(StreamPipeline))
    assert not shares_unet_batch(object.__new__(IdentityPipeline))
    assert not shares_unet_batch(object.__new__(RecordingPipeline))  # recorded frames are never batched away
