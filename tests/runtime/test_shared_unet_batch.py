"""The worker runs the waiting frames of several sessions as one VAE encode, one UNet call and one VAE decode
(ModelConfig.share_unet_batch)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sdbridge.pipeline import CfgMode, Components, StreamConfig, StreamPipeline
from sdbridge.runtime.pixels import Layout, PixelFormat
from sdbridge.runtime.sessions import ClientInfo, FrameJob, PipelineUpdate, ResultJob, SessionTable
from sdbridge.runtime.worker import Worker
from tests.conftest import random_frames
from tests.pipeline.test_guidance import CountingUNet
from tests.runtime.fakes import WorkerSink

PROMPTS = {b"a": "a castle", b"b": "a forest", b"c": "a desert"}


class CountingVae:
    """Forwards to a VAE and records the batch size of every encode and decode."""

    def __init__(self, vae: Any) -> None:
        self.inner = vae
        self.encodes: list[int] = []
        self.decodes: list[int] = []

    def encode(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        self.encodes.append(int(x.shape[0]))
        return self.inner.encode(x, *args, **kwargs)

    def decode(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        self.decodes.append(int(x.shape[0]))
        return self.inner.decode(x, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def run_three_sessions(comps: Components, share: bool, rounds: int = 3, alpha: Callable[[int], int] = lambda i: 255,
                       **config: Any) -> tuple[dict[bytes, list[ResultJob]], list[int]]:
    """Three sessions (PROMPTS), each with a frame waiting whenever the worker looks, for `rounds` rounds: the results
    per session and the UNet's batch sizes. Session i's frames have alpha `alpha(i)`; `config`: more StreamConfig
    fields (SELF guidance, one step, seed 5)."""
    counting = CountingUNet(comps.unet)
    counted = dataclasses.replace(comps, unet=counting)
    table = SessionTable(max_sessions=4)
    sink = WorkerSink()

    def build(w: int, h: int) -> StreamPipeline:
        return StreamPipeline(counted, StreamConfig(width=w, height=h, t_index_list=(32,), cfg_mode=CfgMode.SELF,
                                                    seed=5, **config))

    worker = Worker(table, build, lambda layout: (64, 64), sink.on_result, sink.on_failure, share_unet_batch=share)
    sessions = {k: table.open(k, ClientInfo(k.decode()), credits=1) for k in PROMPTS}
    for k, session in sessions.items():
        table.submit_update(session, PipelineUpdate({"prompt": PROMPTS[k]}))
    worker.start()
    try:
        for frame in range(rounds):
            # fill every slot while the worker is blocked on the table lock, so all three are waiting together
            with table.work:
                for i, session in enumerate(sessions.values()):
                    pixels = random_frames(1, seed=10 * frame + i)[0]
                    rgba = np.dstack([pixels, np.full(pixels.shape[:2], alpha(i), np.uint8)])
                    table.submit_frame(session, FrameJob(frame, 0, Layout.packed(64, 64, PixelFormat.RGBA8),
                                                         rgba.tobytes(), time.perf_counter()))
            for _ in sessions:
                assert sink.done.acquire(timeout=60)
    finally:
        assert worker.stop(timeout=10)
    assert not sink.failures, sink.failures
    return {k: [r for r in sink.results if r.identity == k] for k in PROMPTS}, counting.batches


def _run_sessions(comps: Components, share: bool) -> tuple[dict[bytes, list[ResultJob]], list[int], CountingVae]:
    """run_three_sessions at guidance 1.5 with the VAE's batches counted too."""
    vae = CountingVae(comps.vae)
    results, batches = run_three_sessions(dataclasses.replace(comps, vae=vae), share, guidance_scale=1.5)
    return results, batches, vae


@pytest.mark.timeout(300)
def test_waiting_sessions_share_one_unet_call_with_the_same_outputs(tiny):
    shared, shared_batches, shared_vae = _run_sessions(tiny, share=True)
    alone, alone_batches, alone_vae = _run_sessions(tiny, share=False)
    assert alone_batches == [1] * 9  # SELF with one step: one UNet sample per frame, three sessions, three frames
    assert alone_vae.encodes == alone_vae.decodes == [1] * 9
    assert shared_batches == [3] * 3  # the three sessions' frames in one call per round
    assert shared_vae.encodes == shared_vae.decodes == [3] * 3  # and one VAE encode and decode per round
    for key in PROMPTS:
        assert [r.frame_id for r in shared[key]] == [0, 1, 2]
        for s, a in zip(shared[key], alone[key], strict=True):
            assert np.abs(s.pixels.astype(int) - a.pixels.astype(int)).max() <= 2
    # each session kept its own prompt: different prompts, different pictures
    assert not np.array_equal(shared[b"a"][-1].pixels, shared[b"b"][-1].pixels)
