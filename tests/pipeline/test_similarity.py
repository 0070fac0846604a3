"""The stochastic similarity filter alone and inside the pipeline."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from sdbridge.pipeline import StreamConfig, StreamPipeline
from sdbridge.pipeline.similarity import SimilarityFilter
from tests.conftest import random_frames


@pytest.mark.parametrize("max_skip", [1, 4, 10])
def test_identical_frames_skip_at_max_skip_rate(max_skip):
    filt = SimilarityFilter(threshold=0.98, max_skip_frames=max_skip, seed=0)
    frame = torch.rand(3, 32, 32)
    decisions = [filt(frame).skip for _ in range(1 + 100 * (max_skip + 1))]
    rate = sum(decisions[1:]) / (len(decisions) - 1)
    assert rate == pytest.approx(1 - 1 / (max_skip + 1), abs=0.01)
    assert not decisions[0]  # the first frame is always processed


def test_dissimilar_frames_never_skip():
    filt = SimilarityFilter(threshold=0.98, max_skip_frames=10, seed=0)
    gen = torch.Generator().manual_seed(0)
    assert not any(filt(torch.rand(3, 32, 32, generator=gen) * 2 - 1).skip for _ in range(200))


def _near_duplicates(seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(99)
    base = torch.rand(3, 32, 32, generator=gen) + 0.5
    return [base + 0.05 * torch.randn(3, 32, 32, generator=gen) for _ in range(300)]


def test_seeded_runs_repeat_exactly_and_seeds_matter():
    frames = _near_duplicates(0)
    runs = []
    for seed in (5, 5, 6):
        filt = SimilarityFilter(threshold=0.98, max_skip_frames=10, seed=seed)
        runs.append([filt(f).skip for f in frames])
    probabilities = SimilarityFilter(0.98, 10, 0)
    first = [probabilities(f) for f in frames[:20]]
    assert any(0.0 < d.probability < 1.0 for d in first), "frames must be in the stochastic band for this test"
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_pipeline_skip_returns_last_result_flagged(tiny):
    pipe = StreamPipeline(tiny, StreamConfig(width=64, height=64, t_index_list=[32, 45], similarity_filter=True,
                                             max_skip_frames=3))
    pipe.prepare(prompt="castle")
    frame = random_frames(1)[0]
    results = [pipe(frame) for _ in range(12)]
    skipped = [r.skipped for r in results]
    assert skipped == [False, True, True, True, False, True, True, True, False, True, True, True]
    for prev, cur in itertools.pairwise(results):
        if cur.skipped:
            assert np.array_equal(cur.image, prev.image)
            assert "unet" not in cur.timings
    other = random_frames(1, seed=42)[0]
    assert not pipe(other).skipped
