"""Warm-up flags and determinism; txt2img; identity pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from sdbridge.pipeline import (
    CfgMode,
    IdentityPipeline,
    StreamConfig,
    StreamPipeline,
    build_pipeline,
    load_components,
)
from tests.conftest import random_frames


def make(tiny, seed=2, **kw):
    cfg = StreamConfig(width=64, height=64, t_index_list=[0, 16, 32, 45], cfg_mode=CfgMode.SELF,
                       guidance_scale=1.4, seed=seed, **kw)
    pipe = StreamPipeline(tiny, cfg)
    pipe.prepare(prompt="a watercolor castle", negative_prompt="blurry")
    return pipe


def test_warmup_outputs_are_flagged(tiny):
    pipe = make(tiny)
    flags = [pipe(f).is_warmup for f in random_frames(6)]
    assert pipe.latency_frames == 3
    assert flags == [True, True, True, False, False, False]


def test_warmup_counts_frames_with_frame_buffer(tiny):
    pipe = make(tiny, frame_buffer_size=2)
    assert pipe.latency_frames == 6
    flags = [pipe(f).is_warmup for f in random_frames(5, batch=2)]
    assert flags == [True, True, True, False, False]


def test_same_seed_and_input_give_the_same_output(tiny):
    frames = random_frames(6, seed=1)
    pipe_a, pipe_b, pipe_c = make(tiny, seed=11), make(tiny, seed=11), make(tiny, seed=12)
    a = [pipe_a(f).image for f in frames]
    b = [pipe_b(f).image for f in frames]
    c = [pipe_c(f).image for f in frames]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[-1], c[-1])


def test_prepare_restarts_the_stream(tiny):
    pipe = make(tiny)
    for f in random_frames(5):
        pipe(f)
    pipe.prepare(prompt="forest")
    assert pipe(random_frames(1)[0]).is_warmup


def test_txt2img_is_deterministic_per_seed(tiny):
    first = make(tiny, seed=3)
    second = make(tiny, seed=3)
    out_a = [first.txt2img() for _ in range(5)]
    out_b = [second.txt2img() for _ in range(5)]
    assert [r.is_warmup for r in out_a] == [True, True, True, False, False]
    assert out_a[-1].image.shape == (64, 64, 3)
    assert np.array_equal(out_a[-1].image, out_b[-1].image)
    assert not np.array_equal(out_a[-1].image, out_a[-2].image)  # fresh noise each call


def test_identity_returns_the_input_unchanged():
    comps = load_components("identity")
    pipe = build_pipeline(comps, StreamConfig(width=64, height=64))
    assert isinstance(pipe, IdentityPipeline)
    pipe.prepare(prompt="anything")
    frame = random_frames(1)[0]
    result = pipe(frame)
    assert np.array_equal(result.image, frame)
    assert pipe.latency_frames == 0 and not result.is_warmup


def test_stream_pipeline_refuses_identity_components():
    from sdbridge.errors import ConfigError

    with pytest.raises(ConfigError, match="identity"):
        StreamPipeline(load_components("identity"), StreamConfig(width=64, height=64))
