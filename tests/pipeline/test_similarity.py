"""The stochastic similarity filter alone (host thumbnail and one-frame-late device paths) and inside the pipeline."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from sdbridge.pipeline import StreamConfig, StreamPipeline
from sdbridge.pipeline.similarity import THUMBNAIL_SIDE, SimilarityFilter, cosine, thumbnail
from tests.conftest import random_frames


def _signatures(count: int, seed: int, scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.random(3 * 32 * 32, dtype=np.float32) * 2 - 1) * scale for _ in range(count)]


@pytest.mark.parametrize("max_skip", [1, 4, 10])
def test_identical_frames_skip_at_max_skip_rate(max_skip):
    filt = SimilarityFilter(threshold=0.98, max_skip_frames=max_skip, seed=0)
    signature = _signatures(1, seed=0)[0]
    decisions = [filt(signature).skip for _ in range(1 + 100 * (max_skip + 1))]
    rate = sum(decisions[1:]) / (len(decisions) - 1)
    assert rate == pytest.approx(1 - 1 / (max_skip + 1), abs=0.01)
    assert not decisions[0]  # the first frame is always processed


def test_dissimilar_frames_never_skip():
    filt = SimilarityFilter(threshold=0.98, max_skip_frames=10, seed=0)
    assert not any(filt(s).skip for s in _signatures(200, seed=0))


def _near_duplicates() -> list[np.ndarray]:
    rng = np.random.default_rng(99)
    base = rng.random(3 * 32 * 32, dtype=np.float32) + np.float32(0.5)
    return [base + np.float32(0.05) * rng.standard_normal(base.shape, dtype=np.float32) for _ in range(300)]


def test_seeded_runs_repeat_exactly_and_seeds_matter():
    frames = _near_duplicates()
    runs = []
    for seed in (5, 5, 6):
        filt = SimilarityFilter(threshold=0.98, max_skip_frames=10, seed=seed)
        runs.append([filt(f).skip for f in frames])
    probabilities = SimilarityFilter(0.98, 10, 0)
    first = [probabilities(f) for f in frames[:20]]
    assert any(0.0 < d.probability < 1.0 for d in first), "frames must be in the stochastic band for this test"
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_cosine_is_float32_and_matches_torch():
    a, b = _signatures(2, seed=3)
    expected = torch.nn.functional.cosine_similarity(torch.from_numpy(a), torch.from_numpy(b), dim=0)
    assert cosine(a, b) == pytest.approx(expected.numpy().item(), abs=1e-6)
    assert cosine(a, a) == pytest.approx(1.0, abs=1e-6)
    assert cosine(np.zeros(4, np.float32), a[:4]) == 0.0  # no division by zero


def test_thumbnail_samples_a_grid_in_float32():
    frame = random_frames(1, size=512)[0]
    thumb = thumbnail(frame)
    assert thumb.dtype == np.float32
    step = 512 // THUMBNAIL_SIDE  # 4
    assert thumb.shape == (THUMBNAIL_SIDE * THUMBNAIL_SIDE * 3,)
    assert np.allclose(thumb, frame[::step, ::step].reshape(-1).astype(np.float32) / np.float32(127.5) - 1, atol=1e-6)
    assert thumb.min() >= -1.0 and thumb.max() <= 1.0
    batch = np.stack([frame, frame])  # (2, H, W, 3): both frames sampled
    assert np.array_equal(thumbnail(batch), np.concatenate([thumb, thumb]))
    small = random_frames(1, size=64)[0]
    assert thumbnail(small).shape == (64 * 64 * 3,)  # at or below THUMBNAIL_SIDE every pixel is sampled
    moved = frame.copy()
    moved[::step, ::step] = 255 - moved[::step, ::step]  # a change on the sampled grid is seen
    assert cosine(thumbnail(moved), thumb) < 0.5


class _Landing:
    """A completion event the test releases, standing for a CUDA event whose copy is still in flight."""

    landed = False

    def record(self) -> None:
        pass

    def query(self) -> bool:
        return self.landed


def test_device_path_decides_one_frame_late_from_landed_copies():
    filt = SimilarityFilter(threshold=0.98, max_skip_frames=10, seed=0)
    frame = torch.rand(1, 3, 16, 16) * 2 - 1
    assert not filt.late(frame).skip  # the first frame is the reference
    held = _Landing()
    second = filt.late(frame, held)  # its cosine (1.0) is in flight: nothing to decide on yet
    assert not second.skip and second.similarity == 0.0
    still = filt.late(frame, _Landing())
    assert not still.skip, "a copy that has not landed must not be read"
    held.landed = True
    third = filt.late(frame, _Landing())
    assert third.skip and third.similarity == pytest.approx(1.0, abs=1e-6)  # the second frame's cosine
    other = torch.rand(1, 3, 16, 16) * 2 - 1
    flagged = SimilarityFilter(0.98, 10, 0)
    decisions = [flagged.late(f).skip for f in (frame, other, frame, frame, frame)]
    # frames 3 and 4 are decided on the cosines of frames 2 and 3 (both dissimilar to their reference), so they
    # are processed although frame 4 equals the reference; frame 5 sees frame 4's cosine (1.0) and skips
    assert decisions == [False, False, False, False, True]


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
            assert set(cur.timings) == {"preprocess", "similarity", "total"}
            assert cur.timings_frame == cur.frame_index
    other = random_frames(1, seed=42)[0]
    assert not pipe(other).skipped


def test_pipeline_changing_scene_is_never_skipped(tiny):
    pipe = StreamPipeline(tiny, StreamConfig(width=64, height=64, t_index_list=[32, 45], similarity_filter=True))
    pipe.prepare(prompt="castle")
    assert not any(pipe(f).skipped for f in random_frames(8, seed=7))


class _OpCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def test_a_skipped_host_frame_runs_no_tensor_op(tiny):
    """Decided on the host thumbnail before upload: a skip costs no upload, normalisation or model work."""
    pipe = StreamPipeline(tiny, StreamConfig(width=64, height=64, t_index_list=[32, 45], similarity_filter=True,
                                             max_skip_frames=1))
    pipe.prepare(prompt="castle")
    frame = random_frames(1)[0]
    pipe(frame)
    with _OpCounter() as skipped_ops:
        assert pipe(frame).skipped
    with _OpCounter() as processed_ops:
        assert not pipe(frame).skipped  # max_skip_frames=1 forces this one: the counter sees its ops
    assert processed_ops.ops > 0
    assert skipped_ops.ops == 0


def test_pipeline_tensor_input_decides_one_frame_late(tiny):
    """A tensor input (here a float CPU tensor) takes the device path: skips start a frame later."""
    pipe = StreamPipeline(tiny, StreamConfig(width=64, height=64, t_index_list=[32, 45], similarity_filter=True,
                                             max_skip_frames=3))
    pipe.prepare(prompt="castle")
    frame = torch.from_numpy(random_frames(1)[0]).permute(2, 0, 1).float() / 255  # (3, H, W) in [0, 1]
    skipped = [pipe(frame).skipped for _ in range(10)]
    assert skipped == [False, False, True, True, True, False, True, True, True, False]


@pytest.mark.parametrize(("threshold", "max_skip", "named"), [(1.0, 10, "similarity_threshold=1.0"),
                                                               (-0.1, 10, "similarity_threshold=-0.1"),
                                                               (0.98, 1001, "max_skip_frames=1001"),
                                                               (0.98, -1, "max_skip_frames=-1")])
def test_settings_outside_the_registry_ranges_are_refused_in_its_words(threshold, max_skip, named):
    from sdbridge.params import ParamError

    with pytest.raises(ParamError) as info:
        SimilarityFilter(threshold, max_skip, seed=0)
    assert named in str(info.value) and "SimilarityFilter" in str(info.value)
