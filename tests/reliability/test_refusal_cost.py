"""A refused message costs the I/O thread one bounded decode: the server does not decode a refused body a second
time (without size limits) to learn whether it was a Frame. Before, a refused State of 1024 keys sharing one
4 KiB value was decoded again whole (~4 MiB of text) on the error path."""

from __future__ import annotations

from typing import Any

import pytest

from sdbridge.protocol import codec
from sdbridge.protocol import messages as m

from .fuzz_harness import ServerHarness, good_frame, hello
from .fuzz_payloads import encode_or_none


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the buffers decoded without size limits (the refused-message peek's limits)."""
    calls: list[int] = []
    original = codec.decode

    def counting(buf: Any, limits: codec.DecodeLimits = codec.DEFAULT_LIMITS) -> m.Message:
        if limits.max_message_bytes > 2**40:  # the peek: no size limits
            calls.append(len(buf))
        return original(buf, limits)

    monkeypatch.setattr(codec, "decode", counting)
    return calls


def test_a_refused_state_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    harness = ServerHarness(trace_every=0)
    harness.feed(0, hello())
    wire = encode_or_none(m.State(entries={f"k{i}": "v" * 4096 for i in range(1024)}))
    assert wire is not None
    calls = _count_decodes(monkeypatch)
    harness.feed(0, [wire])
    assert harness.report.failures == []
    assert harness.server.stats.rejected_total >= 1
    assert calls == [], "the refused State's body was decoded again on the error path"


def test_a_refused_frame_is_still_recognised_and_gets_its_credit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path still tells a refused Frame (it spent a credit): its frame id is read and the credit comes
    back, which proves the check above is not passing only because nothing is ever peeked."""
    import random

    harness = ServerHarness(trace_every=0)
    harness.feed(0, hello())
    header, pixels = good_frame(random.Random(3))
    calls = _count_decodes(monkeypatch)
    harness.transport.sent.clear()
    harness.feed(0, [header, pixels + b"x"])  # one byte too many: BAD_PIXEL_SIZE
    replies = [codec.decode(h) for _identity, h in harness.transport.sent]
    assert any(isinstance(r, m.ErrorMsg) and r.code is m.ErrorCode.BAD_PIXEL_SIZE for r in replies)
    assert any(isinstance(r, m.Credit) for r in replies)
    assert len(calls) >= 1  # the header was peeked again to read the refused frame's id
