"""Seeded fuzzing of what a client or a page can make the server keep or choke on (see fuzz_payloads.py).

SDBRIDGE_FUZZ_SEED changes the seed (as for test_fuzz.py)."""

from __future__ import annotations

import os
import random

import pytest

from sdbridge.protocol import messages as m
from sdbridge.serving.dispatcher import Dispatcher

from .fuzz_harness import ServerHarness
from .fuzz_payloads import (
    payload_message,
    preview_command,
    retained_after_payloads,
    run_preview_commands,
)

SEED = int(os.environ.get("SDBRIDGE_FUZZ_SEED", "20261206"))


def test_payload_shapes_keep_memory_within_the_session_budgets() -> None:
    harness = ServerHarness(trace_every=0)
    retained, bound = retained_after_payloads(harness, SEED, 200)
    print(f"payload fuzz: {retained} bytes retained after 200 hostile State/GameEvent messages (bound {bound})")
    assert harness.report.failures == []
    assert retained <= bound, f"{retained} bytes kept after hostile payloads, above the budget-derived {bound}"


def test_retained_memory_check_catches_an_unbounded_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a server that also keeps every State message it sees exceeds the bound (600
    messages: since one message unpacks to at most the message size limit of text, 68 KiB in the fuzz config,
    200 hoarded messages stayed under the budget-derived bound)."""
    kept: list[m.Message] = []
    original = Dispatcher.dispatch

    def hoarding(self: Dispatcher, identity: bytes, session: object, message: m.Message, *rest: object) -> None:
        if isinstance(message, m.State | m.GameEvent):
            kept.append(message)
        original(self, identity, session, message, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(Dispatcher, "dispatch", hoarding)
    retained, bound = retained_after_payloads(ServerHarness(trace_every=0), SEED, 600)
    assert kept and retained > bound


def test_payload_generator_reaches_the_large_shapes() -> None:
    rng = random.Random(SEED)
    sizes = [len(getattr(msg, "entries", ()) or getattr(msg, "payload", ())) for msg in
             (payload_message(rng) for _ in range(200))]
    assert max(sizes) == 1024 and min(sizes) == 1


def test_preview_commands_never_stop_the_control_runner() -> None:
    report = run_preview_commands(SEED, 3000)
    print(f"preview fuzz: {report.commands} commands, {report.refused_by_page} refused by the page, "
          f"{report.refused_by_server} by the server, {report.applied} applied")
    assert report.failures == [], "\n".join(report.failures[:10])
    assert report.applied > 50 and report.refused_by_page > 50  # both paths exercised


def test_preview_generator_reaches_wire_overflow_values() -> None:
    rng = random.Random(SEED)
    seeds = {c.get("seed") for c in (preview_command(rng) for _ in range(2000)) if "seed" in c}
    assert {-1, 2**64}.issubset(seeds)


def test_many_tiny_state_entries_cost_what_the_budget_says() -> None:
    """Short keys with small numbers: each entry costs a Python dict slot and a key object beyond its bytes, so a
    budget that counted only UTF-8 bytes let ~6,000 entries (~380 KB kept) pass as 64 KiB."""
    import gc
    import tracemalloc

    from sdbridge.protocol import codec

    from .fuzz_harness import hello

    harness = ServerHarness(trace_every=0)
    harness.feed(0, hello())
    budget = harness.server.config.limits.max_state_bytes
    messages = [codec.encode(m.State(entries={f"{n * 100 + i:x}": i % 200 for i in range(100)}))
                for n in range(200)]  # 20,000 entries offered in merges small enough to be taken until full
    gc.collect()
    tracemalloc.start()
    try:
        for header in messages:
            harness.feed(0, [header])
        del messages
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    kept = len(next(iter(harness.server.table.sessions())).state)
    print(f"tiny entries: {kept} kept, {retained} bytes retained for a state budget of {budget}")
    assert kept > 500  # merges were taken until the budget was full
    assert retained <= 2 * budget + 64 * 1024  # the budget counts what an entry really costs, within 2x
