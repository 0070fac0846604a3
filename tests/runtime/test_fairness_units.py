"""Fair share of the worker, piece by piece: the FairShare order, prompt blends encoded in slices, and the
worker serving a cheap session and a costly one (fake pipelines that sleep: counts, not timings, decide)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from sdbridge.errors import ConfigError
from sdbridge.pipeline import Components
from sdbridge.pipeline.prompts import PromptEncoder
from sdbridge.runtime.pixels import Layout, PixelFormat
from sdbridge.runtime.queues import BoundedFifo, FairShare
from sdbridge.runtime.sessions import ClientInfo, FrameJob, PipelineUpdate, ResultJob, SessionTable
from sdbridge.runtime.updates import TEXTS_PER_TURN, UpdateApplier
from sdbridge.runtime.worker import Worker, WorkerFailure
from tests.conftest import wait_for
from tests.runtime.fakes import SleepingPipeline

# ------------------------------------------------------------------------------------------ FairShare


def test_least_charged_first_and_ties_round_robin() -> None:
    share = FairShare(quantum_s=0.2)
    assert share.order([1, 2, 3]) == [1, 2, 3]  # all level: id order
    share.charge(1, 0.01)
    assert share.order([1, 2, 3])[0] == 2
    share.charge(2, 0.01)
    assert share.order([1, 2, 3])[0] == 3
    share.charge(3, 0.5)  # a costly turn: 3 waits until 1 and 2 have had as much
    firsts = []
    for _ in range(6):
        first = share.order([1, 2, 3])[0]
        firsts.append(first)
        share.charge(first, 0.1)
    assert firsts == [1, 2, 1, 2, 1, 2]  # 1 and 2 reach 0.31 each, still below 3's 0.51
    assert share.order([1, 2, 3])[0] == 1 and share.used(1) < share.used(3)


def test_newcomer_queues_behind_those_waiting_and_idle_time_is_not_banked() -> None:
    share = FairShare(quantum_s=0.2)
    share.order([1, 2])
    share.charge(1, 1.0)
    share.charge(2, 3.0)
    assert share.order([1, 2, 9]) == [1, 2, 9]  # 9 is new: one quantum behind the most charged waiting (2)
    assert share.used(9) == pytest.approx(share.used(2) + 0.2)
    share.order([2, 9])  # 1 has no work now; 2 and 9 run on
    share.charge(2, 5.2)
    share.charge(9, 5.0)
    clock = share.used(2)
    assert share.used(9) == pytest.approx(clock)
    share.order([2, 9])
    share.order([1, 2, 9])  # 1 comes back: at most one quantum behind the clock, not 7 s behind
    assert share.used(1) == pytest.approx(clock - 0.2)


def test_partners_are_the_waiting_sessions_within_one_quantum() -> None:
    share = FairShare(quantum_s=0.2)
    share.order([1, 2, 3])
    share.charge(2, 0.1)
    share.charge(3, 0.3)
    ranked = share.order([1, 2, 3])
    assert ranked == [1, 2, 3] and share.partners(ranked) == [2]


def test_anticipation_only_for_a_quick_client_served_last_and_behind() -> None:
    share = FairShare(quantum_s=0.2, anticipate_s=0.005)
    share.order([1, 2])
    share.charge(2, 1.0)
    assert share.order([1, 2])[0] == 1
    share.charge(1, 0.01)
    assert share.anticipation([2]) == 0.0  # nothing learnt about 1's think time yet
    share.published(1, 10.0)
    share.arrived(1, 10.001)  # it answered a result within 1 ms
    assert share.order([1, 2])[0] == 1
    share.charge(1, 0.01)
    assert 0 < share.anticipation([2]) <= 0.005  # 1 was served last, has no work now, and is behind 2
    assert share.anticipation([1, 2]) == 0.0  # it has work: nothing to wait for
    share.charge(1, 2.0)
    assert share.anticipation([2]) == 0.0  # no longer behind
    slow = FairShare(anticipate_s=0.005)
    slow.order([1, 2])
    slow.charge(2, 1.0)
    slow.published(1, 10.0)
    slow.arrived(1, 10.033)  # a game sending at its own pace (30 frames/s)
    slow.order([1, 2])
    assert slow.anticipation([2]) == 0.0
    with pytest.raises(ConfigError, match="quantum_s"):
        FairShare(quantum_s=0)


def test_records_of_gone_sessions_are_dropped() -> None:
    share = FairShare()
    share.order([1, 2, 3])
    share.charge(3, 0.1)
    share.published(4, 1.0)
    assert len(share) == 4
    share.retain({1})
    assert len(share) == 1 and share.used(3) == 0.0


def test_fifo_snapshot_and_discard() -> None:
    fifo: BoundedFifo[int] = BoundedFifo(3)
    for i in range(3):
        assert fifo.put(i)
    assert fifo.items() == [0, 1, 2] and len(fifo) == 3  # a snapshot leaves them queued
    fifo.discard(2)
    assert fifo.items() == [2]
    fifo.discard(5)
    assert len(fifo) == 0


# ------------------------------------------------------------------------------------------ prompt slices


def test_prompt_encoder_missing_lru_and_adopt(tiny: Components) -> None:
    encoder = PromptEncoder(tiny, max_cache=2)
    encoder.encode("a")
    assert encoder.missing(["a", [("b", 1.0), ("a", 2.0), ("c", 1.0)], None, "b"]) == ["b", "c"]
    encoder.encode("b")
    encoder.encode("a")  # a is now the most recently used: c evicts b
    encoder.encode("c")
    assert encoder.missing(["a", "b", "c"]) == ["b"]
    other = PromptEncoder(tiny)
    other.adopt(encoder)
    assert other.missing(["a", "c"]) == [] and other.encode_calls == 0


@dataclass
class _Encoder:
    """A prompt encoder that records what it encoded."""

    capacity: int = 256
    cache: set[str] = field(default_factory=set)
    encoded: list[str] = field(default_factory=list)

    def missing(self, specs: Any) -> list[str]:
        texts = [t for s in specs if s is not None for t in ([s] if isinstance(s, str) else [x for x, _ in s])]
        return list(dict.fromkeys(t for t in texts if t not in self.cache))

    def encode(self, text: str) -> None:
        self.encoded.append(text)
        self.cache.add(text)


class _Pipe:
    def __init__(self) -> None:
        self.prompt_encoder = _Encoder()
        self.updates: list[dict[str, Any]] = []

    def update(self, **kwargs: Any) -> None:
        self.updates.append(kwargs)
        for spec in (kwargs.get("prompt"), kwargs.get("negative_prompt")):
            for text in self.prompt_encoder.missing([spec]):
                self.prompt_encoder.encode(text)


def test_a_large_blend_is_encoded_a_slice_per_turn_and_applied_whole_in_order() -> None:
    table = SessionTable(max_sessions=1)
    session = table.open(b"s", ClientInfo("s"), credits=1)
    session.pipeline = _Pipe()
    failures: list[Exception] = []
    applier = UpdateApplier({"prompt": "old"}, lambda s, exc: failures.append(exc))
    blend = [(f"text {i}", 1.0) for i in range(8)]
    table.submit_update(session, PipelineUpdate({"prompt": blend, "negative_prompt": "neg"}))
    table.submit_update(session, PipelineUpdate({"guidance_scale": 1.5}))
    turns = 0
    while not session.pipeline.updates:
        applier.apply(session)
        turns += 1
        assert len(session.pipeline.prompt_encoder.encoded) <= TEXTS_PER_TURN * turns  # bounded per turn
        if not session.pipeline.updates:
            assert len(session.updates) == 2 and "prompt" not in session.prompt_values  # old prompt in use
    assert turns == 5  # 9 new texts: 2 + 2 + 2 + 2 encoded ahead, the last one when applied
    assert session.pipeline.updates == [{"prompt": blend, "negative_prompt": "neg", "guidance_scale": 1.5}]
    assert len(session.updates) == 0 and session.prompt_values["prompt"] == blend and not failures
    assert sorted(session.pipeline.prompt_encoder.encoded) == sorted([t for t, _ in blend] + ["neg"])
    # a plain prompt change (one new text) applies at the next turn, as always, also when the session only
    # joins another's turn for its frame (slices=False); a large blend then waits for a turn of its own
    table.submit_update(session, PipelineUpdate({"prompt": "a castle"}))
    applier.apply(session, slices=False)
    assert session.pipeline.updates[-1] == {"prompt": "a castle"} and len(session.updates) == 0
    encoded = len(session.pipeline.prompt_encoder.encoded)
    table.submit_update(session, PipelineUpdate({"prompt": [("x", 1.0), ("y", 1.0), ("z", 1.0)]}))
    applier.apply(session, slices=False)
    assert len(session.pipeline.prompt_encoder.encoded) == encoded and len(session.updates) == 1
    applier.apply(session)  # a turn of its own: one slice (2 texts), then the last text when applied
    assert len(session.pipeline.prompt_encoder.encoded) == encoded + 2 and len(session.updates) == 1
    applier.apply(session)
    assert len(session.pipeline.prompt_encoder.encoded) == encoded + 3 and len(session.updates) == 0


def test_a_transition_to_a_large_blend_waits_for_its_texts_then_starts() -> None:
    table = SessionTable(max_sessions=1)
    session = table.open(b"s", ClientInfo("s"), credits=1)
    session.pipeline = _Pipe()
    session.pipeline.prompt_encoder.cache.add("old")
    applier = UpdateApplier({"prompt": "old"}, lambda s, exc: pytest.fail(str(exc)))
    blend = [(f"text {i}", 1.0) for i in range(6)]
    table.submit_update(session, PipelineUpdate({"prompt": blend}, transition_frames=4))
    applier.apply(session)
    assert session.transition is None and len(session.updates) == 1
    for _ in range(2):
        applier.apply(session)
    assert session.transition is not None and session.transition.start == "old"
    assert session.transition.target == blend and len(session.updates) == 0


# ------------------------------------------------------------------------------------------ the worker


def _frame(frame_id: int, width: int) -> FrameJob:
    return FrameJob(frame_id, 0, Layout.packed(width, 2, PixelFormat.RGBA8),
                    np.zeros((2, width, 4), np.uint8).tobytes(), time.perf_counter())


def test_a_costly_session_gets_its_share_not_every_other_turn() -> None:
    """A costs 80 ms a frame, B 8 ms; both always answer a result with the next frame, B with two in flight.
    Round-robin gave them equal frame counts (B 1/11 of the time); the fair share gives B about as much
    worker time as A: several B frames per A frame (about 10 on a quiet machine; under load each turn's
    overhead counts too, so the bound is 2). And no B frame is dropped: a result goes back only once its
    session's waiting frame has been taken."""
    table = SessionTable(max_sessions=2)
    a = table.open(b"a", ClientInfo("a"), credits=1)
    b = table.open(b"b", ClientInfo("b"), credits=2)
    sessions, widths = {b"a": a, b"b": b}, {b"a": 8, b"b": 4}
    counts: Counter[bytes] = Counter()
    stop = threading.Event()
    failures: list[WorkerFailure] = []

    def on_result(result: ResultJob) -> None:
        counts[result.identity] += 1
        if not stop.is_set():
            table.submit_frame(sessions[result.identity], _frame(result.frame_id + 2, widths[result.identity]))

    worker = Worker(table, lambda w, h: SleepingPipeline(0.08 if w == 8 else 0.008), lambda layout: (layout.width, 2),
                    on_result, failures.append)
    table.submit_frame(a, _frame(1, 8))
    first = _frame(1, 4)
    table.submit_frame(b, first)
    worker.start()
    try:
        assert first.taken is not None and first.taken.wait(5)
        table.submit_frame(b, _frame(2, 4))  # B's second frame in flight
        # about 1 s of A's worker time (2 s of the worker's on a quiet machine), however long a loaded one takes
        wait_for(lambda: counts[b"a"] >= 12, 60, "12 of A's results")
    finally:
        stop.set()
        assert worker.stop(timeout=5)
    assert not failures and counts[b"a"] >= 3
    assert counts[b"b"] >= 2 * counts[b"a"], counts
    assert b.slot.dropped == 0
    assert worker.fair_share.used(b.session_id) == pytest.approx(worker.fair_share.used(a.session_id), abs=0.3)


def test_a_shared_call_is_charged_by_unet_samples() -> None:
    from types import SimpleNamespace

    from sdbridge.runtime.pipeline_api import frame_units

    def pipe(steps: int, fbs: int = 1, cfg: str = "self") -> SimpleNamespace:
        return SimpleNamespace(config=SimpleNamespace(steps=steps, frame_buffer_size=fbs,
                                                      cfg_mode=SimpleNamespace(value=cfg)))

    assert frame_units(pipe(2)) == 3.0  # 2 UNet samples + its VAE work
    assert frame_units(pipe(8)) == 9.0
    assert frame_units(pipe(2, cfg="full")) == 5.0  # negative samples too
    assert frame_units(pipe(2, fbs=2)) == 6.0
    assert frame_units(object()) == 2.0  # a pipeline without a config (identity, fakes): one step


def test_a_bad_prompt_value_is_reported_not_raised() -> None:
    table = SessionTable(max_sessions=1)
    session = table.open(b"s", ClientInfo("s"), credits=1)
    session.pipeline = _Pipe()
    failures: list[Exception] = []
    applier = UpdateApplier({}, lambda s, exc: failures.append(exc))
    table.submit_update(session, PipelineUpdate({"prompt": 5}))
    applier.apply(session)  # the worker thread survives; the client gets an Error
    assert len(failures) == 1 and len(session.updates) == 0 and "prompt" not in session.prompt_values
