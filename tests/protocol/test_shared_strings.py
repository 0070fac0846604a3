"""A FlatBuffer may point many fields at one string: a small message that unpacks to much more text. The decoder
bounds the text one message unpacks to by limits.max_header_bytes (what a message without shared strings could
carry at most), before it copies more: 1024 keys sharing one 4 KiB value (a 37 KB message, ~4 MiB unpacked)
were all copied on the server's I/O thread, and 100 of them starved every other session for seconds."""

from __future__ import annotations

import pytest

from sdbridge.errors import ProtocolError
from sdbridge.protocol.codec import DecodeLimits, decode, encode, peek_type
from sdbridge.protocol.messages import ErrorCode, GameEvent, MessageType, State

from .conftest import refused_with_peak
from .shared_strings import encode_shared


@pytest.mark.parametrize("kind", [State, GameEvent])
def test_shared_strings_cannot_unpack_beyond_the_header_limit(kind: type) -> None:
    entries = {f"k{i}": "v" * 4096 for i in range(1024)}
    message = kind(entries=entries) if kind is State else kind(name="bloat", payload=entries)
    wire = encode_shared(message)
    assert len(wire) < 64 * 1024  # small on the wire
    limits = DecodeLimits()
    error, peak = refused_with_peak(lambda: decode(wire, limits))
    assert error.code is ErrorCode.TOO_LARGE
    assert "limits.max_header_bytes" in str(error) and str(limits.max_header_bytes) in str(error)
    assert peak < 2 * limits.max_header_bytes  # refused after at most max_header_bytes of text, not 4 MiB


def test_peek_type_reads_the_envelope_only() -> None:
    entries = {f"k{i}": "v" * 4096 for i in range(1024)}
    assert peek_type(encode_shared(State(entries=entries))) is MessageType.STATE
    assert peek_type(encode(GameEvent(name="x"))) is MessageType.GAME_EVENT
    assert peek_type(b"not a flatbuffer") is None and peek_type(b"") is None


def test_text_up_to_the_header_limit_still_decodes() -> None:
    limits = DecodeLimits(max_header_bytes=64 * 1024)
    entries = {f"k{i}": "v" * 1000 for i in range(60)}  # ~60 KB of text, shared or not
    assert decode(encode_shared(State(entries=entries)), limits) == State(entries=entries)
    assert decode(encode(State(entries=entries)), limits) == State(entries=entries)


def test_the_text_cap_is_the_message_size_limit_where_max_message_bytes_is_lower() -> None:
    """A server configured with max_message_bytes under max_header_bytes refuses larger messages, so the text a
    message unpacks to is capped there too (it was capped at max_header_bytes: 4x the size limit in the fuzzer's
    configuration)."""
    limits = DecodeLimits(max_message_bytes=32 * 1024)
    entries = {f"k{i}": "v" * 1000 for i in range(40)}  # ~40 KB of text, ~2 KB on the wire when shared
    wire = encode_shared(State(entries=entries))
    assert len(wire) < 32 * 1024 < 40 * 1000 < limits.max_header_bytes
    with pytest.raises(ProtocolError) as info:
        decode(wire, limits)
    assert info.value.code is ErrorCode.TOO_LARGE and "more than 32768 bytes of text" in str(info.value)
    fewer = {f"k{i}": "v" * 1000 for i in range(30)}
    assert decode(encode_shared(State(entries=fewer)), limits) == State(entries=fewer)
