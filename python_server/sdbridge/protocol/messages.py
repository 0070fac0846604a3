"""Plain Python forms of every wire message of schemas/bridge.fbs (no FlatBuffers, no torch).

The enums come from the module schemas/codegen.py generates out of bridge.fbs (tests/protocol/test_codec.py
also checks them against the flatc output). Dataclasses are frozen except the two image headers (see
FrameHeader); ``codec.encode`` / ``codec.decode`` turn them into bytes and back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TypeAlias

# The enums, the union tag and the value sets are generated from schemas/bridge.fbs (schemas/codegen.py); they
# are re-exported here so the rest of the package imports them from one place.
from sdbridge.protocol._generated.bridge_schema import (
    CAPACITY_REFUSAL,
    SESSION_GONE,
    UNKNOWN_CONNECTION,
    AlphaMode,
    AttentionBankBlocks,
    BlendMethod,
    Capability,
    CfgMode,
    ColorSpace,
    DepthEncoding,
    ErrorCode,
    MessageType,
    ModelFamily,
    MotionTarget,
    MotionUnits,
    NormalEncoding,
    NormalSpace,
    NoticeKind,
    ParamsField,
    PixelFormat,
    PlaneFormat,
    PlaneKind,
    RowOrder,
    ValueKind,
)
from sdbridge.protocol._generated.params_fields import ParamsFields  # the Params fields, from the schema

__all__ = [
    "CAPACITY_REFUSAL", "MESSAGE_TYPES", "SESSION_GONE", "UNKNOWN_CONNECTION", "AdapterWeight", "AlphaMode",
    "AttentionBankBlocks", "BlendMethod", "Bye", "Capability", "CfgMode",
    "ColorSpace",
    "Credit", "DepthEncoding",
    "ErrorCode", "ErrorMsg", "FrameHeader", "GameEvent", "Hello", "ImageHeader", "Message", "MessageType",
    "ModelFamily", "ModelInfo", "MotionTarget", "MotionUnits", "NormalEncoding", "NormalSpace", "Notice", "NoticeKind",
    "Pairs", "Params", "ParamsField", "Ping", "PixelFormat", "PlaneDesc", "PlaneFormat", "PlaneKind",
    "Pong", "Prompt", "PromptWeight", "ResultHeader", "RowOrder", "SeedWeight", "State", "Stats", "StatsRequest",
    "StyleImage", "Value", "ValueKind", "Welcome",
]


#: A typed value of a game event payload or state entry (bool is checked before int).
Value: TypeAlias = bool | int | float | str
#: Ordered (key, value) pairs; messages also accept a Mapping and normalise it to this.
Pairs: TypeAlias = tuple[tuple[str, Value], ...]


def _pairs(entries: Mapping[str, Value] | Pairs | tuple | list) -> Pairs:
    items = entries.items() if isinstance(entries, Mapping) else entries
    return tuple((str(k), v) for k, v in items)


@dataclasses.dataclass(frozen=True, slots=True)
class Hello:
    """client -> server: first message of a session."""

    protocol_major: int
    protocol_minor: int
    client_name: str = ""
    client_version: str = ""
    engine_name: str = ""
    engine_version: str = ""
    capabilities: Capability = Capability.NONE
    pixel_formats: tuple[PixelFormat, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ModelInfo:
    """The model a server runs."""

    name: str = ""
    family: ModelFamily = ModelFamily.UNKNOWN
    width: int = 0
    height: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Welcome:
    """server -> client: the Hello was accepted."""

    session_id: int
    protocol_major: int
    protocol_minor: int
    server_version: str = ""
    capabilities: Capability = Capability.NONE
    initial_credits: int = 0
    max_width: int = 0
    max_height: int = 0
    max_message_bytes: int = 0
    latency_frames: int = 0
    model: ModelInfo | None = None
    heartbeat_interval_ms: int = 0
    pixel_formats: tuple[PixelFormat, ...] = ()
    warning: str = ""
    sessions_open: int = 0  # protocol 1.4: sessions open on the replica, this one included (0: an older server)
    sessions_max: int = 0  # protocol 1.4: the replica's session limit (0: an older server)
    wanted_planes: tuple[PlaneKind, ...] = ()  # protocol 1.4: plane kinds the server uses (Notice on a change)


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorMsg:
    """Error message (named ErrorMsg so it is not confused with Python exceptions)."""

    code: ErrorCode
    message: str = ""
    field: str = ""
    frame_id: int | None = None
    session_closed: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class PlaneDesc:
    """One auxiliary plane of a Frame (protocol 1.3): its ZeroMQ part follows the colour pixels.

    Only the fields of its `kind` mean something (depth_* and reversed_z for DEPTH, normal_* for NORMALS,
    motion_* for MOTION, name for CONTROL); schemas/bridge.fbs documents each convention. `kind` and `format`
    decode to their enums; a value this build does not know is refused by the decoder.
    """

    kind: PlaneKind
    format: PlaneFormat
    width: int
    height: int
    stride: int
    row_order: RowOrder = RowOrder.TOP_DOWN
    depth_encoding: DepthEncoding = DepthEncoding.UNKNOWN
    reversed_z: bool = False
    depth_near: float = 0.0
    depth_far: float = 0.0
    normal_space: NormalSpace = NormalSpace.UNKNOWN
    normal_encoding: NormalEncoding = NormalEncoding.UNKNOWN
    motion_units: MotionUnits = MotionUnits.UNKNOWN
    motion_target: MotionTarget = MotionTarget.UNKNOWN
    motion_y_up: bool = False
    name: str = ""

    @property
    def nbytes(self) -> int:
        """Size of the plane's ZeroMQ part: stride x height."""
        return self.stride * self.height


# The two image headers are built on every frame (4 times per round trip: encode and decode on each
# side), so they are not frozen: a frozen dataclass's __init__ sets each field through
# object.__setattr__, several times slower (docs/benchmarks.md, "Message headers"). Treat them as read-only
# all the same; nothing in this package writes to a header after building it.
@dataclasses.dataclass(slots=True)
class _ImageFields:
    """The fields a Frame and a Result share, first in both and in this order (the scalar fast path of the codec
    builds either header from its values positionally): which frame of which stream, its pixel layout, and the
    client's clock."""

    frame_id: int
    width: int
    height: int
    stride: int
    pixel_format: PixelFormat
    row_order: RowOrder = RowOrder.TOP_DOWN
    color_space: ColorSpace = ColorSpace.SRGB
    alpha_mode: AlphaMode = AlphaMode.IGNORE
    session_id: int = 0
    stream_id: int = 0
    capture_time_us: int = 0
    send_time_us: int = 0


@dataclasses.dataclass(slots=True)  # not frozen: see _ImageFields
class FrameHeader(_ImageFields):
    """client -> server: header of one input frame; the pixels travel in ZeroMQ part 2."""

    scene_cut: bool = False  # protocol 1.4: this frame starts a new shot; the server resets temporal state first
    # protocol 1.3: the auxiliary planes, one ZeroMQ part each after the pixels (last: the scalar fast path of the
    # codec builds a header from the fields above, positionally)
    planes: tuple[PlaneDesc, ...] = ()


@dataclasses.dataclass(slots=True)  # not frozen: see _ImageFields
class ResultHeader(_ImageFields):
    """server -> client: header of one output frame; the pixels travel in ZeroMQ part 2."""

    queue_wait_us: int = 0
    inference_us: int = 0
    encode_us: int = 0
    is_warmup: bool = False
    skipped: bool = False
    source_frame_id: int = 0
    credits_granted: int = 0


#: Both image headers; they share the pixel layout fields.
ImageHeader: TypeAlias = FrameHeader | ResultHeader


@dataclasses.dataclass(frozen=True, slots=True)
class PromptWeight:
    """One weighted prompt of a blend."""

    text: str
    weight: float


@dataclasses.dataclass(frozen=True, slots=True)
class Prompt:
    """client -> server: set the prompt, optionally as a weighted blend reached over a transition."""

    text: str = ""
    negative: str = ""
    blend: tuple[PromptWeight, ...] = ()
    transition_frames: int = 0
    transition_seconds: float = 0.0
    method: BlendMethod = BlendMethod.UNKNOWN
    stream_id: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class SeedWeight:
    """One weighted seed of a seed blend."""

    seed: int
    weight: float


@dataclasses.dataclass(frozen=True, slots=True)
class AdapterWeight:
    """A named weight: a live LoRA adapter's (Params.lora_weights; protocol 1.2), a ControlNet's scale/start/end
    (name = its kind) or a style image's (Params.controlnet_* and Params.style_blend; protocol 1.4)."""

    name: str
    weight: float


@dataclasses.dataclass(frozen=True, slots=True)
class Params(ParamsFields):
    """client -> server: change runtime parameters; None means "unchanged" (bit clear in set_mask).

    The fields, one per field of the schema's Params table, are generated into ParamsFields
    (_generated/params_fields.py by schemas/codegen.py): a field added to bridge.fbs appears here with no edit.
    `cfg_mode` (and `attention_bank_blocks`) decodes to a CfgMode (AttentionBankBlocks), or to the raw wire number
    when this build does not know it (so that the server's refusal can name the value sent)."""

    @property
    def set_mask(self) -> ParamsField:
        """The ParamsField bits of the fields that are set."""
        mask = ParamsField.NONE
        for name, bit in _PARAMS_BITS:
            if getattr(self, name) is not None:
                mask |= bit
        return mask


#: Each Params field and its ParamsField bit, the schema's member of the field's name (a field without one fails here).
_PARAMS_BITS: tuple[tuple[str, ParamsField], ...] = tuple(
    (field.name, ParamsField[field.name.upper()]) for field in dataclasses.fields(Params) if field.name != "stream_id")


@dataclasses.dataclass(frozen=True, slots=True)
class GameEvent:
    """client -> server: something happened in the game. ``payload`` accepts a dict."""

    name: str
    payload: Pairs = ()
    client_time_us: int = 0
    frame_id: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", _pairs(self.payload))


@dataclasses.dataclass(frozen=True, slots=True)
class State:
    """client -> server: game state variables. ``entries`` accepts a dict."""

    entries: Pairs = ()
    replace_all: bool = False
    client_time_us: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", _pairs(self.entries))


@dataclasses.dataclass(frozen=True, slots=True)
class StatsRequest:
    """client -> server: ask for a Stats reply."""

    request_id: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Stats:
    """server -> client: session counters."""

    request_id: int = 0
    session_id: int = 0
    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0
    frames_skipped: int = 0
    fps_in: float = 0.0
    fps_out: float = 0.0
    latency_p50_us: int = 0
    latency_p99_us: int = 0
    inference_p50_us: int = 0
    uptime_s: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class Bye:
    """Either side: end of session."""

    reason: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Notice:
    """server -> client: something changed that this client did not ask for."""

    kind: NoticeKind
    message: str = ""
    source: str = ""
    prompt: Prompt | None = None
    params: Params | None = None
    preview_url: str = ""  # protocol 1.1: this session's preview page address (kind INFO, source "preview")
    wanted_planes: tuple[PlaneKind, ...] = ()  # protocol 1.4: kind WANTED_PLANES_CHANGED: the kinds now used


@dataclasses.dataclass(frozen=True, slots=True)
class Credit:
    """server -> client: sending credits returned without a Result. client -> server (protocol 1.2, a session with
    Params.txt2img on): ask for `granted` generated Results, each spending one of the client's credits."""

    granted: int


@dataclasses.dataclass(frozen=True, slots=True)
class StyleImage:
    """client -> server (protocol 1.4, capability STYLE_IMAGES): a named style reference image for the session's
    IP-Adapter; its pixels travel in ZeroMQ part 2 (stride x height bytes, like a Frame's). Its weight is set with
    Params.style_blend."""

    name: str
    width: int
    height: int
    stride: int
    format: PixelFormat
    row_order: RowOrder = RowOrder.TOP_DOWN

    @property
    def nbytes(self) -> int:
        """Size of the pixel part: stride x height."""
        return self.stride * self.height


@dataclasses.dataclass(frozen=True, slots=True)
class Ping:
    """client -> server heartbeat."""

    nonce: int = 0
    client_time_us: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Pong:
    """server -> client answer to Ping."""

    nonce: int = 0
    client_time_us: int = 0
    server_time_us: int = 0


#: Every message the codec encodes and decodes.
Message: TypeAlias = (
    Hello
    | Welcome
    | ErrorMsg
    | FrameHeader
    | ResultHeader
    | Prompt
    | Params
    | GameEvent
    | State
    | StatsRequest
    | Stats
    | Bye
    | Notice
    | Credit
    | Ping
    | Pong
    | StyleImage
)

#: Message class -> union tag.
MESSAGE_TYPES: Mapping[type, MessageType] = {
    Hello: MessageType.HELLO,
    Welcome: MessageType.WELCOME,
    ErrorMsg: MessageType.ERROR,
    FrameHeader: MessageType.FRAME,
    ResultHeader: MessageType.RESULT,
    Prompt: MessageType.PROMPT,
    Params: MessageType.PARAMS,
    GameEvent: MessageType.GAME_EVENT,
    State: MessageType.STATE,
    StatsRequest: MessageType.STATS_REQUEST,
    Stats: MessageType.STATS,
    Bye: MessageType.BYE,
    Notice: MessageType.NOTICE,
    Credit: MessageType.CREDIT,
    Ping: MessageType.PING,
    Pong: MessageType.PONG,
    StyleImage: MessageType.STYLE_IMAGE,
}
