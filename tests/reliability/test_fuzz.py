"""Fuzzing (bounded CI run): >= 100,000 generated inputs through the server's message handling.

Set SDBRIDGE_FUZZ_INPUTS / SDBRIDGE_FUZZ_SEED to change the run; scripts/fuzz.sh runs atheris (coverage
guided) for as long as you like. What is checked: see tests/reliability/fuzz_harness.py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import flatbuffers
import pytest

from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.serving.dispatcher import Dispatcher
from sdbridge.serving.outbound import Outbound

from .fuzz_harness import (
    ALLOC_BOUND,
    MAX_BYTES,
    MAX_SIDE,
    FuzzReport,
    ServerHarness,
    check_decoder,
    good_frame,
    hello,
    run_seeded,
)

INPUTS = int(os.environ.get("SDBRIDGE_FUZZ_INPUTS", "100000"))
SEED = int(os.environ.get("SDBRIDGE_FUZZ_SEED", "20261129"))
OUT = Path(__file__).resolve().parents[2] / "build" / "reliability"


def test_fuzz_server_handling_and_decoder() -> None:
    started = time.perf_counter()
    report = run_seeded(SEED, INPUTS)
    seconds = time.perf_counter() - started
    summary = {"seed": SEED, "inputs": report.inputs, "seconds": round(seconds, 1), "accepted": report.accepted,
               "rejected": dict(sorted(report.rejected.items())), "decoder_inputs": report.decoder_inputs,
               "decoded_ok": report.decoded_ok, "alloc_traced_inputs": report.traced,
               "max_alloc_bytes": report.max_alloc, "alloc_bound_bytes": ALLOC_BOUND,
               "failures": len(report.failures)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fuzz.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"fuzz: {json.dumps(summary)}")
    assert report.failures == []
    assert report.inputs == INPUTS
    assert report.accepted + sum(report.rejected.values()) == INPUTS  # every input answered exactly once
    assert "INTERNAL" not in report.rejected
    assert report.accepted > INPUTS // 20 and sum(report.rejected.values()) > INPUTS // 2  # both paths exercised
    assert len(report.rejected) >= 10  # many distinct refusals reached
    assert report.traced >= INPUTS // 10 and report.max_alloc <= ALLOC_BOUND


def test_harness_reports_an_unexpected_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Dispatcher, *args: object) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(Dispatcher, "on_params", broken)
    harness = ServerHarness(trace_every=0)
    harness.feed(0, hello())
    harness.feed(0, [codec.encode(m.Params(guidance_scale=1.0))])
    assert len(harness.report.failures) == 1 and "INTERNAL" in harness.report.failures[0]


def test_harness_reports_a_large_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Dispatcher.on_frame
    hoard: list[bytearray] = []  # kept by the test, not written onto the dispatcher

    def greedy(self: Dispatcher, *args: object) -> None:
        hoard.append(bytearray(ALLOC_BOUND + 1))
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Dispatcher, "on_frame", greedy)
    import random

    harness = ServerHarness(trace_every=1)
    harness.feed(0, hello())
    harness.feed(0, good_frame(random.Random(0)))
    assert len(harness.report.failures) == 1 and "allocated" in harness.report.failures[0]
    assert len(hoard) == 1  # the greedy handler ran once


def test_harness_reports_an_unanswered_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Outbound, "error", lambda self, *a, **k: None)  # refuses silently, counts nothing
    harness = ServerHarness(trace_every=0)
    harness.feed(0, [b"garbage"])
    assert len(harness.report.failures) == 1 and "exactly once" in harness.report.failures[0]


def test_the_fuzzer_s_plane_frames_reach_the_server_s_plane_checks() -> None:
    import random

    from .fuzz_harness import planes_frame

    rng = random.Random(3)
    frames = [planes_frame(rng) for _ in range(40)]
    nan = [f for f in frames if f[2][:4] == b"\x00\x00\xc0\x7f"]
    clean = [f for f in frames if f[2][:4] != b"\x00\x00\xc0\x7f"]
    assert nan and clean  # both kinds generated
    harness = ServerHarness(trace_every=0)
    harness.feed(0, hello(planes=True))
    harness.feed(0, clean[0])
    assert harness.server.stats.accepted == 2 and harness.server.stats.rejected_total == 0
    harness.feed(1, hello(planes=True))
    harness.feed(1, nan[0])  # refused by sdbridge.runtime.planes (finite values), answered with an Error
    assert harness.server.stats.rejected_total == 1 and harness.report.failures == []


def test_the_fuzzer_s_style_images_reach_the_server_s_style_checks() -> None:
    """Protocol 1.4: the harness's server offers StyleImages (an IP-Adapter configured); a valid StyleImage is
    accepted, one whose pixel part is a byte short is refused with an Error, the session stays up."""
    import random

    from .fuzz_harness import style_image

    rng = random.Random(5)
    images = [style_image(rng) for _ in range(40)]
    headers = [codec.decode(parts[0], codec.DecodeLimits(max_text_chars=1000)) for parts in images]
    good = [parts for parts, h in zip(images, headers, strict=True)
            if isinstance(h, m.StyleImage) and len(parts[1]) == h.nbytes and len(h.name) < 10]
    assert len(good) < len(images)  # some are off by a byte (or named too long): the checks get both kinds
    harness = ServerHarness(trace_every=0)
    harness.feed(0, hello(styles=True))
    harness.feed(0, good[0])
    assert harness.server.stats.accepted == 2 and harness.server.stats.rejected_total == 0
    harness.feed(0, [good[0][0], good[0][1][:-1]])
    assert harness.server.stats.rejected_total == 1 and harness.report.failures == []


def test_an_aliased_buffer_that_re_encodes_past_the_limit_is_no_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GameEvent whose payload entries all point at one KeyValue table decodes within the limits (its text is
    under the cap) but re-encodes larger than the header limit, every entry written out: the decoder check must
    still compare it (found by scripts/fuzz.sh: the harness's own re-decode raised TOO_LARGE)."""
    entries = 330

    def aliasing(b: flatbuffers.Builder, msg: m.GameEvent) -> int:
        kv = codec._enc_keyvalue(b, "key", "v" * 200)
        payload = codec._offset_vector(b, codec.fb.GameEventStartPayloadVector, [kv] * entries)
        return codec._table(b, "GameEvent", {"name": codec._string(b, msg.name), "payload": payload})

    monkeypatch.setitem(codec._ENCODERS, m.MessageType.GAME_EVENT, aliasing)
    raw = codec.encode_with_builder(m.GameEvent(name="aliased"), m.MessageType.GAME_EVENT)
    monkeypatch.undo()
    limits = codec.DecodeLimits(max_width=MAX_SIDE, max_height=MAX_SIDE, max_message_bytes=MAX_BYTES,
                                max_text_chars=256)
    decoded = codec.decode(raw, limits)
    assert len(decoded.payload) == entries
    assert len(raw) < MAX_BYTES < len(codec.encode(decoded))  # the case: small in, past the limit re-encoded
    report = FuzzReport()
    check_decoder([raw], report)
    assert report.failures == [] and report.decoded_ok == 1
