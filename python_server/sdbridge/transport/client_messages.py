"""Message building and checks for BridgeClient (sdbridge.transport.client): the Hello, frame headers, prompt,
parameter, state, event and Ping messages, the checks a submitted image and the parameters pass before anything
is sent, and the pixels of a received result as an image. Pure functions: no socket, no client state.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sdbridge import __version__, params
from sdbridge.config_endpoint import MAX_PORT, SCHEMES, tcp_host_port
from sdbridge.errors import InputError, TransportError
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR

#: What this client can do (sent in its Hello); GAME_EVENTS: send_event and set_state; TXT2IMG: set_params(txt2img=)
#: and request_frames; PLANES: submit(planes=...); STYLE_IMAGES: send_style_image
CLIENT_CAPABILITIES = (m.Capability.CREDITS | m.Capability.STATS | m.Capability.HEARTBEAT
                       | m.Capability.PROMPT_BLEND | m.Capability.SEED_BLEND | m.Capability.NOTICES
                       | m.Capability.GAME_EVENTS | m.Capability.TXT2IMG | m.Capability.PLANES
                       | m.Capability.STYLE_IMAGES)
#: Where the client's parameter errors say the value came from
_PARAMS_SOURCE = "BridgeClient.set_params"


def now_us() -> int:
    """Wall-clock microseconds (the client timestamps of the wire messages)."""
    return int(time.time() * 1e6)


def hello(name: str, engine: str, engine_version: str) -> m.Hello:
    """The handshake's first message: this protocol version, the client and engine, capabilities, formats."""
    return m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, client_name=name,
                   client_version=__version__, engine_name=engine, engine_version=engine_version,
                   capabilities=CLIENT_CAPABILITIES, pixel_formats=(m.PixelFormat.RGBA8, m.PixelFormat.RGB8))


def check_endpoint(endpoint: str) -> str:
    """`endpoint` when ZeroMQ can connect to it (tcp://HOST:PORT, ipc://PATH, inproc://NAME); InputError naming it
    and the fix otherwise (libzmq said only "Invalid argument" on connect)."""
    example = "tcp://127.0.0.1:5555"
    if not isinstance(endpoint, str) or not endpoint.startswith(SCHEMES):
        raise InputError(f"BridgeClient: endpoint={endpoint!r} must start with {', '.join(SCHEMES)}; e.g. {example} "
                         "(the server's --bind, with its host's address for a server on another machine)")
    parts = tcp_host_port(endpoint) if endpoint.startswith("tcp://") else ("", "1")
    if parts is None or not parts[1].isdigit() or not 0 < int(parts[1]) <= MAX_PORT:
        raise InputError(f"BridgeClient: endpoint={endpoint!r} needs the server's port, tcp://HOST:PORT with PORT in "
                         f"[1, {MAX_PORT}], e.g. {example}")
    return endpoint


def ping(nonce: int) -> m.Ping:
    """A Ping stamped now (heartbeats, ping(), the silence probe)."""
    return m.Ping(nonce=nonce, client_time_us=now_us())


def check_image(image: np.ndarray, welcome: m.Welcome | None) -> None:
    """InputError unless `image` is an HxWx4 or HxWx3 uint8 array within the server's maximum size."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"image is a {type(image).__module__}.{type(image).__name__}, not a numpy array; submit an "
                         "HxWx4 (RGBA) or HxWx3 (RGB) uint8 numpy array, top row first (a torch tensor: "
                         "tensor.cpu().numpy())")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise InputError(f"image has shape {shape} dtype {dtype}; submit an HxWx4 (RGBA) or HxWx3 (RGB) "
                         f"uint8 numpy array, top row first")
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise InputError(f"image is {w}x{h}; width and height must be >= 1")
    if welcome is not None and (w > welcome.max_width or h > welcome.max_height):
        raise InputError(f"image is {w}x{h} but the server accepts at most "
                         f"{welcome.max_width}x{welcome.max_height}; resize it")


def frame_header(frame_id: int, image: np.ndarray, session_id: int, stream_id: int,
                 planes: tuple[m.PlaneDesc, ...] = (), scene_cut: bool = False) -> m.FrameHeader:
    """The header of a packed, top-down sRGB frame (RGBA8 with straight alpha, or RGB8) with `planes`, stamped now;
    `scene_cut` (protocol 1.4): it starts a new shot."""
    h, w, channels = image.shape
    fmt = m.PixelFormat.RGBA8 if channels == 4 else m.PixelFormat.RGB8
    now = now_us()
    return m.FrameHeader(frame_id=frame_id, width=w, height=h, stride=w * channels, pixel_format=fmt,
                         row_order=m.RowOrder.TOP_DOWN, color_space=m.ColorSpace.SRGB,
                         alpha_mode=m.AlphaMode.STRAIGHT if channels == 4 else m.AlphaMode.IGNORE,
                         session_id=session_id, stream_id=stream_id, capture_time_us=now, send_time_us=now,
                         planes=planes, scene_cut=scene_cut)


def style_image(name: str, image: np.ndarray, welcome: m.Welcome | None) -> tuple[m.StyleImage, np.ndarray]:
    """A StyleImage header and its packed top-down pixels (a copy) for send_style_image; InputError for a bad name
    or image, TransportError when the server does not take style images (no IP-Adapter, or protocol < 1.4)."""
    if welcome is not None and not welcome.capabilities & m.Capability.STYLE_IMAGES:
        raise TransportError(f"the server (protocol {welcome.protocol_major}.{welcome.protocol_minor}) does not take "
                             f"style images (capability StyleImages: a protocol 1.4 server started with an "
                             f"IP-Adapter, --ip-adapter)")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"send_style_image: name={name!r} must be a non-empty string (set_params(style_blend=...) "
                         f"weighs the image by it)")
    check_image(image, welcome)
    pixels = np.array(image, dtype=np.uint8, order="C")  # kept for a reconnect: the caller may reuse its array
    h, w, channels = pixels.shape
    fmt = m.PixelFormat.RGBA8 if channels == 4 else m.PixelFormat.RGB8
    return m.StyleImage(name=name, width=w, height=h, stride=w * channels, format=fmt), pixels


def wanted_planes(notice: m.Notice, current: tuple[m.PlaneKind, ...]) -> tuple[m.PlaneKind, ...]:
    """The plane kinds the server uses after `notice` (a WANTED_PLANES_CHANGED one carries them; protocol 1.4)."""
    return notice.wanted_planes if notice.kind is m.NoticeKind.WANTED_PLANES_CHANGED else current


def result_image(header: m.ResultHeader, pixels: memoryview) -> np.ndarray:
    """A result's pixels as a read-only (H, W, channels) top-down view (row padding dropped, no copy)."""
    bpp = header.pixel_format.bytes_per_pixel
    image = np.frombuffer(pixels, dtype=np.uint8)
    if header.stride == header.width * bpp:  # packed rows: one reshape
        image = image.reshape(header.height, header.width, bpp)
    else:  # padded rows: drop the padding of each row
        image = image.reshape(header.height, header.stride)[:, : header.width * bpp]
        image = image.reshape(header.height, header.width, bpp)
    if header.row_order is m.RowOrder.BOTTOM_UP:
        image = image[::-1]
    return image


def result_timings(header: m.ResultHeader) -> dict[str, float]:
    """The server-side timings of a result in seconds: queue_wait, inference, encode."""
    return {"queue_wait": header.queue_wait_us / 1e6, "inference": header.inference_us / 1e6,
            "encode": header.encode_us / 1e6}


def prompt(text: str | Sequence[tuple[str, float]], negative: str, *, transition_frames: int,
           transition_seconds: float, stream_id: int) -> m.Prompt:
    """A Prompt: a text, or a weighted blend [(text, weight), ...] (InputError when the blend is empty)."""
    if isinstance(text, str):
        return m.Prompt(text=text, negative=negative, transition_frames=transition_frames,
                        transition_seconds=transition_seconds, stream_id=stream_id)
    blend = tuple(m.PromptWeight(text=t, weight=float(w)) for t, w in _blend_pairs(text))
    if not blend:
        raise InputError("prompt blend is empty; pass a text or at least one (text, weight)")
    return m.Prompt(blend=blend, negative=negative, transition_frames=transition_frames,
                    transition_seconds=transition_seconds, stream_id=stream_id)


def _blend_pairs(text: Any) -> list[tuple[str, float]]:
    """set_prompt's blend as (text, weight) pairs; InputError naming the entry when it is no text with a number."""
    example = 'set_prompt("a castle") or set_prompt([("a castle", 0.7), ("a forest", 0.3)])'
    if not isinstance(text, Sequence):
        raise InputError(f"set_prompt: prompt={text!r} is a {type(text).__name__}; pass a text or a blend of "
                         f"(text, weight) pairs, e.g. {example}")
    pairs = []
    for i, entry in enumerate(text):
        ok = isinstance(entry, Sequence) and not isinstance(entry, str) and len(entry) == 2
        if not (ok and isinstance(entry[0], str) and isinstance(entry[1], int | float)
                and not isinstance(entry[1], bool)):
            raise InputError(f"set_prompt: blend entry [{i}]={entry!r} is not a (text, weight) pair with a number "
                             f"weight; e.g. {example}")
        pairs.append((entry[0], float(entry[1])))
    return pairs


def _entries(where: str, given: Any) -> dict[str, bool | int | float | str]:
    """A payload or state mapping checked before it is encoded: text keys, bool / int / float / str values
    (InputError naming the call, the key and the value's type; the codec's refusal named neither the call nor
    the fix)."""
    if not isinstance(given, Mapping):
        raise InputError(f"{where}: {given!r} is a {type(given).__name__}; pass a mapping of names to bool, int, float "
                         "or str values, e.g. {\"biome\": \"forest\", \"health\": 0.5}")
    for key, value in given.items():
        if not isinstance(key, str):
            raise InputError(f"{where}: key {key!r} is a {type(key).__name__}; keys are texts")
        if not isinstance(value, bool | int | float | str):
            fix = ("value.item()" if isinstance(value, np.generic)
                   else "send a list or object as several keys, or as a JSON text")
            raise InputError(f"{where}: {key!r}={value!r} is a {type(value).__name__}; values are bool, int, float or "
                             f"str ({fix})")
    return dict(given)


#: set_params' keywords: the registry parameters with a Params field, by registry name (seed: its own keyword)
_SETTABLE: Mapping[str, params.Param] = {p.name: p for p in params.REGISTRY
                                          if p.params_bit and p.kind is not params.Kind.BLEND and p.name != "seed"}


def _wire_value(param: params.Param, value: Any) -> Any:
    """A checked registry value as its Params field holds it."""
    if param.kind is params.Kind.ENUM:  # the wire enum the registry names (CfgMode, AttentionBankBlocks)
        return getattr(m, param.wire_type)[value.upper()]
    if param.kind is params.Kind.WEIGHTS:
        return tuple(m.AdapterWeight(name=name, weight=weight) for name, weight in value)
    if param.kind is params.Kind.INT_LIST:
        return tuple(int(t) for t in value)
    return value


def params_message(given: Mapping[str, Any], seed: int | Sequence[tuple[int, float]] | None,
                   stream_id: int) -> m.Params:
    """A Params message from set_params' keyword arguments (`given`: registry name -> value, None = unchanged).

    Each value is checked against its range in the parameter registry (sdbridge.params), the check the server
    applies: InputError naming the parameter, the value and the range otherwise, when a name is no settable
    parameter, or when nothing is given. Named weights may be a mapping {name: weight}.
    """
    fields: dict[str, Any] = {}
    for name, value in given.items():
        param = _SETTABLE.get(name)
        if param is None:
            raise InputError(f"{_PARAMS_SOURCE}: {name!r} is no parameter a client sets; known: "
                             f"seed, {', '.join(_SETTABLE)}")
        if value is not None:
            value = list(value.items()) if isinstance(value, Mapping) else value
            fields[param.wire_field] = _wire_value(param, params.check(name, value, _PARAMS_SOURCE))
    if isinstance(seed, list | tuple):
        pairs = params.check("seed_blend", seed, _PARAMS_SOURCE)
        fields["seed_blend"] = tuple(m.SeedWeight(seed=s, weight=w) for s, w in pairs)
    elif seed is not None:
        fields["seed"] = params.check("seed", seed, _PARAMS_SOURCE)
    message = m.Params(stream_id=stream_id, **fields)
    if message.set_mask == m.ParamsField.NONE:
        raise InputError("set_params() got no parameter; pass at least one, e.g. guidance_scale=1.2")
    return message


def check_txt2img_offered(message: m.Params, welcome: m.Welcome | None, endpoint: str) -> None:
    """TransportError when `message` turns txt2img on but the server's Welcome does not offer it (protocol < 1.2)."""
    if message.txt2img and welcome is not None and not welcome.capabilities & m.Capability.TXT2IMG:
        raise TransportError(f"the server at {endpoint} (protocol {welcome.protocol_major}.{welcome.protocol_minor}) "
                             f"does not offer txt2img (capability Txt2img, protocol 1.2); upgrade the server")


def check_txt2img_on(txt2img: bool) -> None:
    """InputError unless txt2img is on (request_frames asks for generated frames)."""
    if not txt2img:
        raise InputError("request_frames() needs txt2img mode: call set_params(txt2img=True) first")


def check_txt2img_off(txt2img: bool) -> None:
    """InputError while txt2img is on (submit: the server refuses frames then)."""
    if txt2img:
        raise InputError("submit() while txt2img is on: the server generates the frames (request_frames); "
                         "call set_params(txt2img=False) to send frames again")


def state(key: str | Mapping[str, bool | int | float | str], value: bool | int | float | str | None,
          replace_all: bool) -> m.State:
    """A State message for one variable (`key`, `value`) or several (`key` a mapping)."""
    if isinstance(key, str):
        if value is None:
            raise InputError(f"set_state({key!r}) needs a value (bool, int, float or str)")
        entries: dict[str, Any] = _entries("set_state", {key: value})
    else:
        entries = _entries("set_state", key)
    return m.State(entries=entries, replace_all=replace_all, client_time_us=now_us())


def game_event(name: str, payload: Mapping[str, bool | int | float | str] | None, last_frame_id: int) -> m.GameEvent:
    """A GameEvent stamped now, tied to the last frame id handed out (0 before the first)."""
    if not isinstance(name, str):
        raise InputError(f"send_event: name={name!r} must be a text, e.g. send_event(\"enter_zone\", "
                         "{\"biome\": \"forest\"})")
    payload = _entries(f"send_event({name!r}) payload", {} if payload is None else payload)
    return m.GameEvent(name=name, payload=payload, client_time_us=now_us(), frame_id=max(0, last_frame_id))
