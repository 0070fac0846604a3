"""Timed prompt blends: positions at t = 0, 0.5 and 1 with easing, embeddings interpolated (linear and
slerp) from cached encodings, each distinct text encoded once however many frames a blend takes, and an
interrupted blend continuing from the embedding on screen."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
import torch

from sdbridge.events.easing import EASINGS
from sdbridge.pipeline import Components, Interpolation, StreamConfig, StreamPipeline
from sdbridge.pipeline.blending import slerp
from sdbridge.runtime.pixels import Layout, PixelFormat
from sdbridge.runtime.sessions import (
    ClientInfo,
    FrameJob,
    PipelineUpdate,
    PromptTransition,
    SessionTable,
    blend_prompts,
)
from sdbridge.runtime.updates import shown_prompt
from sdbridge.runtime.worker import Worker

A, B = "a watercolor castle", "a neon city at night"
C = "a desert canyon at dawn"


@pytest.mark.parametrize("name", sorted(EASINGS))
def test_every_easing_starts_at_0_and_ends_at_1(name: str) -> None:
    assert EASINGS[name](0.0) == 0.0 and EASINGS[name](1.0) == 1.0
    values = [EASINGS[name](t / 20) for t in range(21)]
    assert values == sorted(values)  # never goes backwards


def test_easing_midpoints() -> None:
    assert EASINGS["linear"](0.5) == 0.5
    assert EASINGS["ease_in"](0.5) == 0.25 and EASINGS["ease_out"](0.5) == 0.75
    assert EASINGS["ease_in_out"](0.5) == 0.5 and EASINGS["ease_in_out"](0.25) == pytest.approx(0.0625)
    assert EASINGS["smoothstep"](0.5) == 0.5 and EASINGS["step"](0.5) == 0.0


def test_blend_weights_at_0_half_and_1() -> None:
    assert blend_prompts(A, B, 0.0) == [(A, 1.0)]
    assert blend_prompts(A, B, 0.5) == [(A, 0.5), (B, 0.5)]
    assert blend_prompts(A, B, 1.0) == [(B, 1.0)]


def test_transition_positions_per_frame_follow_the_easing() -> None:
    linear = PromptTransition(A, B, frames=4, seconds=0.0)
    assert [linear.advance(0.0) for _ in range(4)] == [0.25, 0.5, 0.75, 1.0]
    eased = PromptTransition(A, B, frames=4, seconds=0.0, easing=EASINGS["ease_in"])
    assert [eased.advance(0.0) for _ in range(4)] == [0.0625, 0.25, 0.5625, 1.0]
    timed = PromptTransition(A, B, frames=0, seconds=2.0, started_at=100.0, easing=EASINGS["smoothstep"])
    assert [timed.advance(t) for t in (100.0, 101.0, 102.0, 103.0)] == [0.0, 0.5, 1.0, 1.0]


@pytest.fixture(scope="module")
def pipe(tiny: Components) -> StreamPipeline:
    p = StreamPipeline(tiny, StreamConfig(width=64, height=64, t_index_list=(32, 45)))
    p.prepare(prompt=A)
    return p


def test_blended_embeddings_at_0_half_and_1(pipe: StreamPipeline) -> None:
    enc = pipe.prompt_encoder
    ea, eb = enc.encode(A).embeds, enc.encode(B).embeds
    calls = enc.encode_calls
    for interpolation in (Interpolation.LINEAR, Interpolation.SLERP):
        at0 = enc.resolve(blend_prompts(A, B, 0.0), interpolation).embeds
        at1 = enc.resolve(blend_prompts(A, B, 1.0), interpolation).embeds
        half = enc.resolve(blend_prompts(A, B, 0.5), interpolation).embeds
        torch.testing.assert_close(at0, ea, rtol=0, atol=0)
        torch.testing.assert_close(at1, eb, rtol=0, atol=0)
        want = (ea.double() * 0.5 + eb.double() * 0.5).float() if interpolation is Interpolation.LINEAR \
            else slerp(ea, eb, 0.5)
        torch.testing.assert_close(half, want)
        assert not torch.equal(half, ea) and not torch.equal(half, eb)
    # slerp keeps the norm of each token vector (A and B tokens have different directions)
    s = enc.resolve(blend_prompts(A, B, 0.5), Interpolation.SLERP).embeds
    lin = enc.resolve(blend_prompts(A, B, 0.5), Interpolation.LINEAR).embeds
    assert (s.norm(dim=-1) - lin.norm(dim=-1)).min() >= -1e-5 and not torch.allclose(s, lin)
    assert enc.encode_calls == calls  # every blend above came from the two cached encodings


class _Spy:
    """Wraps a session pipeline; records the prompt each update sets."""

    def __init__(self, inner: Any, seen: list[Any]) -> None:
        self._inner, self._seen = inner, seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def prepare(self, **kwargs: Any) -> None:
        self._inner.prepare(**kwargs)

    def update(self, **kwargs: Any) -> None:
        if "prompt" in kwargs:
            self._seen.append(kwargs["prompt"])
        self._inner.update(**kwargs)

    def __call__(self, image: np.ndarray) -> Any:
        return self._inner(image)


def test_a_blend_through_the_worker_encodes_each_text_once(tiny: Components) -> None:
    """Six frames of an eased 4-frame blend: the worker updates the prompt every frame, the text encoder
    runs once per distinct text (prompt A, the negative "", prompt B)."""
    table = SessionTable(max_sessions=1)
    session = table.open(b"s", ClientInfo("s"), credits=1)
    built: list[StreamPipeline] = []
    seen: list[Any] = []

    def build(width: int, height: int) -> StreamPipeline:
        built.append(StreamPipeline(tiny, StreamConfig(width=width, height=height, t_index_list=(32, 45))))
        return built[-1]

    worker = Worker(table, build, lambda layout: (64, 64), lambda r: None, lambda f: pytest.fail(str(f.error)),
                    default_prompt={"prompt": A, "negative_prompt": ""}, wrap=lambda s, p: _Spy(p, seen))
    rng = np.random.default_rng(0)
    layout = Layout.packed(64, 64, PixelFormat.RGB8)

    def frame(i: int) -> None:
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8).tobytes()
        table.submit_frame(session, FrameJob(i, 0, layout, pixels, time.perf_counter()))
        worker.serve(session)

    frame(0)
    table.submit_update(session, PipelineUpdate({"prompt": B}, transition_frames=4, easing=EASINGS["ease_in_out"]))
    for i in range(1, 6):
        frame(i)
    weights = [dict(p).get(B, 0.0) if not isinstance(p, str) else (1.0 if p == B else 0.0) for p in seen]
    assert weights == pytest.approx([EASINGS["ease_in_out"](k / 4) for k in range(1, 5)])
    assert seen[-1] == B and session.transition is None
    assert built[0].prompt_encoder.encode_calls == 3


def test_an_interrupted_transition_continues_from_the_blend_on_screen(tiny: Components) -> None:
    """A -> B over 4 frames, interrupted after 2 (halfway) by a 4-frame blend to C: the new blend starts from
    the halfway embedding (not from B, which was never shown), so its first frame is a quarter of the way
    from halfway to C."""
    table = SessionTable(max_sessions=1)
    session = table.open(b"s", ClientInfo("s"), credits=1)
    built: list[StreamPipeline] = []
    seen: list[Any] = []

    def build(width: int, height: int) -> StreamPipeline:
        built.append(StreamPipeline(tiny, StreamConfig(width=width, height=height, t_index_list=(32, 45))))
        return built[-1]

    worker = Worker(table, build, lambda layout: (64, 64), lambda r: None, lambda f: pytest.fail(str(f.error)),
                    default_prompt={"prompt": A, "negative_prompt": ""}, wrap=lambda s, p: _Spy(p, seen))
    layout = Layout.packed(64, 64, PixelFormat.RGB8)
    pixels = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8).tobytes()

    def frame(i: int) -> None:
        table.submit_frame(session, FrameJob(i, 0, layout, pixels, time.perf_counter()))
        worker.serve(session)

    frame(0)
    table.submit_update(session, PipelineUpdate({"prompt": B}, transition_frames=4))
    frame(1)
    frame(2)
    enc = built[0].prompt_encoder
    halfway = enc.resolve(seen[-1], Interpolation.LINEAR).embeds
    ea, eb, ec = (enc.encode(t).embeds for t in (A, B, C))
    torch.testing.assert_close(halfway, (ea + eb) / 2)
    table.submit_update(session, PipelineUpdate({"prompt": C}, transition_frames=4))
    frame(3)
    assert session.transition is not None and session.transition.target == C
    start = enc.resolve(session.transition.start, Interpolation.LINEAR).embeds
    torch.testing.assert_close(start, halfway)
    shown = enc.resolve(seen[-1], Interpolation.LINEAR).embeds
    torch.testing.assert_close(shown, 0.75 * halfway + 0.25 * ec)
    from_old_target = 0.75 * eb + 0.25 * ec  # what starting from B (the jump) would have shown
    assert (shown - from_old_target).abs().max() > 1e-3
    for i in range(4, 7):
        frame(i)
    assert seen[-1] == C and session.transition is None


def test_a_chain_of_interruptions_keeps_one_item_per_text() -> None:
    """Interrupting over and over among the same texts never grows the starting blend beyond those texts."""
    transition = PromptTransition(A, B, frames=4, seconds=0.0)
    for target in (A, B, A, B, A, B):
        transition.advance(0.0)
        transition = PromptTransition(shown_prompt(transition), target, frames=4, seconds=0.0)
    transition.advance(0.0)
    start = shown_prompt(transition)
    assert sorted(t for t, _ in start) == sorted([A, B]) and sum(w for _, w in start) == pytest.approx(1.0)
    assert shown_prompt(PromptTransition(A, B, frames=4, seconds=0.0)) == A  # nothing shown yet: its start
