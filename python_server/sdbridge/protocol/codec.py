"""Encode and decode wire messages: the only importer of the flatc-generated code (no torch here).

``encode(msg) -> bytes`` builds one Envelope FlatBuffer; ``decode(buf) -> msg`` verifies and reads one.
``encode_frame`` / ``decode_multipart`` handle the ZeroMQ multipart form (part 1 header, part 2 pixels
for Frame and Result). Every failure on input from the wire raises
:class:`sdbridge.errors.ProtocolError` whose ``code`` is an :class:`ErrorCode` and whose message names the
field and the limit; no other exception escapes ``decode``. The message dataclasses (Hello, Welcome,
ErrorMsg, FrameHeader, ResultHeader, Prompt, Params, GameEvent, State, StatsRequest, Stats, Bye, Notice,
Credit, Ping, Pong, StyleImage) and their Enums live in :mod:`sdbridge.protocol.messages`.

Canonical encoding (what schemas/golden/ holds and the C# / C++ clients reproduce): in each table, first
create the strings, vectors and sub-tables in field-id order (depth first; empty strings and empty
vectors are not written), then start the table and add its fields sorted by size, largest first
(8-byte scalars, then 4-byte scalars and offsets, then 2, then 1), ties in DESCENDING field id, with
default values not written (ForceDefaults off). This is the order of flatc's generated ``CreateX``
helpers and of ``flatc -b`` from JSON. Scalar-only messages (Frame, Result, Stats, Credit, Ping, Pong)
take a struct-based fast path (``_scalar``) that produces the same bytes several times faster than the Builder
(docs/benchmarks.md, "Message headers", has the figures and the command). A Frame with planes takes
``_frame_planes``, the same approach extended to its PlaneDesc tables, and its descriptions, accepted once under
the same limits, are reused when they come again (a stream sends the same ones every frame); ``decode_verified`` is
the full verifier's path every fast path is tested against.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import flatbuffers

from sdbridge.config import LimitsConfig
from sdbridge.errors import FieldError, ProtocolError
from sdbridge.protocol import _frame_planes, _known, _scalar, _verify
from sdbridge.protocol._generated import bridge_generated as fb
from sdbridge.protocol._generated import bridge_schema
from sdbridge.protocol._generated.bridge_schema import TABLES
from sdbridge.protocol.messages import (
    MESSAGE_TYPES,
    AdapterWeight,
    AlphaMode,
    BlendMethod,
    Bye,
    Capability,
    ColorSpace,
    DepthEncoding,
    ErrorCode,
    ErrorMsg,
    FrameHeader,
    GameEvent,
    Hello,
    ImageHeader,
    Message,
    MessageType,
    ModelFamily,
    ModelInfo,
    MotionTarget,
    MotionUnits,
    NormalEncoding,
    NormalSpace,
    Notice,
    NoticeKind,
    Pairs,
    Params,
    ParamsField,
    PixelFormat,
    PlaneDesc,
    PlaneFormat,
    PlaneKind,
    Prompt,
    PromptWeight,
    ResultHeader,
    RowOrder,
    SeedWeight,
    State,
    StyleImage,
    Value,
    ValueKind,
    Welcome,
)
from sdbridge.protocol.style_check import validate_style_image
from sdbridge.protocol.version import FILE_IDENTIFIER

__all__ = [
    "DEFAULT_LIMITS",
    "DecodeLimits",
    "decode",
    "decode_multipart",
    "encode",
    "encode_frame",
    "encode_style_image",
    "expected_pixel_bytes",
    "plane_parts",
    "validate_image_header",
    "validate_planes",
]

_E = TypeVar("_E", bound=enum.IntEnum)


@dataclasses.dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Limits checked while decoding, before anything is allocated for a frame.

    The defaults equal sdbridge.config.LimitsConfig's; the server passes its configured values.
    """

    max_width: int = 2048
    max_height: int = 2048
    max_message_bytes: int = 2048 * 2048 * 4 + 4096  # largest ZeroMQ part (pixels)
    max_text_chars: int = 4096  # longest string field (prompts, names, keys)
    max_header_bytes: int = 256 * 1024  # largest FlatBuffer part (every message; headers are ~100 bytes)
    max_list_items: int = 1024  # longest list (blend, t_index_list, event payload, state entries)
    max_planes: int = LimitsConfig.max_planes  # Frame.planes entries (protocol 1.3), one ZeroMQ part each

    @property
    def header_limit(self) -> int:
        """The largest FlatBuffer message accepted: max_header_bytes, or max_message_bytes where that is lower."""
        return min(self.max_header_bytes, self.max_message_bytes)


DEFAULT_LIMITS = DecodeLimits()


# ------------------------------------------------------------------------------------------ encode

_AddFn = Callable[[flatbuffers.Builder, Any], None]


def _camel(name: str) -> str:
    """flatc's accessor spelling of a field name: t_index_list -> TIndexList."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


class _TableSpec:
    """flatc's Start/End/Add functions of one table, its fields in the canonical add order (size desc, id desc)."""

    __slots__ = ("end", "fields", "names", "start")

    def __init__(self, name: str) -> None:
        self.start: Callable[[flatbuffers.Builder], None] = getattr(fb, f"{name}Start")
        self.end: Callable[[flatbuffers.Builder], int] = getattr(fb, f"{name}End")
        fields = [f for f in TABLES[name] if f[2] != "union"]
        # bytes in the table: a scalar's size, 4 for an offset (string, vector, table)
        ordered = sorted(fields, key=lambda f: (-(f[3] if f[2] == "scalar" else 4), -f[0]))
        self.fields: tuple[tuple[str, _AddFn], ...] = tuple(
            (f[1], getattr(fb, f"{name}Add{_camel(f[1])}")) for f in ordered)
        self.names = frozenset(f[1] for f in fields)


#: every table of bridge.fbs but the Envelope root, from the generated bridge_schema.TABLES
_SPECS: dict[str, _TableSpec] = {name: _TableSpec(name) for name in TABLES if name != "Envelope"}


def _table(b: flatbuffers.Builder, name: str, values: Mapping[str, Any]) -> int:
    """Start table ``name``, add the fields in ``values`` in the canonical order, end it.

    Sizes, ids and the flatc Add functions come from the schema, so no list here repeats them. A field
    missing from ``values`` is not written (as a default value is not); a name that is no field of the
    table is a bug in this module and raises KeyError.
    """
    spec = _SPECS[name]
    if not spec.names.issuperset(values):
        raise KeyError(f"{name} has no field(s) {sorted(set(values) - spec.names)}")
    spec.start(b)
    for field, add in spec.fields:
        if field in values:
            value = values[field]
            try:
                add(b, value)
            except (struct.error, OverflowError, TypeError, ValueError) as exc:
                raise ProtocolError(
                    ErrorCode.BAD_PARAM,
                    f"cannot encode {name}.{field}={value!r}: it does not fit the wire type ({exc}); "
                    "pass a value in the field's range",
                ) from exc
    return spec.end(b)


def _scalar_table(name: str) -> Callable[[flatbuffers.Builder, Any], int]:
    """Encoder of a scalar-only table: every schema field is read from the message attribute of that name."""
    names = tuple(f[1] for f in TABLES[name])

    def encode_table(b: flatbuffers.Builder, m: Any) -> int:
        return _table(b, name, {field: getattr(m, field) for field in names})

    return encode_table


def _string(b: flatbuffers.Builder, text: str) -> int:
    return b.CreateString(text) if text else 0


def _scalar_vector(b: flatbuffers.Builder, start: Callable[[flatbuffers.Builder, int], None],
                   prepend: Callable[[Any], None], values: Sequence[int], field: str) -> int:
    if not values:
        return 0
    start(b, len(values))
    try:
        for v in reversed(values):
            prepend(v)
    except (struct.error, OverflowError, TypeError) as exc:
        raise ProtocolError(
            ErrorCode.BAD_PARAM, f"cannot encode {field}={list(values)!r}: an element is out of range ({exc})"
        ) from exc
    return b.EndVector()


def _offset_vector(b: flatbuffers.Builder, start: Callable[[flatbuffers.Builder, int], None],
                   offsets: Sequence[int]) -> int:
    if not offsets:
        return 0
    start(b, len(offsets))
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _enc_keyvalue(b: flatbuffers.Builder, key: str, value: Value) -> int:
    key_off = _string(b, key)
    kind: ValueKind
    bool_v, int_v, float_v, str_off = False, 0, 0.0, 0
    if isinstance(value, bool):
        kind, bool_v = ValueKind.BOOL, value
    elif isinstance(value, int):
        kind, int_v = ValueKind.INT, value
    elif isinstance(value, float):
        kind, float_v = ValueKind.FLOAT, value
    elif isinstance(value, str):
        kind = ValueKind.STRING
        str_off = _string(b, value)
    else:
        raise ProtocolError(
            ErrorCode.BAD_PARAM,
            f"KeyValue {key!r} has a {type(value).__name__} value; allowed: bool, int, float, str",
        )
    return _table(b, "KeyValue", {"key": key_off, "kind": int(kind), "bool_value": bool_v, "int_value": int_v,
                                  "float_value": float_v, "string_value": str_off})


def _enc_pairs(b: flatbuffers.Builder, pairs: Pairs) -> list[int]:
    return [_enc_keyvalue(b, k, v) for k, v in pairs]


def _enc_hello(b: flatbuffers.Builder, m: Hello) -> int:
    name, version = _string(b, m.client_name), _string(b, m.client_version)
    engine, engine_version = _string(b, m.engine_name), _string(b, m.engine_version)
    formats = _scalar_vector(b, fb.HelloStartPixelFormatsVector, b.PrependUint8,
                             [int(f) for f in m.pixel_formats], "Hello.pixel_formats")
    return _table(b, "Hello", {
        "protocol_major": m.protocol_major, "protocol_minor": m.protocol_minor, "client_name": name,
        "client_version": version, "engine_name": engine, "engine_version": engine_version,
        "capabilities": int(m.capabilities), "pixel_formats": formats,
    })


def _enc_model(b: flatbuffers.Builder, m: ModelInfo | None) -> int:
    if m is None:
        return 0
    name = _string(b, m.name)
    return _table(b, "ModelInfo", {"name": name, "family": int(m.family), "width": m.width, "height": m.height})


def _enc_welcome(b: flatbuffers.Builder, m: Welcome) -> int:
    server_version = _string(b, m.server_version)
    model = _enc_model(b, m.model)
    formats = _scalar_vector(b, fb.WelcomeStartPixelFormatsVector, b.PrependUint8,
                             [int(f) for f in m.pixel_formats], "Welcome.pixel_formats")
    warning = _string(b, m.warning)
    wanted = _scalar_vector(b, fb.WelcomeStartWantedPlanesVector, b.PrependUint8,
                            [int(k) for k in m.wanted_planes], "Welcome.wanted_planes")
    return _table(b, "Welcome", {
        "session_id": m.session_id, "protocol_major": m.protocol_major, "protocol_minor": m.protocol_minor,
        "server_version": server_version, "capabilities": int(m.capabilities), "initial_credits": m.initial_credits,
        "max_width": m.max_width, "max_height": m.max_height, "max_message_bytes": m.max_message_bytes,
        "latency_frames": m.latency_frames, "model": model, "heartbeat_interval_ms": m.heartbeat_interval_ms,
        "pixel_formats": formats, "warning": warning, "sessions_open": m.sessions_open,
        "sessions_max": m.sessions_max, "wanted_planes": wanted,
    })


def _enc_error(b: flatbuffers.Builder, m: ErrorMsg) -> int:
    message, field = _string(b, m.message), _string(b, m.field)
    return _table(b, "Error", {
        "code": int(m.code), "message": message, "field": field, "frame_id": m.frame_id or 0,
        "has_frame_id": m.frame_id is not None, "session_closed": m.session_closed,
    })


def _enc_prompt(b: flatbuffers.Builder, m: Prompt) -> int:
    text, negative = _string(b, m.text), _string(b, m.negative)
    weights = []
    for w in m.blend:
        w_text = _string(b, w.text)
        weights.append(_table(b, "PromptWeight", {"text": w_text, "weight": w.weight}))
    blend = _offset_vector(b, fb.PromptStartBlendVector, weights)
    return _table(b, "Prompt", {
        "text": text, "negative": negative, "blend": blend, "transition_frames": m.transition_frames,
        "transition_seconds": m.transition_seconds, "method": int(m.method), "stream_id": m.stream_id,
    })


#: Params' vectors of AdapterWeight (name, value) tables, in field-id order (their creation order)
_ADAPTER_FIELDS: tuple[str, ...] = tuple(f[1] for f in TABLES["Params"] if f[2] == "tables" and f[5] == "AdapterWeight")
#: Params' scalar fields but set_mask and stream_id (which every Params carries), from the schema's layout: (field,
#: flatc accessor, struct format, enum class of an enum field or None, ParamsField bit). Numbers, bools and enums
#: alike: a scalar field added to the schema needs no edit here (see _params_wire and _params_value)
_PARAMS_SCALARS: tuple[tuple[str, str, str, type[enum.IntEnum] | None, ParamsField], ...] = tuple(
    (f[1], _camel(f[1]), f[4], getattr(bridge_schema, f[5]) if f[5] else None, ParamsField[f[1].upper()])
    for f in TABLES["Params"] if f[2] == "scalar" and f[1] not in ("set_mask", "stream_id"))


def _params_wire(value: Any, fmt: str, enum_cls: type[enum.IntEnum] | None) -> Any:
    """A Params scalar's wire value: None (not set) becomes the wire default (0, False, Unknown = 0), not written."""
    if fmt == "?":
        return bool(value)
    return int(value or 0) if enum_cls is not None else value or 0


def _params_value(raw: Any, fmt: str, enum_cls: type[enum.IntEnum] | None) -> Any:
    """A Params scalar read from the wire: a bool, an enum member (a number this build does not know stays the
    number, so the refusal can name it) or the number."""
    if enum_cls is not None:
        return _enum_or_raw(enum_cls, raw)
    return bool(raw) if fmt == "?" else raw


def _enc_adapters(b: flatbuffers.Builder, field: str, entries: Sequence[AdapterWeight] | None) -> int:
    """A Params vector of AdapterWeight tables: each table after its name string, then the vector (0 if empty)."""
    tables = [_table(b, "AdapterWeight", {"name": _string(b, a.name), "weight": a.weight}) for a in entries or ()]
    return _offset_vector(b, getattr(fb, f"ParamsStart{_camel(field)}Vector"), tables)


def _enc_params(b: flatbuffers.Builder, m: Params) -> int:
    t_index = _scalar_vector(b, fb.ParamsStartTIndexListVector, b.PrependInt32,
                             list(m.t_index_list or ()), "Params.t_index_list")
    seeds = [_table(b, "SeedWeight", {"seed": s.seed, "weight": s.weight}) for s in m.seed_blend or ()]
    seed_blend = _offset_vector(b, fb.ParamsStartSeedBlendVector, seeds)
    named = {field: _enc_adapters(b, field, getattr(m, field)) for field in _ADAPTER_FIELDS}
    return _table(b, "Params", {
        "set_mask": int(m.set_mask), "t_index_list": t_index, "seed_blend": seed_blend, "stream_id": m.stream_id,
        **named, **{field: _params_wire(getattr(m, field), fmt, cls) for field, _, fmt, cls, _ in _PARAMS_SCALARS},
    })


#: PlaneDesc's scalar fields in id order (the order of _frame_planes.plane_values)
_PLANE_SCALARS: tuple[str, ...] = tuple(f[1] for f in TABLES["PlaneDesc"] if f[2] == "scalar")


def _enc_plane(b: flatbuffers.Builder, p: PlaneDesc) -> int:
    name = _string(b, p.name)
    values: dict[str, Any] = dict(zip(_PLANE_SCALARS, _frame_planes.plane_values(p), strict=True))
    values["name"] = name
    return _table(b, "PlaneDesc", values)


#: Frame's scalar fields (every field but planes), in id order
_FRAME_SCALARS: tuple[str, ...] = tuple(f[1] for f in TABLES["Frame"] if f[2] == "scalar")


def _enc_frame(b: flatbuffers.Builder, m: FrameHeader) -> int:
    """A Frame with planes (protocol 1.3); ``encode`` takes the scalar fast path for one without."""
    planes = _offset_vector(b, fb.FrameStartPlanesVector, [_enc_plane(b, p) for p in m.planes])
    values: dict[str, Any] = {field: getattr(m, field) for field in _FRAME_SCALARS}
    values["planes"] = planes
    return _table(b, "Frame", values)


def _enc_game_event(b: flatbuffers.Builder, m: GameEvent) -> int:
    name = _string(b, m.name)
    payload = _offset_vector(b, fb.GameEventStartPayloadVector, _enc_pairs(b, m.payload))
    return _table(b, "GameEvent", {"name": name, "payload": payload, "client_time_us": m.client_time_us,
                                   "frame_id": m.frame_id})


def _enc_state(b: flatbuffers.Builder, m: State) -> int:
    entries = _offset_vector(b, fb.StateStartEntriesVector, _enc_pairs(b, m.entries))
    return _table(b, "State", {"entries": entries, "replace_all": m.replace_all, "client_time_us": m.client_time_us})


def _enc_bye(b: flatbuffers.Builder, m: Bye) -> int:
    return _table(b, "Bye", {"reason": _string(b, m.reason)})


def _enc_notice(b: flatbuffers.Builder, m: Notice) -> int:
    message, source = _string(b, m.message), _string(b, m.source)
    prompt = _enc_prompt(b, m.prompt) if m.prompt is not None else 0
    params = _enc_params(b, m.params) if m.params is not None else 0
    preview_url = _string(b, m.preview_url)
    wanted = _scalar_vector(b, fb.NoticeStartWantedPlanesVector, b.PrependUint8,
                            [int(k) for k in m.wanted_planes], "Notice.wanted_planes")
    return _table(b, "Notice", {"kind": int(m.kind), "message": message, "source": source, "prompt": prompt,
                                "params": params, "preview_url": preview_url, "wanted_planes": wanted})


def _enc_style_image(b: flatbuffers.Builder, m: StyleImage) -> int:
    name = _string(b, m.name)
    return _table(b, "StyleImage", {"name": name, "width": m.width, "height": m.height, "stride": m.stride,
                                    "format": int(m.format), "row_order": int(m.row_order)})


#: union tag -> Builder encoder; the scalar-only tables (Frame, Result, Stats, ...) are encoded field by field
#: from the schema (``encode`` takes the byte-identical struct fast path for them).
_ENCODERS: dict[MessageType, Callable[[flatbuffers.Builder, Any], int]] = {
    MessageType.HELLO: _enc_hello,
    MessageType.WELCOME: _enc_welcome,
    MessageType.ERROR: _enc_error,
    MessageType.PROMPT: _enc_prompt,
    MessageType.PARAMS: _enc_params,
    MessageType.GAME_EVENT: _enc_game_event,
    MessageType.STATE: _enc_state,
    MessageType.BYE: _enc_bye,
    MessageType.NOTICE: _enc_notice,
    MessageType.STYLE_IMAGE: _enc_style_image,
    **{tag: _scalar_table(name) for tag, (name, _fields) in _scalar.SCALAR_TABLES.items()},
    MessageType.FRAME: _enc_frame,  # its planes (the scalar fast path serves a Frame without)
}


def encode(msg: Message) -> bytes:
    """Encode one message as an Envelope FlatBuffer (file identifier "SDB1").

    Raises ProtocolError(BAD_PARAM) if a value does not fit its wire type (e.g. a negative frame_id).
    """
    msg_type = MESSAGE_TYPES.get(type(msg))
    if msg_type is None:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE,
            f"cannot encode a {type(msg).__name__}; pass one of: {', '.join(t.__name__ for t in MESSAGE_TYPES)}",
        )
    if msg_type in _scalar.SPECS:
        if msg_type is MessageType.FRAME and msg.planes:  # type: ignore[union-attr]
            return _frame_planes.encode_frame_planes(msg, FILE_IDENTIFIER)
        return _scalar.encode_scalar(msg_type, msg, FILE_IDENTIFIER)
    return encode_with_builder(msg, msg_type)


def encode_with_builder(msg: Message, msg_type: MessageType) -> bytes:
    """Encode with flatbuffers.Builder (every type; ``encode`` uses a faster equivalent for scalar tables)."""
    b = flatbuffers.Builder(256)
    try:
        body = _ENCODERS[msg_type](b, msg)
    except ProtocolError:
        raise
    except (struct.error, OverflowError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(
            ErrorCode.BAD_PARAM,
            f"cannot encode {type(msg).__name__}: a field has the wrong type or range ({type(exc).__name__}: "
            f"{exc}); check the field types of {type(msg).__name__}",
        ) from exc
    fb.EnvelopeStart(b)
    fb.EnvelopeAddBody(b, body)
    fb.EnvelopeAddBodyType(b, int(msg_type))
    root = fb.EnvelopeEnd(b)
    b.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


# ------------------------------------------------------------------------------------------ pixels


_IMAGE_TYPES = (FrameHeader, ResultHeader)  # (a tuple: `A | B` would build a union object on every call)


def expected_pixel_bytes(header: ImageHeader) -> int:
    """Size of the pixel part of ``header``: stride x height (stride >= width x bytes per pixel)."""
    return header.stride * header.height


def validate_image_header(header: ImageHeader, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
    """Check dimensions, format and stride of a Frame/Result header against ``limits``.

    Raises ProtocolError naming the field and the limit; runs before any pixel buffer is allocated.
    """
    fmt, width, height, stride = header.pixel_format, header.width, header.height, header.stride
    if (0 < width <= limits.max_width and 0 < height <= limits.max_height and type(fmt) is PixelFormat
            and stride >= width * fmt.bytes_per_pixel > 0 and stride * height <= limits.max_message_bytes
            and type(header.row_order) is RowOrder and header.row_order
            and type(header.color_space) is ColorSpace and header.color_space
            and type(header.alpha_mode) is AlphaMode and header.alpha_mode):
        return  # valid (the usual case): the checks below say what is wrong otherwise
    kind = "Frame" if isinstance(header, FrameHeader) else "Result"
    for field, value, limit in (("width", header.width, limits.max_width),
                                ("height", header.height, limits.max_height)):
        if value <= 0:
            raise ProtocolError(ErrorCode.BAD_DIMENSION, f"{kind}.{field}={value} must be >= 1")
        if value > limit:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"{kind}.{field}={value} exceeds the server limit {limit} (limits.max_{field}); "
                "send a smaller image or raise the limit in the server config",
            )
    fmt = header.pixel_format
    if not isinstance(fmt, PixelFormat) or fmt is PixelFormat.UNKNOWN:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_PIXEL_FORMAT,
            f"{kind}.pixel_format={int(fmt)} is not supported; use RGBA8 (1), BGRA8 (2) or RGB8 (3)",
        )
    row_bytes = header.width * fmt.bytes_per_pixel
    if header.stride < row_bytes:
        raise ProtocolError(
            ErrorCode.BAD_PIXEL_SIZE,
            f"{kind}.stride={header.stride} is smaller than width x bytes per pixel = {header.width} x "
            f"{fmt.bytes_per_pixel} = {row_bytes}; set stride >= {row_bytes}",
        )
    if expected_pixel_bytes(header) > limits.max_message_bytes:
        raise ProtocolError(
            ErrorCode.TOO_LARGE,
            f"{kind}.stride x height = {header.stride} x {header.height} = {expected_pixel_bytes(header)} bytes "
            f"exceeds the message limit {limits.max_message_bytes} (limits.max_message_bytes)",
        )
    for field, value, enum_cls in (("row_order", header.row_order, RowOrder),
                                   ("color_space", header.color_space, ColorSpace),
                                   ("alpha_mode", header.alpha_mode, AlphaMode)):
        if not isinstance(value, enum_cls) or value == 0:
            names = ", ".join(f"{e.name} ({e.value})" for e in enum_cls if e.value)
            raise ProtocolError(ErrorCode.BAD_PARAM, f"{kind}.{field}={int(value)} is not valid; use {names}")


def validate_planes(header: FrameHeader, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
    """Check the count, dimensions and strides of a Frame's plane descriptions against ``limits``.

    Raises FieldError naming the plane's field (``Frame.planes[i].width``), the value and the limit. Their
    meaning (a depth plane's format, finite values) is the server's check: sdbridge.runtime.planes.
    """
    planes = header.planes
    if len(planes) > limits.max_planes:
        raise _field_error(ErrorCode.TOO_LARGE, "Frame.planes",
                         f"Frame.planes has {len(planes)} planes, more than the limit {limits.max_planes} "
                         "(limits.max_planes); send fewer planes per frame")
    for i, plane in enumerate(planes):
        where = f"Frame.planes[{i}]"
        for field, value, limit in (("width", plane.width, limits.max_width),
                                    ("height", plane.height, limits.max_height)):
            if value <= 0:
                raise _field_error(ErrorCode.BAD_DIMENSION, f"{where}.{field}", f"{where}.{field}={value} must be >= 1")
            if value > limit:
                raise _field_error(ErrorCode.TOO_LARGE, f"{where}.{field}",
                                 f"{where}.{field}={value} exceeds the server limit {limit} (limits.max_{field}); "
                                 "send a smaller plane")
        row_bytes = plane.width * PlaneFormat(plane.format).bytes_per_pixel
        if plane.stride < row_bytes:
            raise _field_error(ErrorCode.BAD_PIXEL_SIZE, f"{where}.stride",
                             f"{where}.stride={plane.stride} is smaller than width x bytes per pixel = {plane.width} "
                             f"x {PlaneFormat(plane.format).bytes_per_pixel} = {row_bytes} ({plane.format.name}); "
                             f"set stride >= {row_bytes}")
        if plane.nbytes > limits.max_message_bytes:
            raise _field_error(ErrorCode.TOO_LARGE, f"{where}.stride",
                             f"{where}: stride x height = {plane.stride} x {plane.height} = {plane.nbytes} bytes "
                             f"exceeds the part limit {limits.max_message_bytes} (limits.max_message_bytes)")


def plane_parts(parts: Sequence[Any]) -> tuple[memoryview, ...]:
    """The plane parts of a Frame's ZeroMQ parts (3rd on) as byte views, after ``decode_multipart`` accepted them."""
    return tuple(_as_bytes_view(part, f"plane part {i}") for i, part in enumerate(parts[2:]))


def _check_plane_parts(header: FrameHeader, planes: Sequence[memoryview]) -> None:
    """Each plane part has exactly its description's stride x height bytes."""
    for i, (plane, view) in enumerate(zip(header.planes, planes, strict=True)):
        if view.nbytes != plane.nbytes:
            raise _field_error(ErrorCode.BAD_PIXEL_SIZE, f"Frame.planes[{i}].stride",
                             f"plane part {i} ({plane.kind.name}) has {view.nbytes} bytes but Frame.planes[{i}] "
                             f"says stride x height = {plane.stride} x {plane.height} = {plane.nbytes} bytes")


def _as_bytes_view(data: Any, what: str) -> memoryview:
    try:
        view = memoryview(data)
    except TypeError as exc:
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, f"{what} is a {type(data).__name__}, not a bytes-like object"
        ) from exc
    if not view.c_contiguous:
        raise ProtocolError(
            ErrorCode.BAD_PIXEL_SIZE, f"{what} is not C-contiguous; pass a contiguous array (np.ascontiguousarray)"
        )
    return view.cast("B") if (view.format != "B" or view.ndim != 1) else view


def encode_frame(header: ImageHeader, pixels: Any, planes: Sequence[Any] = ()) -> list[bytes | memoryview]:
    """Encode a Frame or Result as ZeroMQ parts: [header FlatBuffer, pixels (zero-copy view), planes...].

    ``pixels`` is any C-contiguous bytes-like object (bytes, bytearray, numpy array) of exactly
    ``expected_pixel_bytes(header)`` bytes; ``planes`` (a Frame's, protocol 1.3) one such object per entry of
    ``header.planes``, each of exactly its stride x height bytes.
    """
    described = header.planes if isinstance(header, FrameHeader) else ()
    if len(planes) != len(described):
        raise _field_error(ErrorCode.BAD_PART_COUNT, "Frame.planes",
                         f"{len(planes)} plane buffers for {len(described)} entries of Frame.planes; pass one "
                         "buffer per description, in the same order")
    views = [_as_bytes_view(p, f"plane {i}") for i, p in enumerate(planes)]
    if views:
        assert isinstance(header, FrameHeader)
        _check_plane_parts(header, views)
    view = _as_bytes_view(pixels, "pixels")
    expected = expected_pixel_bytes(header)
    if view.nbytes != expected:
        raise ProtocolError(
            ErrorCode.BAD_PIXEL_SIZE,
            f"pixel part has {view.nbytes} bytes but stride x height = {header.stride} x {header.height} = "
            f"{expected}; pass exactly that many bytes",
        )
    return [encode(header), view, *views]


def encode_style_image(msg: StyleImage, pixels: Any) -> list[bytes | memoryview]:
    """Encode a StyleImage (protocol 1.4) as two ZeroMQ parts: [header FlatBuffer, pixels (zero-copy view)];
    ``pixels`` holds exactly stride x height bytes."""
    view = _as_bytes_view(pixels, "pixels")
    if view.nbytes != msg.nbytes:
        raise _field_error(ErrorCode.BAD_PIXEL_SIZE, "StyleImage.stride",
                           f"style image pixels have {view.nbytes} bytes but stride x height = {msg.stride} x "
                           f"{msg.height} = {msg.nbytes}; pass exactly that many bytes")
    return [encode(msg), view]


def _style_pixels(msg: StyleImage, views: Sequence[memoryview]) -> memoryview:
    """The pixel part of a decoded StyleImage: exactly one, of stride x height bytes."""
    if len(views) != 1:
        raise _field_error(ErrorCode.BAD_PART_COUNT, "StyleImage",
                           f"StyleImage needs 2 ZeroMQ parts (header, pixels) but came with {len(views) + 1}")
    if views[0].nbytes != msg.nbytes:
        raise _field_error(ErrorCode.BAD_PIXEL_SIZE, "StyleImage.stride",
                           f"style image pixel part has {views[0].nbytes} bytes but stride x height = {msg.stride} x "
                           f"{msg.height} = {msg.nbytes} bytes (width {msg.width}, {msg.format.name})")
    return views[0]


# ------------------------------------------------------------------------------------------ decode


def _enum(cls: type[_E], value: int) -> _E:
    """Map a wire value to ``cls``; values this build does not know (newer peer) become member 0."""
    members = _ENUM_MEMBERS.get(cls)
    if members is None:  # a dict lookup: Enum(raw) costs ~1.5 us (a plane has eight enums)
        members = _ENUM_MEMBERS[cls] = {e.value: e for e in cls}
    member = members.get(value)
    return member if member is not None else cls(0)  # type: ignore[no-any-return]


def _field_error(code: ErrorCode, field: str, message: str) -> FieldError:
    """A refusal naming `field` whose ``code`` stays the ErrorCode member (as every decode error's does)."""
    exc = FieldError(code, field, message)
    exc.code = code
    return exc


def _known_enum(cls: type[_E], value: int, field: str, code: ErrorCode) -> _E:
    """Map a wire value to ``cls``; 0 (unset) and values this build does not know are refused naming ``field``."""
    member = _enum(cls, value)
    if member == 0:
        valid = ", ".join(f"{e.name} ({e.value})" for e in cls if e.value)
        raise _field_error(code, field, f"{field}={value} is not valid; use {valid}")
    return member


def _enum_or_raw(cls: type[_E], value: int) -> _E | int:
    """Map a wire value to ``cls``; a value this build does not know stays the number (so a refusal can name it)."""
    try:
        return cls(value)
    except ValueError:
        return value


class _Reader:
    """Decodes the generated accessors into dataclasses, enforcing string limits.

    One reader decodes one message. Besides each string's own limit, the text a message unpacks to is bounded by
    the largest message accepted (limits.max_header_bytes, or max_message_bytes where that is lower), what a
    message without shared strings could carry at most: FlatBuffers lets many fields point at one string, so a
    37 KB message could otherwise unpack to megabytes (1024 keys sharing one 4 KiB value), all copied on the
    server's I/O thread.
    """

    def __init__(self, limits: DecodeLimits) -> None:
        self.limits = limits
        self.text_limit = limits.header_limit
        self.text_bytes = 0  # bytes of text unpacked so far from this message

    def text(self, raw: bytes | None, field: str) -> str:
        """The string `raw` of wire field `field` (e.g. "Prompt.text"), checked; a refusal is a FieldError naming
        the field, so the client's Error carries it."""
        if not raw:
            return ""
        self.text_bytes += len(raw)
        if len(raw) > 4 * self.limits.max_text_chars:  # no UTF-8 string this long fits the limit: not decoded
            raise _field_error(
                ErrorCode.TOO_LARGE, field,
                f"{field} is {len(raw)} bytes of UTF-8, more than {self.limits.max_text_chars} characters can take "
                f"(limits.max_text_chars, at most 4 bytes each); send at most {self.limits.max_text_chars} characters",
            )
        if self.text_bytes > self.text_limit:
            raise _field_error(
                ErrorCode.TOO_LARGE, field,
                f"{field}: the message unpacks to more than {self.text_limit} bytes of text (the message size "
                "limit, limits.max_header_bytes / max_message_bytes; its strings are shared or repeated); send less "
                "text per message",
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _field_error(ErrorCode.BAD_MESSAGE, field, f"{field} is not valid UTF-8 ({exc})") from exc
        if len(text) > self.limits.max_text_chars:
            raise _field_error(
                ErrorCode.TOO_LARGE, field,
                f"{field} has {len(text)} characters, more than the limit {self.limits.max_text_chars} "
                "(limits.max_text_chars)",
            )
        return text

    def pairs(self, get: Callable[[int], Any], count: int, field: str) -> Pairs:
        out: list[tuple[str, Value]] = []
        for i in range(count):
            kv = get(i)
            name = f"{field}[{i}]"
            key = self.text(kv.Key(), f"{name}.key")
            kind = kv.Kind()
            value: Value
            if kind == ValueKind.BOOL:
                value = bool(kv.BoolValue())
            elif kind == ValueKind.INT:
                value = int(kv.IntValue())
            elif kind == ValueKind.FLOAT:
                value = float(kv.FloatValue())
            elif kind == ValueKind.STRING:
                value = self.text(kv.StringValue(), f"{name}.string_value")
            else:
                raise ProtocolError(
                    ErrorCode.BAD_PARAM,
                    f"{name}.kind={kind} is not valid; use Bool (1), Int (2), Float (3), String (4)",
                )
            out.append((key, value))
        return tuple(out)

    def formats(self, table: Any) -> tuple[PixelFormat, ...]:
        return tuple(_enum(PixelFormat, table.PixelFormats(i)) for i in range(table.PixelFormatsLength()))

    def hello(self, t: Any) -> Hello:
        return Hello(
            protocol_major=t.ProtocolMajor(), protocol_minor=t.ProtocolMinor(),
            client_name=self.text(t.ClientName(), "Hello.client_name"),
            client_version=self.text(t.ClientVersion(), "Hello.client_version"),
            engine_name=self.text(t.EngineName(), "Hello.engine_name"),
            engine_version=self.text(t.EngineVersion(), "Hello.engine_version"),
            capabilities=Capability(t.Capabilities()), pixel_formats=self.formats(t),
        )

    def welcome(self, t: Any) -> Welcome:
        m = t.Model()
        model = None if m is None else ModelInfo(
            name=self.text(m.Name(), "Welcome.model.name"), family=_enum(ModelFamily, m.Family()),
            width=m.Width(), height=m.Height(),
        )
        return Welcome(
            session_id=t.SessionId(), protocol_major=t.ProtocolMajor(), protocol_minor=t.ProtocolMinor(),
            server_version=self.text(t.ServerVersion(), "Welcome.server_version"),
            capabilities=Capability(t.Capabilities()), initial_credits=t.InitialCredits(),
            max_width=t.MaxWidth(), max_height=t.MaxHeight(), max_message_bytes=t.MaxMessageBytes(),
            latency_frames=t.LatencyFrames(), model=model, heartbeat_interval_ms=t.HeartbeatIntervalMs(),
            pixel_formats=self.formats(t), warning=self.text(t.Warning(), "Welcome.warning"),
            sessions_open=t.SessionsOpen(), sessions_max=t.SessionsMax(),
            wanted_planes=_plane_kinds(t.WantedPlanes, t.WantedPlanesLength()),
        )

    def error(self, t: Any) -> ErrorMsg:
        return ErrorMsg(
            code=_enum(ErrorCode, t.Code()), message=self.text(t.Message(), "Error.message"),
            field=self.text(t.Field(), "Error.field"), frame_id=t.FrameId() if t.HasFrameId() else None,
            session_closed=bool(t.SessionClosed()),
        )

    def prompt(self, t: Any, where: str = "Prompt") -> Prompt:
        blend = tuple(
            PromptWeight(text=self.text(t.Blend(i).Text(), f"{where}.blend[{i}].text"), weight=t.Blend(i).Weight())
            for i in range(t.BlendLength())
        )
        return Prompt(
            text=self.text(t.Text(), f"{where}.text"), negative=self.text(t.Negative(), f"{where}.negative"),
            blend=blend, transition_frames=t.TransitionFrames(), transition_seconds=t.TransitionSeconds(),
            method=_enum(BlendMethod, t.Method()), stream_id=t.StreamId(),
        )

    def adapter_weights(self, t: Any, field: str) -> tuple[AdapterWeight, ...]:
        """A Params vector of (name, weight) tables: lora_weights, controlnet_scale/start/end, style_blend."""
        get, count = getattr(t, _camel(field)), getattr(t, f"{_camel(field)}Length")()
        return tuple(AdapterWeight(name=self.text(get(i).Name(), f"Params.{field}[{i}].name"), weight=get(i).Weight())
                     for i in range(count))

    def params(self, t: Any) -> Params:
        mask = ParamsField(t.SetMask())

        def has(bit: ParamsField) -> bool:
            return bool(mask & bit)

        return Params(
            t_index_list=(tuple(t.TIndexList(i) for i in range(t.TIndexListLength()))
                          if has(ParamsField.T_INDEX_LIST) else None),
            seed_blend=(tuple(SeedWeight(seed=t.SeedBlend(i).Seed(), weight=t.SeedBlend(i).Weight())
                              for i in range(t.SeedBlendLength()))
                        if has(ParamsField.SEED_BLEND) else None),
            stream_id=t.StreamId(),
            **{field: self.adapter_weights(t, field) for field in _ADAPTER_FIELDS if has(ParamsField[field.upper()])},
            **{field: _params_value(getattr(t, accessor)(), fmt, cls)
               for field, accessor, fmt, cls, bit in _PARAMS_SCALARS if has(bit)},
        )

    def plane(self, values: Sequence[Any], name: bytes | None, where: str) -> PlaneDesc:
        """One Frame.planes entry from its scalar values (PlaneDesc id order) and name bytes; an unknown kind,
        format or row order is refused naming the field."""
        (kind, fmt, width, height, stride, row_order, depth_encoding, reversed_z, depth_near, depth_far,
         normal_space, normal_encoding, motion_units, motion_target, motion_y_up) = values
        return PlaneDesc(
            kind=_known_enum(PlaneKind, kind, f"{where}.kind", ErrorCode.BAD_PARAM),
            format=_known_enum(PlaneFormat, fmt, f"{where}.format", ErrorCode.UNSUPPORTED_PIXEL_FORMAT),
            width=width, height=height, stride=stride,
            row_order=_known_enum(RowOrder, row_order, f"{where}.row_order", ErrorCode.BAD_PARAM),
            depth_encoding=_enum(DepthEncoding, depth_encoding), reversed_z=bool(reversed_z),
            depth_near=depth_near, depth_far=depth_far, normal_space=_enum(NormalSpace, normal_space),
            normal_encoding=_enum(NormalEncoding, normal_encoding),
            motion_units=_enum(MotionUnits, motion_units), motion_target=_enum(MotionTarget, motion_target),
            motion_y_up=bool(motion_y_up), name=self.text(name, f"{where}.name"),
        )

    def frame(self, t: Any) -> FrameHeader:
        """A Frame with planes read by the flatc accessors (after the verifier): see ``frame_from_values``."""
        count = t.PlanesLength()
        by_name = {name: getattr(t, _camel(name))() for name in _FRAME_SCALARS}
        planes = tuple((tuple(getattr(p, _camel(f))() for f in _PLANE_SCALARS), p.Name())
                       for p in (t.Planes(i) for i in range(count)))
        return self.frame_from_values(tuple(by_name[n] for n in _FRAME_CLASS_FIELDS), planes)

    def frame_from_values(self, values: tuple[Any, ...],
                          planes: Sequence[_frame_planes.RawPlane]) -> FrameHeader:
        """A Frame with planes (one without takes the scalar fast path) from its scalar values (FrameHeader's
        order) and raw planes ((PlaneDesc scalar values, name bytes), as _frame_planes reads them)."""
        if len(planes) > self.limits.max_planes:
            raise _field_error(ErrorCode.TOO_LARGE, "Frame.planes",
                             f"Frame.planes has {len(planes)} planes, more than the limit {self.limits.max_planes} "
                             "(limits.max_planes); send fewer planes per frame")
        header = _from_scalars(MessageType.FRAME, values, self.limits)
        assert isinstance(header, FrameHeader)
        key = (tuple(planes), self.limits)
        described = _PLANES_SEEN.get(key)  # a stream sends the same descriptions every frame
        if described is None:
            header.planes = tuple(self.plane(v, name, f"Frame.planes[{i}]") for i, (v, name) in enumerate(planes))
            validate_planes(header, self.limits)
            if len(_PLANES_SEEN) >= _MAX_PLANES_SEEN:
                _PLANES_SEEN.clear()
            _PLANES_SEEN[key] = header.planes  # only accepted ones: a refused description raises above
        else:
            header.planes = described
        return header

    def game_event(self, t: Any) -> GameEvent:
        return GameEvent(
            name=self.text(t.Name(), "GameEvent.name"),
            payload=self.pairs(t.Payload, t.PayloadLength(), "GameEvent.payload"),
            client_time_us=t.ClientTimeUs(), frame_id=t.FrameId(),
        )

    def state(self, t: Any) -> State:
        return State(
            entries=self.pairs(t.Entries, t.EntriesLength(), "State.entries"),
            replace_all=bool(t.ReplaceAll()), client_time_us=t.ClientTimeUs(),
        )

    def bye(self, t: Any) -> Bye:
        return Bye(reason=self.text(t.Reason(), "Bye.reason"))

    def notice(self, t: Any) -> Notice:
        p, q = t.Prompt(), t.Params()
        return Notice(
            kind=_enum(NoticeKind, t.Kind()), message=self.text(t.Message(), "Notice.message"),
            source=self.text(t.Source(), "Notice.source"),
            preview_url=self.text(t.PreviewUrl(), "Notice.preview_url"),
            prompt=None if p is None else self.prompt(p, "Notice.prompt"),
            params=None if q is None else self.params(q),
            wanted_planes=_plane_kinds(t.WantedPlanes, t.WantedPlanesLength()),
        )

    def style_image(self, t: Any) -> StyleImage:
        """A StyleImage header (protocol 1.4), refused naming the field when outside the limits."""
        msg = StyleImage(
            name=self.text(t.Name(), "StyleImage.name"), width=t.Width(), height=t.Height(), stride=t.Stride(),
            format=_enum_or_raw(PixelFormat, t.Format()),  # type: ignore[arg-type]  # refused below if unknown
            row_order=_enum_or_raw(RowOrder, t.RowOrder()),  # type: ignore[arg-type]
        )
        validate_style_image(msg, self.limits)
        return msg


def _plane_kinds(get: Callable[[int], int], count: int) -> tuple[PlaneKind, ...]:
    """Welcome/Notice.wanted_planes (protocol 1.4); a kind this build does not know (a newer server's) is left out."""
    return tuple(PlaneKind(v) for v in (get(i) for i in range(count)) if v in _PLANE_KIND_VALUES)


_PLANE_KIND_VALUES = frozenset(k.value for k in PlaneKind if k.value)


#: union tag -> (generated table class, _Reader method name) for messages with strings, vectors or sub-tables;
#: the scalar-only ones (Frame, Result, Stats, ...) are read by _scalar.read_scalar.
_DECODERS: dict[MessageType, tuple[type, str]] = {
    MessageType.HELLO: (fb.Hello, "hello"),
    MessageType.WELCOME: (fb.Welcome, "welcome"),
    MessageType.ERROR: (fb.Error, "error"),
    MessageType.PROMPT: (fb.Prompt, "prompt"),
    MessageType.PARAMS: (fb.Params, "params"),
    MessageType.GAME_EVENT: (fb.GameEvent, "game_event"),
    MessageType.STATE: (fb.State, "state"),
    MessageType.BYE: (fb.Bye, "bye"),
    MessageType.NOTICE: (fb.Notice, "notice"),
    MessageType.FRAME: (fb.Frame, "frame"),  # with planes (read_scalar reads one without)
    MessageType.STYLE_IMAGE: (fb.StyleImage, "style_image"),
}

#: FrameHeader's wire fields in its constructor's order (planes, last, is set after)
_FRAME_CLASS_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(FrameHeader) if f.name != "planes")


_IMAGE_ENUMS: tuple[tuple[str, type[enum.IntEnum]], ...] = (
    ("pixel_format", PixelFormat), ("row_order", RowOrder), ("color_space", ColorSpace), ("alpha_mode", AlphaMode),
)
_ENUM_MEMBERS: dict[type, dict[int, Any]] = {cls: {e.value: e for e in cls} for _, cls in _IMAGE_ENUMS}
#: (raw planes as _frame_planes reads them, limits) -> their accepted PlaneDescs (immutable): converted and
#: checked once per distinct description (8 enums and the size checks: ~9 of a plane header's ~30 us here)
_PLANES_SEEN: dict[tuple[Any, ...], tuple[PlaneDesc, ...]] = {}
_MAX_PLANES_SEEN = 64
#: (position among the image header's fields, field name, enum class) of its enum fields
_IMAGE_ENUM_AT: tuple[tuple[int, str, type[enum.IntEnum]], ...] = tuple(
    ([f.name for f in dataclasses.fields(FrameHeader)].index(name), name, cls) for name, cls in _IMAGE_ENUMS
)


def _from_scalars(msg_type: MessageType, values: tuple[Any, ...], limits: DecodeLimits) -> Message:
    """Build the dataclass of a scalar-only message from its values in field order; image headers are
    validated against ``limits``."""
    cls = _scalar.CLASSES[msg_type]
    if msg_type is MessageType.FRAME or msg_type is MessageType.RESULT:
        fields = list(values)
        for at, field, enum_cls in _IMAGE_ENUM_AT:
            member = _ENUM_MEMBERS[enum_cls].get(fields[at])  # a dict lookup: Enum(raw) costs ~1.5 us
            if member is None:
                kind = "Frame" if msg_type is MessageType.FRAME else "Result"
                valid = ", ".join(f"{e.name} ({e.value})" for e in enum_cls if e.value)
                code = ErrorCode.UNSUPPORTED_PIXEL_FORMAT if enum_cls is PixelFormat else ErrorCode.BAD_PARAM
                raise ProtocolError(code, f"{kind}.{field}={fields[at]} is not valid; use {valid}")
            fields[at] = member
        header = cls(*fields)
        validate_image_header(header, limits)
        return header  # type: ignore[no-any-return]
    return cls(*values)  # type: ignore[no-any-return]


def decode(buf: Any, limits: DecodeLimits = DEFAULT_LIMITS,
           known: _known.KnownStructures | None = _known.KNOWN) -> Message:
    """Verify and decode one Envelope buffer (bytes-like) into its message dataclass.

    Checks, in order: size limit, minimum size, file identifier, structure (every offset inside the
    buffer), union type, then message-level limits (image dimensions, string lengths). Raises only
    ProtocolError, whose code says which check failed.

    `known`: the structures verified before (sdbridge.protocol._known), whose buffers skip the structural
    checks with the same outcome; None runs every check and remembers nothing.
    """
    view = _as_bytes_view(buf, "message")
    size = view.nbytes
    limit = limits.header_limit
    if size > limit:
        raise ProtocolError(
            ErrorCode.TOO_LARGE,
            f"message of {size} bytes exceeds the limit {limit} (limits.max_header_bytes / max_message_bytes); "
            "FlatBuffer messages carry no pixels: send those in the second part",
        )
    if size < 8:
        raise ProtocolError(
            ErrorCode.TRUNCATED, f"message of {size} bytes is shorter than the 8-byte FlatBuffer preamble"
        )
    seen = known.read(view) if known is not None else None  # an earlier message's structure: only values are new
    if seen is not None:
        return _from_scalars(*seen, limits)
    if known is not None and (again := _repeated_frame(view, limits)) is not None:  # a Frame with the same planes
        return again
    ident = bytes(view[4:8])
    if ident != FILE_IDENTIFIER:
        raise ProtocolError(
            ErrorCode.WRONG_IDENTIFIER,
            f"file identifier {ident!r} is not {FILE_IDENTIFIER!r}: not a StreamDiffusion Bridge v1 message "
            "(a client for another protocol major?)",
        )
    # _verify checks every offset and size before a table is read and refuses a malformed message with a
    # ProtocolError; anything else raised here is a bug of ours and reaches the dispatcher's internal-error
    # handler (logged, counted; the session and the server stay up).
    tag, body = _verify.envelope_body(view)
    if tag not in _verify.UNION_TABLES:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE,
            f"Envelope.body_type={tag} is not a message type this server knows "
            f"(1..{max(MessageType)}); is the peer a newer protocol minor?",
        )
    if body < 0:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"Envelope.body is missing for body_type={tag}")
    msg_type = MessageType(tag)
    if msg_type in _scalar.SPECS:
        values = _scalar.read_scalar(view, body, msg_type)
        if values is not None:
            if known is not None:
                known.remember(view, body, msg_type)
            return _from_scalars(msg_type, values, limits)
        # a Frame with planes: read at once when plainly in bounds, else verified like the messages with vectors
        fast = _frame_planes.read_frame_planes(view, body, limits.max_list_items)
        if fast is not None:
            return _frame_with_planes(view, body, fast, limits, remember=known is not None)
    return decode_verified(view, body, msg_type, limits)


def _repeated_frame(view: memoryview, limits: DecodeLimits) -> FrameHeader | None:
    """A Frame with planes accepted before under ``limits`` but for its own values (``_frame_planes.SEEN``): its
    values read and checked, its planes the accepted ones; None when it is no such repeat."""
    again = _frame_planes.SEEN.read(view, limits)
    if again is None:
        return None
    header = _from_scalars(MessageType.FRAME, again[0], limits)
    assert isinstance(header, FrameHeader)
    header.planes = again[1]
    return header


def _frame_with_planes(view: memoryview, body: int, fast: tuple[tuple[Any, ...], tuple[_frame_planes.RawPlane, ...]],
                       limits: DecodeLimits, remember: bool) -> FrameHeader:
    """A Frame with planes as the fast reader read it, checked; remembered for its repeats when ``remember``."""
    header = _Reader(limits).frame_from_values(*fast)
    if remember:
        _frame_planes.SEEN.remember(view, body, header.planes, limits)
    return header


def decode_verified(view: memoryview, body: int, msg_type: MessageType, limits: DecodeLimits) -> Message:
    """The body at ``body`` after the full structural verifier, read by the flatc accessors (``decode``'s path for
    messages with strings, vectors or sub-tables; the reference its fast paths are tested against)."""
    _verify.verify_body(view, body, _verify.UNION_TABLES[msg_type], limits.max_list_items)
    table_cls, method = _DECODERS[msg_type]
    table = table_cls()
    table.Init(view, body)
    return getattr(_Reader(limits), method)(table)  # type: ignore[no-any-return]


def peek_type(buf: Any) -> MessageType | None:
    """The message type of an Envelope from its root table only (the body is not read): None when the buffer
    is not a readable Envelope of a known type. Cheap: for deciding what a refused message was."""
    try:
        tag, _body = _verify.envelope_body(memoryview(buf).cast("B"))
        return MessageType(tag)
    except (ProtocolError, ValueError, TypeError, IndexError, struct.error):
        return None


def decode_multipart(
    parts: Sequence[Any], limits: DecodeLimits = DEFAULT_LIMITS
) -> tuple[Message, memoryview | None]:
    """Decode a ZeroMQ multipart message: ``[header]``, ``[Frame/Result header, pixels]`` or (protocol 1.3)
    ``[Frame header, pixels, plane 0, plane 1, ...]``.

    Returns (message, pixels view or None); ``plane_parts(parts)`` gives a Frame's plane views. Frame and Result
    need exactly 2 parts (a Frame 2 + its planes) whose pixel and plane parts have exactly stride x height bytes;
    every other message exactly one part.
    """
    if not 1 <= len(parts) <= 2 + limits.max_planes:
        raise ProtocolError(
            ErrorCode.BAD_PART_COUNT,
            f"message has {len(parts)} ZeroMQ parts; send 1 (control), 2 (Frame/Result header + pixels) or a Frame "
            f"with at most {limits.max_planes} plane parts after them (limits.max_planes)",
        )
    views = [_as_bytes_view(part, "pixel part" if i == 0 else f"plane part {i - 1}")
             for i, part in enumerate(parts[1:])]
    for i, view in enumerate(views):
        if view.nbytes > limits.max_message_bytes:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"{'pixel part' if i == 0 else f'plane part {i - 1}'} of {view.nbytes} bytes exceeds the limit "
                f"{limits.max_message_bytes} (limits.max_message_bytes)",
            )
    msg = decode(parts[0], limits)
    if isinstance(msg, StyleImage):
        return msg, _style_pixels(msg, views)
    is_image = isinstance(msg, _IMAGE_TYPES)
    wanted = 2 + len(msg.planes) if isinstance(msg, FrameHeader) else 2
    if is_image and len(parts) != wanted:
        with_planes = f" and {wanted - 2} planes" if wanted > 2 else ""
        raise ProtocolError(
            ErrorCode.BAD_PART_COUNT,
            f"{type(msg).__name__} needs {wanted} ZeroMQ parts (header, pixels{with_planes}) but came with "
            f"{len(parts)}",
        )
    if not is_image:
        if len(parts) != 1:
            raise ProtocolError(
                ErrorCode.BAD_PART_COUNT,
                f"{type(msg).__name__} needs 1 ZeroMQ part but came with {len(parts)}; only Frame, Result and "
                "StyleImage carry pixels",
            )
        return msg, None
    assert isinstance(msg, _IMAGE_TYPES)
    pixels = views[0]
    if len(views) > 1:
        assert isinstance(msg, FrameHeader)
        _check_plane_parts(msg, views[1:])
    expected = expected_pixel_bytes(msg)
    if pixels.nbytes != expected:
        raise ProtocolError(
            ErrorCode.BAD_PIXEL_SIZE,
            f"pixel part has {pixels.nbytes} bytes but stride x height = {msg.stride} x {msg.height} = "
            f"{expected} bytes (width {msg.width}, {msg.pixel_format.name})",
        )
    return msg, pixels
