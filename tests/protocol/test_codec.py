"""Codec round trips, encode-side errors, pixel helpers, and agreement with the flatc output."""

from __future__ import annotations

import enum
import inspect
import re

import numpy as np
import pytest

from sdbridge.errors import BridgeError, ProtocolError
from sdbridge.protocol import _verify, codec
from sdbridge.protocol._generated import bridge_generated as fb
from sdbridge.protocol._generated import bridge_schema
from sdbridge.protocol._generated.bridge_schema import TABLES
from sdbridge.protocol.codec import (
    DecodeLimits,
    decode,
    decode_multipart,
    encode,
    encode_frame,
    expected_pixel_bytes,
    validate_image_header,
)
from sdbridge.protocol.messages import (
    AlphaMode,
    BlendMethod,
    Bye,
    Capability,
    ColorSpace,
    ErrorCode,
    ErrorMsg,
    FrameHeader,
    GameEvent,
    MessageType,
    ModelFamily,
    Notice,
    NoticeKind,
    Params,
    ParamsField,
    PixelFormat,
    ResultHeader,
    RowOrder,
    SeedWeight,
    State,
    ValueKind,
)

from .golden_messages import GOLDEN


def _upper_snake(name: str) -> str:
    name = name.rstrip("_")  # flatc renames None to None_ in Python
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).upper()


@pytest.mark.parametrize(("ours", "generated"), [
    (PixelFormat, fb.PixelFormat), (RowOrder, fb.RowOrder), (ColorSpace, fb.ColorSpace),
    (AlphaMode, fb.AlphaMode), (Capability, fb.Capability), (ErrorCode, fb.ErrorCode),
    (ModelFamily, fb.ModelFamily), (BlendMethod, fb.BlendMethod), (ParamsField, fb.ParamsField),
    (ValueKind, fb.ValueKind), (NoticeKind, fb.NoticeKind), (MessageType, fb.Message),
])
def test_python_enums_mirror_the_schema(ours: type[enum.IntEnum], generated: type) -> None:
    theirs = {_upper_snake(k): v for k, v in vars(generated).items() if not k.startswith("__")}
    assert {m.name: m.value for m in ours.__members__.values()} == theirs


def _generated_fields(table: str) -> dict[int, str]:
    """{field id: 'offset' or scalar size} from the generated <Table>Add<Field> functions."""
    sizes = {"Bool": 1, "Uint8": 1, "Int8": 1, "Uint16": 2, "Int16": 2, "Uint32": 4, "Int32": 4, "Float32": 4,
             "Uint64": 8, "Int64": 8, "Float64": 8, "UOffsetTRelative": "offset"}
    out: dict[int, str] = {}
    for name, fn in vars(fb).items():
        if name.startswith(f"{table}Add") and callable(fn):
            m = re.search(r"Prepend(\w+?)Slot\((\d+),", inspect.getsource(fn))
            if m:
                out[int(m.group(2))] = str(sizes[m.group(1)])
    return out


@pytest.mark.parametrize("table", sorted(_verify.LAYOUT))
def test_verifier_layout_matches_the_generated_code(table: str) -> None:
    ours = {fid: (str(arg) if kind is _verify.Kind.SCALAR else "offset") for fid, kind, arg in _verify.LAYOUT[table]}
    start = inspect.getsource(getattr(fb, f"{table}Start"))
    count = int(re.search(r"StartObject\((\d+)\)", start).group(1))  # type: ignore[union-attr]
    assert len(ours) == count, f"{table}: schema has {count} fields, verifier layout {len(ours)}"
    assert ours == _generated_fields(table)


def test_union_tables_cover_every_message_type() -> None:
    assert set(_verify.UNION_TABLES) == set(MessageType) - {MessageType.NONE}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_round_trip_every_golden_through_bytes(name: str) -> None:
    assert decode(encode(GOLDEN[name])) == GOLDEN[name]


def test_params_absent_fields_stay_absent_and_zero_values_stay_set() -> None:
    p = Params(seed=0, similarity_filter_enabled=False, t_index_list=())
    assert p.set_mask == ParamsField.SEED | ParamsField.SIMILARITY_FILTER_ENABLED | ParamsField.T_INDEX_LIST
    back = decode(encode(p))
    assert isinstance(back, Params)
    assert back.seed == 0 and back.similarity_filter_enabled is False and back.t_index_list == ()
    assert back.guidance_scale is None and back.delta is None and back.seed_blend is None
    assert decode(encode(Params())) == Params()


_PARAMS_SCALARS = [f for f in TABLES["Params"] if f[2] == "scalar" and f[1] not in ("set_mask", "stream_id")]


def _set_value(fmt: str, enum_name: str) -> object:
    """A value of a Params scalar field that is not the wire default (so it is written)."""
    if enum_name:
        return list(getattr(bridge_schema, enum_name))[-1]
    return {"?": True, "f": 0.5, "I": 7, "Q": 2**40}[fmt]


@pytest.mark.parametrize("field", _PARAMS_SCALARS, ids=lambda f: f[1])
def test_every_params_scalar_of_the_schema_round_trips_alone_with_its_type(field: tuple) -> None:
    # numbers, bools and enums alike: the codec reads them from the schema's layout, none by a hand line
    _, name, _, _, fmt, enum_name = field
    value = _set_value(fmt, enum_name)
    p = Params(**{name: value})
    assert p.set_mask == ParamsField[name.upper()]
    back = decode(encode(p))
    assert back == p
    assert type(getattr(back, name)) is type(value)
    assert all(getattr(back, f[1]) is None for f in _PARAMS_SCALARS if f[1] != name)


@pytest.mark.parametrize("field", [f for f in _PARAMS_SCALARS if f[5]], ids=lambda f: f[1])
def test_a_params_enum_number_this_build_does_not_know_stays_the_number(field: tuple) -> None:
    name, enum_name = field[1], field[5]
    unknown = max(getattr(bridge_schema, enum_name)) + 1
    back = decode(encode(Params(**{name: unknown})))
    assert isinstance(back, Params) and getattr(back, name) == unknown
    assert type(getattr(back, name)) is int  # a refusal can name the number


def test_params_seed_blend_and_large_seed_round_trip() -> None:
    p = Params(seed=2**64 - 1, seed_blend=(SeedWeight(2**63, 0.5),))
    assert decode(encode(p)) == p


def test_game_event_values_keep_their_types() -> None:
    ev = GameEvent("hit", {"crit": True, "damage": 7, "scale": 1.5, "who": "orc", "big": -(2**63)})
    back = decode(encode(ev))
    assert isinstance(back, GameEvent)
    assert back == ev
    assert [type(v) for _, v in back.payload] == [bool, int, float, str, int]


def test_state_accepts_a_dict_or_pairs() -> None:
    assert State({"a": 1}) == State((("a", 1),))


def test_unknown_enum_values_from_a_newer_peer_become_unknown() -> None:
    back = decode(encode(Notice(kind=99, message="from the future")))  # type: ignore[arg-type]
    assert isinstance(back, Notice) and back.kind is NoticeKind.UNKNOWN
    err = decode(encode(ErrorMsg(code=999)))  # type: ignore[arg-type]
    assert isinstance(err, ErrorMsg) and err.code is ErrorCode.UNKNOWN


@pytest.mark.parametrize(("msg", "field"), [
    (FrameHeader(frame_id=-1, width=4, height=2, stride=16, pixel_format=PixelFormat.RGBA8), "Frame.frame_id"),
    (FrameHeader(frame_id=1, width=2**32, height=2, stride=16, pixel_format=PixelFormat.RGBA8), "Frame.width"),
    (Params(t_index_list=(2**40,)), "Params.t_index_list"),
    (Params(seed=-5), "Params.seed"),
    (Bye(reason=3), "Bye"),  # type: ignore[arg-type]
])
def test_encode_refuses_values_that_do_not_fit_naming_the_field(msg: object, field: str) -> None:
    with pytest.raises(ProtocolError) as info:
        encode(msg)  # type: ignore[arg-type]
    assert isinstance(info.value, BridgeError)
    assert info.value.code in (ErrorCode.BAD_PARAM, ErrorCode.BAD_MESSAGE)
    assert field.split(".")[0] in str(info.value)


def test_encode_refuses_unknown_objects_and_value_types() -> None:
    with pytest.raises(ProtocolError) as info:
        encode("hello")  # type: ignore[arg-type]
    assert info.value.code == ErrorCode.UNKNOWN_TYPE
    with pytest.raises(ProtocolError) as info:
        encode(GameEvent("x", {"bad": [1, 2]}))  # type: ignore[dict-item]
    assert info.value.code == ErrorCode.BAD_PARAM and "'bad'" in str(info.value)


def _header(**kw: object) -> FrameHeader:
    base: dict[str, object] = {"frame_id": 1, "width": 4, "height": 2, "stride": 16,
                               "pixel_format": PixelFormat.RGBA8}
    base.update(kw)
    return FrameHeader(**base)  # type: ignore[arg-type]


def test_expected_pixel_bytes_uses_stride() -> None:
    assert expected_pixel_bytes(_header()) == 32
    assert expected_pixel_bytes(_header(pixel_format=PixelFormat.RGB8, stride=12)) == 24
    assert expected_pixel_bytes(_header(pixel_format=PixelFormat.RGB8, stride=16)) == 32


@pytest.mark.parametrize(("kw", "code", "words"), [
    ({"width": 0}, ErrorCode.BAD_DIMENSION, "Frame.width=0"),
    ({"height": 0}, ErrorCode.BAD_DIMENSION, "Frame.height=0"),
    ({"width": 4097}, ErrorCode.TOO_LARGE, "limit 4096"),
    ({"stride": 15}, ErrorCode.BAD_PIXEL_SIZE, "stride >= 16"),
    ({"pixel_format": PixelFormat.UNKNOWN}, ErrorCode.UNSUPPORTED_PIXEL_FORMAT, "RGBA8"),
    ({"row_order": RowOrder.UNKNOWN}, ErrorCode.BAD_PARAM, "Frame.row_order"),
    ({"color_space": ColorSpace.UNKNOWN}, ErrorCode.BAD_PARAM, "Frame.color_space"),
    ({"alpha_mode": AlphaMode.UNKNOWN}, ErrorCode.BAD_PARAM, "Frame.alpha_mode"),
    ({"stride": 10**6, "height": 1000}, ErrorCode.TOO_LARGE, "max_message_bytes"),
])
def test_validate_image_header_names_field_and_limit(kw: dict[str, object], code: ErrorCode, words: str) -> None:
    limits = DecodeLimits(max_width=4096, max_height=4096, max_message_bytes=64 << 20)
    with pytest.raises(ProtocolError) as info:
        validate_image_header(_header(**kw), limits)
    assert info.value.code == code
    assert words in str(info.value)


def test_encode_frame_sends_numpy_pixels_without_copying() -> None:
    img = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    header_part, pixel_part = encode_frame(_header(), img)
    assert isinstance(pixel_part, memoryview) and pixel_part.obj is img
    msg, pixels = decode_multipart([header_part, pixel_part])
    assert msg == _header() and pixels is not None
    assert np.array_equal(np.frombuffer(pixels, np.uint8).reshape(2, 4, 4), img)


def test_encode_frame_refuses_wrong_size_and_non_contiguous_pixels() -> None:
    with pytest.raises(ProtocolError) as info:
        encode_frame(_header(), bytes(31))
    assert info.value.code == ErrorCode.BAD_PIXEL_SIZE and "31" in str(info.value) and "32" in str(info.value)
    strided = np.zeros((2, 8, 4), np.uint8)[:, ::2]
    with pytest.raises(ProtocolError) as info:
        encode_frame(_header(), strided)
    assert info.value.code == ErrorCode.BAD_PIXEL_SIZE and "contiguous" in str(info.value)


def test_result_header_round_trips_as_multipart() -> None:
    res = ResultHeader(frame_id=9, width=4, height=2, stride=12, pixel_format=PixelFormat.RGB8,
                       inference_us=1234, skipped=True, credits_granted=2)
    msg, pixels = decode_multipart(encode_frame(res, bytearray(24)))
    assert msg == res and pixels is not None and pixels.nbytes == 24


def test_decode_accepts_zmq_frames() -> None:
    zmq = pytest.importorskip("zmq")
    parts = encode_frame(_header(), bytes(32))
    msg, pixels = decode_multipart([zmq.Frame(bytes(p)) for p in parts])
    assert msg == _header() and pixels is not None and pixels.nbytes == 32


def _importers(module: str) -> list[str]:
    from pathlib import Path

    pkg = Path(codec.__file__).resolve().parents[1]
    pattern = re.compile(rf"^\s*(from|import)\s+[\w.]*{module}\b|^\s*from\s+[\w.]+\s+import\s+.*\b{module}\b", re.M)
    return sorted(
        str(p.relative_to(pkg)) for p in pkg.rglob("*.py")
        if "_generated" not in p.parts and pattern.search(p.read_text(encoding="utf-8"))
    )


def test_codec_is_the_only_package_module_importing_flatc_code() -> None:
    assert _importers("bridge_generated") == ["protocol/codec.py"]


def test_only_the_protocol_package_imports_the_generated_schema_mirror() -> None:
    assert _importers("bridge_schema") == ["protocol/_frame_planes.py", "protocol/_scalar.py", "protocol/_verify.py",
                                           "protocol/codec.py",
                                           "protocol/messages.py",
                                           "protocol/version.py"]


def test_protocol_package_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = ("import sys; import sdbridge.protocol.codec, sdbridge.protocol.handshake; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
