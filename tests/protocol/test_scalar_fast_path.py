"""The struct-based fast path for scalar-only messages is byte-identical to flatbuffers.Builder."""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdbridge.protocol import _scalar, _verify
from sdbridge.protocol._generated import bridge_generated as fb
from sdbridge.protocol._generated.bridge_schema import TABLES
from sdbridge.protocol.codec import decode, encode, encode_with_builder
from sdbridge.protocol.messages import (
    MESSAGE_TYPES,
    AlphaMode,
    ColorSpace,
    Credit,
    FrameHeader,
    MessageType,
    Ping,
    PixelFormat,
    Pong,
    ResultHeader,
    RowOrder,
    Stats,
    StatsRequest,
)

_FORMAT_OF_PREPEND = {"Bool": "?", "Uint8": "B", "Uint16": "H", "Uint32": "I", "Uint64": "Q", "Int8": "b",
                      "Int16": "h", "Int32": "i", "Int64": "q", "Float32": "f", "Float64": "d"}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


@pytest.mark.parametrize("tag", sorted(_scalar.SCALAR_TABLES))
def test_scalar_specs_match_the_generated_code(tag: MessageType) -> None:
    table, fields = _scalar.SCALAR_TABLES[tag]
    count = int(re.search(r"StartObject\((\d+)\)", inspect.getsource(getattr(fb, f"{table}Start"))).group(1))  # type: ignore[union-attr]
    # Frame.planes (id 12) is not on this path; its slot is a gap in the ids (Frame.scene_cut, protocol 1.4: id 13)
    optional = {f[0] for f in TABLES[table] if f[1] in _scalar.OPTIONAL_NON_SCALAR.get(table, ())}
    assert [f[0] for f in fields] == [i for i in range(count) if i not in optional]
    for fid, name, fmt in fields:
        src = inspect.getsource(getattr(fb, f"{table}Add{_camel(name)}"))
        m = re.search(r"Prepend(\w+?)Slot\((\d+),", src)
        assert m is not None and int(m.group(2)) == fid and _FORMAT_OF_PREPEND[m.group(1)] == fmt, (table, name)


def _maybe_zero(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(0), strategy)  # zeros are left out of the buffer: exercise every layout


U32 = _maybe_zero(st.integers(0, 2**32 - 1))
U64 = _maybe_zero(st.integers(0, 2**64 - 1))
F32 = st.one_of(st.just(0.0), st.integers(-(2**20), 2**20).map(lambda i: i / 8.0))


def _image_kwargs() -> dict[str, st.SearchStrategy[Any]]:
    return {"session_id": U64, "stream_id": U32, "frame_id": U64, "width": U32, "height": U32, "stride": U32,
            "pixel_format": st.sampled_from(list(PixelFormat)), "row_order": st.sampled_from(list(RowOrder)),
            "color_space": st.sampled_from(list(ColorSpace)), "alpha_mode": st.sampled_from(list(AlphaMode)),
            "capture_time_us": U64, "send_time_us": U64}


MESSAGES = st.one_of(
    st.builds(FrameHeader, **_image_kwargs()),
    st.builds(ResultHeader, **_image_kwargs(), queue_wait_us=U32, inference_us=U32, encode_us=U32,
              is_warmup=st.booleans(), skipped=st.booleans(), source_frame_id=U64, credits_granted=U32),
    st.builds(StatsRequest, request_id=U32),
    st.builds(Stats, request_id=U32, session_id=U64, frames_in=U64, frames_out=U64, frames_dropped=U64,
              frames_skipped=U64, fps_in=F32, fps_out=F32, latency_p50_us=U32, latency_p99_us=U32,
              inference_p50_us=U32, uptime_s=F32),
    st.builds(Credit, granted=U32),
    st.builds(Ping, nonce=U64, client_time_us=U64),
    st.builds(Pong, nonce=U64, client_time_us=U64, server_time_us=U64),
)


@settings(max_examples=2000, deadline=None)
@given(MESSAGES)
def test_fast_encoding_equals_the_builder_and_reads_back(msg: Any) -> None:
    tag = MESSAGE_TYPES[type(msg)]
    fast = encode(msg)
    assert fast == encode_with_builder(msg, tag)
    view = memoryview(fast)
    _verify.verify_envelope(view)  # the full structural verifier accepts it too
    got_tag, body = _verify.envelope_body(view)
    assert got_tag == tag
    values = _scalar.read_scalar(view, body, tag)
    # Frame.planes (not a scalar) keeps its default: the fast path serves Frames without planes
    assert values == tuple(getattr(msg, f.name) for f in dataclasses.fields(msg) if f.name != "planes")


def test_valid_headers_decode_through_the_fast_path() -> None:
    res = ResultHeader(frame_id=2**64 - 1, width=512, height=512, stride=2048, pixel_format=PixelFormat.BGRA8,
                       row_order=RowOrder.BOTTOM_UP, credits_granted=3, is_warmup=True)
    assert decode(encode(res)) == res


def _as_dict(tag: MessageType, values: tuple[Any, ...]) -> dict[str, Any]:
    """{field name: value} of what read_scalar returns (values in the message class's field order)."""
    names = [f.name for f in dataclasses.fields(_scalar.CLASSES[tag]) if f.name in _scalar.SPECS[tag].names]
    return dict(zip(names, values, strict=True))


def _read_field_by_field(view: memoryview, pos: int, tag: MessageType) -> dict[str, Any]:
    """Reference reader: every field on its own, straight from the vtable (no cached Struct)."""
    import struct

    spec = _scalar.SPECS[tag]
    vtable = pos - struct.unpack_from("<i", view, pos)[0]
    vt_size = struct.unpack_from("<H", view, vtable)[0]
    values = dict(zip(spec.names, spec.defaults, strict=True))
    for i, (_, field, code) in enumerate(spec.fields):
        if 4 + 2 * i + 2 <= vt_size:
            off = struct.unpack_from("<H", view, vtable + 4 + 2 * i)[0]
            if off:
                values[field] = struct.unpack_from("<" + code, view, pos + off)[0]
    return values


def test_a_vtable_with_overlapping_fields_reads_each_field_from_its_own_offset() -> None:
    """A hostile (but in-bounds) vtable may point two fields at the same bytes: no single Struct can read that."""
    raw = bytearray(encode(FrameHeader(frame_id=7, width=640, height=480, stride=2560,
                                       pixel_format=PixelFormat.RGBA8, row_order=RowOrder.TOP_DOWN)))
    view = memoryview(raw)
    _tag, body = _verify.envelope_body(view)
    vtable = body - int.from_bytes(raw[body:body + 4], "little", signed=True)
    width_slot, height_slot = vtable + 4 + 2 * 3, vtable + 4 + 2 * 4
    raw[height_slot:height_slot + 2] = raw[width_slot:width_slot + 2]  # height now reads width's bytes
    view = memoryview(raw)
    got = _as_dict(MessageType.FRAME, _scalar.read_scalar(view, body, MessageType.FRAME))
    assert got == _read_field_by_field(view, body, MessageType.FRAME)
    assert got["height"] == got["width"] == 640 and got["frame_id"] == 7


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=24), st.integers(0, 40))
def test_cached_readers_agree_with_field_by_field_reading_on_mangled_vtables(noise: bytes, at: int) -> None:
    """Overwrite part of a valid Result's vtable: the fast reader either refuses it or reads what a field-by-field
    reader reads."""
    from sdbridge.errors import ProtocolError

    raw = bytearray(encode(ResultHeader(frame_id=9, width=64, height=32, stride=256, pixel_format=PixelFormat.RGBA8,
                                        row_order=RowOrder.TOP_DOWN, credits_granted=1, inference_us=77)))
    _tag, body = _verify.envelope_body(memoryview(raw))
    vtable = body - int.from_bytes(raw[body:body + 4], "little", signed=True)
    start = vtable + 4 + at
    n = max(0, min(len(noise), body - start))  # overwrite vtable bytes in place (the length stays)
    raw[start:start + n] = noise[:n]
    view = memoryview(bytes(raw))
    try:
        got = _as_dict(MessageType.RESULT, _scalar.read_scalar(view, body, MessageType.RESULT))
    except ProtocolError:
        return
    assert got == _read_field_by_field(view, body, MessageType.RESULT)
