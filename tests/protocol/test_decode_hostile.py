"""Hostile input: decode raises ProtocolError with a specific code, never any other exception."""

from __future__ import annotations

import struct

import flatbuffers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdbridge.errors import FieldError, ProtocolError
from sdbridge.protocol._generated import bridge_generated as fb
from sdbridge.protocol.codec import DecodeLimits, decode, decode_multipart, encode, encode_frame
from sdbridge.protocol.messages import Bye, ErrorCode, FrameHeader, Hello, MessageType, PixelFormat, Prompt

from .conftest import refused_with_peak
from .golden_messages import GOLDEN

GOLDEN_BYTES = {name: encode(msg) for name, msg in GOLDEN.items()}
NAMES = sorted(GOLDEN_BYTES)
HOSTILE = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _decode_or_code(data: bytes, limits: DecodeLimits | None = None) -> ErrorCode | None:
    """Decode; return the ProtocolError code, or None if it decoded. Any other exception fails the test."""
    try:
        decode(data, limits) if limits else decode(data)
    except ProtocolError as exc:
        assert isinstance(exc.code, ErrorCode), f"code {exc.code!r} is not an ErrorCode"
        assert exc.code is not ErrorCode.UNKNOWN
        return exc.code
    return None


@HOSTILE
@given(st.binary(max_size=512))
def test_random_bytes_raise_only_protocol_errors(data: bytes) -> None:
    code = _decode_or_code(data)
    if len(data) < 8:
        assert code is ErrorCode.TRUNCATED
    elif data[4:8] != b"SDB1":
        assert code is ErrorCode.WRONG_IDENTIFIER


@HOSTILE
@given(st.binary(min_size=8, max_size=512))
def test_random_bytes_with_the_right_identifier_raise_only_protocol_errors(data: bytes) -> None:
    _decode_or_code(data[:4] + b"SDB1" + data[8:])


@HOSTILE
@given(st.sampled_from(NAMES), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                                          max_size=6))
def test_corrupted_golden_messages_raise_only_protocol_errors(name: str, edits: list[tuple[int, int]]) -> None:
    data = bytearray(GOLDEN_BYTES[name])
    for pos, value in edits:
        data[pos % len(data)] = value
    _decode_or_code(bytes(data))


@pytest.mark.parametrize("name", NAMES)
def test_every_truncation_is_refused_as_truncated(name: str) -> None:
    whole = GOLDEN_BYTES[name]
    for n in range(len(whole)):
        try:
            msg = decode(whole[:n])
        except ProtocolError as exc:
            assert exc.code is ErrorCode.TRUNCATED, f"{name}[:{n}] gave {exc.code!r}: {exc}"
        else:
            # Only the trailing alignment padding of the first-built object may be cut without loss.
            assert msg == GOLDEN[name] and n >= len(whole) - 3, f"{name}[:{n}] decoded"


def test_wrong_identifier_is_named() -> None:
    data = bytearray(GOLDEN_BYTES["hello"])
    data[4:8] = b"SDB2"
    with pytest.raises(ProtocolError) as info:
        decode(bytes(data))
    assert info.value.code is ErrorCode.WRONG_IDENTIFIER
    assert "SDB2" in str(info.value) and "SDB1" in str(info.value)


def _raw_envelope(body_type: int, with_body: bool = True) -> bytes:
    b = flatbuffers.Builder(64)
    reason = b.CreateString("x")
    fb.ByeStart(b)
    fb.ByeAddReason(b, reason)
    body = fb.ByeEnd(b)
    fb.EnvelopeStart(b)
    if with_body:
        fb.EnvelopeAddBody(b, body)
    fb.EnvelopeAddBodyType(b, body_type)
    b.Finish(fb.EnvelopeEnd(b), file_identifier=b"SDB1")
    return bytes(b.Output())


@pytest.mark.parametrize("body_type", [0, max(MessageType) + 1, 200, 255])
def test_unknown_or_missing_union_type_is_unknown_type(body_type: int) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(_raw_envelope(body_type))
    assert info.value.code is ErrorCode.UNKNOWN_TYPE
    assert f"body_type={body_type}" in str(info.value)


def test_known_type_without_body_is_bad_message() -> None:
    with pytest.raises(ProtocolError) as info:
        decode(_raw_envelope(12, with_body=False))
    assert info.value.code is ErrorCode.BAD_MESSAGE


def _frame(**kw: object) -> FrameHeader:
    base: dict[str, object] = {"frame_id": 7, "width": 4, "height": 2, "stride": 16, "pixel_format": PixelFormat.RGBA8}
    base.update(kw)
    return FrameHeader(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "code"), [
    ({"width": 0}, ErrorCode.BAD_DIMENSION),
    ({"height": 0}, ErrorCode.BAD_DIMENSION),
    ({"width": 2**32 - 1, "stride": 2**32 - 1}, ErrorCode.TOO_LARGE),
    ({"height": 2**32 - 1}, ErrorCode.TOO_LARGE),
    ({"width": 2048, "height": 2048, "stride": 2**32 - 1}, ErrorCode.TOO_LARGE),
    ({"stride": 3}, ErrorCode.BAD_PIXEL_SIZE),
    ({"pixel_format": 77}, ErrorCode.UNSUPPORTED_PIXEL_FORMAT),
])
def test_bad_dimensions_are_refused_before_any_allocation(kw: dict[str, object], code: ErrorCode) -> None:
    data = encode(_frame(**kw))
    error, peak = refused_with_peak(lambda: decode_multipart([data, b"\0" * 16]))
    assert error.code is code
    assert peak < 256 * 1024, f"decoding a refused header allocated {peak} bytes"


@pytest.mark.parametrize("size", [0, 31, 33, 16 * 2 * 1000])
def test_pixel_part_size_mismatch_is_bad_pixel_size(size: int) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_multipart([encode(_frame()), bytes(size)])
    assert info.value.code is ErrorCode.BAD_PIXEL_SIZE
    assert f"{size} bytes" in str(info.value) and "16 x 2 = 32" in str(info.value)


def test_wrong_number_of_parts_is_bad_part_count() -> None:
    header, pixels = encode_frame(_frame(), bytes(32))
    for parts in ([], [header], [header, pixels, b"extra"], [encode(Bye("x")), b"pixels"]):
        with pytest.raises(ProtocolError) as info:
            decode_multipart(parts)
        assert info.value.code is ErrorCode.BAD_PART_COUNT, parts


def test_oversize_message_and_pixel_part_are_too_large() -> None:
    small = DecodeLimits(max_message_bytes=1024)
    with pytest.raises(ProtocolError) as info:
        decode(encode(Prompt(text="x" * 2000)), small)
    assert info.value.code is ErrorCode.TOO_LARGE and "1024" in str(info.value)
    with pytest.raises(ProtocolError) as info:
        decode_multipart([encode(_frame()), bytes(4096)], small)
    assert info.value.code is ErrorCode.TOO_LARGE


def test_overlong_text_is_too_large_naming_the_field() -> None:
    with pytest.raises(ProtocolError) as info:
        decode(encode(Prompt(text="x" * 100)), DecodeLimits(max_text_chars=99))
    assert info.value.code is ErrorCode.TOO_LARGE and "Prompt.text" in str(info.value)


def test_text_too_long_for_the_limit_in_any_encoding_is_refused_before_it_is_decoded() -> None:
    """A string of more than 4 bytes per allowed character cannot fit whatever it holds: refused from its length,
    without decoding it (the fuzzer found a 55 KB invalid-UTF-8 name costing three copies of itself)."""
    limits = DecodeLimits(max_text_chars=256)
    wire = encode(Prompt(text="\u00e9" * 20000))  # 40,000 bytes of valid UTF-8, 20,000 characters
    error, peak = refused_with_peak(lambda: decode(wire, limits))
    assert error.code is ErrorCode.TOO_LARGE
    assert "Prompt.text is 40000 bytes of UTF-8, more than 256 characters can take" in str(error)
    assert peak < 1.6 * len(wire)  # the accessor's one copy of the bytes; no decoded string beside it
    exactly = "\U0001f600" * 256  # 1024 bytes: 4 bytes for each of the 256 characters allowed
    assert decode(encode(Prompt(text=exactly)), limits) == Prompt(text=exactly)


def test_invalid_utf8_is_bad_message() -> None:
    b = flatbuffers.Builder(64)
    name = b.CreateString(b"\xff\xfe")
    fb.HelloStart(b)
    fb.HelloAddClientName(b, name)
    fb.HelloAddProtocolMajor(b, 1)
    body = fb.HelloEnd(b)
    fb.EnvelopeStart(b)
    fb.EnvelopeAddBody(b, body)
    fb.EnvelopeAddBodyType(b, 1)
    b.Finish(fb.EnvelopeEnd(b), file_identifier=b"SDB1")
    with pytest.raises(ProtocolError) as info:
        decode(bytes(b.Output()))
    assert info.value.code is ErrorCode.BAD_MESSAGE and "Hello.client_name" in str(info.value)


def test_forged_vector_length_is_refused_without_looping() -> None:
    data = bytearray(encode(Hello(1, 0, pixel_formats=(PixelFormat.RGBA8,) * 3)))
    # The 3-element pixel_formats vector is the first-built object: its length sits near the end.
    pos = bytes(data).rfind(struct.pack("<I", 3) + bytes([1, 1, 1]))
    assert pos > 0
    data[pos:pos + 4] = struct.pack("<I", 0xFFFFFFFF)
    with pytest.raises(ProtocolError) as info:
        decode(bytes(data))
    assert info.value.code is ErrorCode.TRUNCATED and "4294967295" in str(info.value)


@pytest.mark.parametrize("value", [None, 42, "SDB1 text", object()])
def test_non_bytes_input_is_bad_message(value: object) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(value)
    assert info.value.code is ErrorCode.BAD_MESSAGE


def test_long_lists_are_too_large_naming_the_field() -> None:
    from sdbridge.protocol.messages import GameEvent, Params

    limits = DecodeLimits(max_list_items=8)
    with pytest.raises(ProtocolError) as info:
        decode(encode(GameEvent("e", {f"k{i}": i for i in range(9)})), limits)
    assert info.value.code is ErrorCode.TOO_LARGE and "GameEvent.payload has 9 entries" in str(info.value)
    with pytest.raises(ProtocolError) as info:
        decode(encode(Params(t_index_list=tuple(range(9)))), limits)
    assert info.value.code is ErrorCode.TOO_LARGE and "Params.t_index_list" in str(info.value)
    assert decode(encode(Params(t_index_list=tuple(range(8)))), limits) == Params(t_index_list=tuple(range(8)))


def test_forged_list_of_shared_tables_is_refused_before_visiting_them() -> None:
    # 60k offsets that all point at one KeyValue: tiny on the wire, expensive to walk if unbounded.
    b = flatbuffers.Builder(1 << 20)
    key = b.CreateString("k")
    fb.KeyValueStart(b)
    fb.KeyValueAddKey(b, key)
    kv = fb.KeyValueEnd(b)
    fb.GameEventStartPayloadVector(b, 60_000)
    for _ in range(60_000):
        b.PrependUOffsetTRelative(kv)
    payload = b.EndVector()
    fb.GameEventStart(b)
    fb.GameEventAddPayload(b, payload)
    body = fb.GameEventEnd(b)
    fb.EnvelopeStart(b)
    fb.EnvelopeAddBody(b, body)
    fb.EnvelopeAddBodyType(b, 8)
    b.Finish(fb.EnvelopeEnd(b), file_identifier=b"SDB1")
    data = bytes(b.Output())
    with pytest.raises(ProtocolError) as info:
        decode(data)  # 240 kB: under max_header_bytes, so the list limit must catch it
    assert info.value.code is ErrorCode.TOO_LARGE and "GameEvent.payload has 60000 entries" in str(info.value)
    with pytest.raises(ProtocolError) as info:
        decode(data, DecodeLimits(max_header_bytes=64 * 1024))
    assert info.value.code is ErrorCode.TOO_LARGE and "max_header_bytes" in str(info.value)


@pytest.mark.parametrize(("text", "field", "code"), [
    ("x" * 300, "Prompt.text", ErrorCode.TOO_LARGE),  # over the character limit
    ("x" * 2000, "Prompt.text", ErrorCode.TOO_LARGE),  # over what any encoding of the limit can take
])
def test_a_refused_string_names_its_field_in_the_error(text: str, field: str, code: ErrorCode) -> None:
    """The Error a client gets carries the refused field (it was empty for a string refused by its length)."""
    with pytest.raises(FieldError) as info:
        decode(encode(Prompt(text=text)), DecodeLimits(max_text_chars=256))
    assert info.value.field_name == field and info.value.code is code and field in str(info.value)
