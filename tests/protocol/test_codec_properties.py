"""Property tests: any valid message survives encode -> decode unchanged (builder path, unicode, lists)."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sdbridge.protocol.codec import decode, encode
from sdbridge.protocol.messages import (
    BlendMethod,
    Bye,
    Capability,
    ErrorCode,
    ErrorMsg,
    GameEvent,
    Hello,
    ModelFamily,
    ModelInfo,
    Notice,
    NoticeKind,
    Params,
    PixelFormat,
    Prompt,
    PromptWeight,
    SeedWeight,
    State,
    Welcome,
)

TEXT = st.text(max_size=40)  # any unicode, NUL included; surrogates are not valid str for UTF-8 and excluded
U16 = st.integers(0, 2**16 - 1)
U32 = st.integers(0, 2**32 - 1)
U64 = st.integers(0, 2**64 - 1)
I64 = st.integers(-(2**63), 2**63 - 1)
F32 = st.floats(width=32, allow_nan=False)  # exactly representable, so equality holds after the round trip
F64 = st.floats(allow_nan=False)
VALUE = st.one_of(st.booleans(), I64, F64, TEXT)
PAIRS = st.lists(st.tuples(TEXT, VALUE), max_size=6).map(tuple)
FORMATS = st.lists(st.sampled_from(list(PixelFormat)), max_size=4).map(tuple)
CAPS = st.integers(0, 255).map(Capability)

PROMPTS = st.builds(Prompt, text=TEXT, negative=TEXT,
                    blend=st.lists(st.builds(PromptWeight, text=TEXT, weight=F32), max_size=4).map(tuple),
                    transition_frames=U32, transition_seconds=F32, method=st.sampled_from(list(BlendMethod)),
                    stream_id=U32)
PARAMS = st.builds(
    Params, guidance_scale=st.none() | F32, delta=st.none() | F32,
    t_index_list=st.none() | st.lists(st.integers(-(2**31), 2**31 - 1), max_size=6).map(tuple),
    seed=st.none() | U64, similarity_filter_enabled=st.none() | st.booleans(), similarity_threshold=st.none() | F32,
    similarity_max_skip=st.none() | U32,
    seed_blend=st.none() | st.lists(st.builds(SeedWeight, seed=U64, weight=F32), max_size=4).map(tuple),
    stream_id=U32,
)
MESSAGES = st.one_of(
    st.builds(Hello, protocol_major=U16, protocol_minor=U16, client_name=TEXT, client_version=TEXT,
              engine_name=TEXT, engine_version=TEXT, capabilities=CAPS, pixel_formats=FORMATS),
    st.builds(Welcome, session_id=U64, protocol_major=U16, protocol_minor=U16, server_version=TEXT,
              capabilities=CAPS, initial_credits=U32, max_width=U32, max_height=U32, max_message_bytes=U32,
              latency_frames=U32, heartbeat_interval_ms=U32, pixel_formats=FORMATS, warning=TEXT,
              model=st.none() | st.builds(ModelInfo, name=TEXT, family=st.sampled_from(list(ModelFamily)),
                                          width=U32, height=U32)),
    st.builds(ErrorMsg, code=st.sampled_from(list(ErrorCode)), message=TEXT, field=TEXT,
              frame_id=st.none() | U64, session_closed=st.booleans()),
    PROMPTS,
    PARAMS,
    st.builds(GameEvent, name=TEXT, payload=PAIRS, client_time_us=U64, frame_id=U64),
    st.builds(State, entries=PAIRS, replace_all=st.booleans(), client_time_us=U64),
    st.builds(Bye, reason=TEXT),
    st.builds(Notice, kind=st.sampled_from(list(NoticeKind)), message=TEXT, source=TEXT,
              prompt=st.none() | PROMPTS, params=st.none() | PARAMS),
)


@settings(max_examples=600, deadline=None)
@given(MESSAGES)
def test_any_message_round_trips(msg: Any) -> None:
    data = encode(msg)
    assert data[4:8] == b"SDB1"
    assert decode(data) == msg  # -0.0 decodes as 0.0 (a default is not written); they compare equal


@settings(max_examples=200, deadline=None)
@given(st.floats(width=32, allow_nan=False))
def test_float_fields_keep_their_float32_value(x: float) -> None:
    back = decode(encode(Params(guidance_scale=x)))
    assert isinstance(back, Params)
    assert struct.pack("<f", back.guidance_scale) == struct.pack("<f", x) or x == 0.0
