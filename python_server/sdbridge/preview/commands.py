"""Page commands (JSON from the preview websocket) turned into the bridge messages an engine client would send.

Every value is checked here, before the server sees it, by the parameter registry (`sdbridge.params.check`,
the same check the wire and rules files get; its ranges fit the wire types of Params) and the server's limits:
a refusal names the parameter, the value, the range and the source ("preview page"). The page builds its
parameter controls from the registry itself (`page_hello`: `sdbridge.params.to_json()` in the hello message).

Named weights (registry kind WEIGHTS: lora_weights, controlnet_scale/start/end, style_blend) get one slider per
name. The names come from the server: the hello's "weights" lists, per parameter, the names it serves with their
starting values (the live LoRA adapters, the ControlNet KINDs); names a session adds later (its style images)
appear in that session's values. A page command sets every name of one parameter at once, e.g.
{"op": "params", "controlnet_scale": [["depth", 0.5], ["canny", 1.0]]}, and may name only served names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sdbridge import params
from sdbridge.config import LimitsConfig
from sdbridge.errors import InputError
from sdbridge.preview.style_upload import MAX_IMAGE_CHARS, PAGE_SIDE
from sdbridge.protocol import messages as m

SOURCE = "preview page"
_INT64 = (-(2**63), 2**63 - 1)  # KeyValue.int_value on the wire
_MAX_PAYLOAD_KEYS = 64
#: The parameters a page may set with op=params: the Params fields the page has a control for (no blends: the page
#: has no blend editor; not cfg_mode or the session's txt2img switch), and the named weights (a slider per name).
PAGE_PARAMS: tuple[params.Param, ...] = tuple(p for p in params.REGISTRY
                                               if p.params_bit and p.kind is not params.Kind.BLEND
                                               and (p.preview_control or p.kind is params.Kind.WEIGHTS))
#: {WEIGHTS parameter: [(name, starting value), ...]}: the names a server serves (PreviewObserver.weights)
Weights = Mapping[str, Sequence[tuple[str, float]]]


def page_hello(limits: LimitsConfig, weights: Weights | None = None, controls: Sequence[str] = ()) -> dict[str, Any]:
    """What the page builds its controls from (sent in the hello message): the registry, the limits it names (and the
    style upload's size and length: sdbridge.preview.style_upload), the served names of the named weights
    (`weights`) and the ControlNet KINDs whose conditioning images it shows."""
    budgets = {p.max_items: getattr(limits, p.max_items) for p in params.REGISTRY if p.max_items}
    named = {key: [[name, value] for name, value in entries] for key, entries in (weights or {}).items()}
    page = {"max_text_chars": limits.max_text_chars, "style_side": PAGE_SIDE, "style_max_chars": MAX_IMAGE_CHARS}
    return {"params": params.to_json(), "limits": {**budgets, **page}, "weights": named, "controls": list(controls)}


def _text(request: dict[str, Any], key: str, limits: LimitsConfig, default: str = "") -> str:
    value = request.get(key, default)
    if not isinstance(value, str):
        raise InputError(f"{key}={value!r} must be a string")
    if len(value) > limits.max_text_chars:
        raise InputError(f"{key} has {len(value)} characters, above limits.max_text_chars={limits.max_text_chars}")
    return value


def _payload(value: Any, limits: LimitsConfig) -> dict[str, bool | int | float | str]:
    if not isinstance(value, dict) or len(value) > _MAX_PAYLOAD_KEYS:
        raise InputError(f"event.payload must be a JSON object of at most {_MAX_PAYLOAD_KEYS} booleans, numbers "
                         f"and strings")
    out: dict[str, bool | int | float | str] = {}
    for key, item in value.items():
        if len(key) > limits.max_text_chars:
            raise InputError(f"event.payload key of {len(key)} characters, above limits.max_text_chars="
                             f"{limits.max_text_chars}")
        if isinstance(item, str) and len(item) > limits.max_text_chars:
            raise InputError(f"event.payload.{key} has {len(item)} characters, above limits.max_text_chars="
                             f"{limits.max_text_chars}")
        if isinstance(item, int) and not isinstance(item, bool) and not _INT64[0] <= item <= _INT64[1]:
            raise InputError(f"event.payload.{key}={item} does not fit a 64-bit integer [-2^63, 2^63 - 1]")
        if isinstance(item, float) and not math.isfinite(item):
            raise InputError(f"event.payload.{key}={item!r} must be a finite number")
        if not isinstance(item, bool | int | float | str):
            raise InputError(f"event.payload.{key}={item!r} must be a boolean, a number or a string")
        out[str(key)] = item
    return out


def _named(param: params.Param, value: tuple[tuple[str, float], ...], weights: Weights | None,
           session_names: Sequence[str]) -> tuple[m.AdapterWeight, ...]:
    """A checked WEIGHTS value as the Params entries; a name the server does not serve is refused."""
    served = [name for name, _ in (weights or {}).get(param.name, ())] + list(session_names)
    for name, _ in value:
        if weights is not None and name not in served:
            raise InputError(f"{param.name} names {name!r}, which this server does not serve for this session; "
                             f"it serves: {', '.join(served) or 'none'} ({SOURCE})")
    return tuple(m.AdapterWeight(name=name, weight=weight) for name, weight in value)


def _params(request: dict[str, Any], limits: LimitsConfig, weights: Weights | None = None,
            session_values: Mapping[str, Any] | None = None) -> m.Params:
    """A Params message from a page command; keys are registry names or Params field names."""
    fields: dict[str, Any] = {}
    for param in PAGE_PARAMS:
        for key in {param.name, param.wire_field}:
            if key in request:
                value = params.check(param.name, request[key], SOURCE, limits)
                if param.kind is params.Kind.WEIGHTS:
                    current = (session_values or {}).get(param.key) or ()
                    value = _named(param, value, weights, [str(entry[0]) for entry in current])
                elif param.kind is params.Kind.ENUM:  # a checked choice name -> the wire enum's member
                    value = getattr(m, param.wire_type)[value.upper()]
                fields[param.wire_field] = value
    if not fields:
        raise InputError(f"params: no parameter given ({', '.join(p.name for p in PAGE_PARAMS)})")
    return m.Params(**fields)


def command_message(request: dict[str, Any], limits: LimitsConfig | None = None, weights: Weights | None = None,
                    session_values: Mapping[str, Any] | None = None) -> m.Message:
    """The bridge message a page command stands for (the same message an engine client would send).

    `weights`: the served names of the named weights (None: any name); `session_values`: the session's current
    values (names it added, e.g. its style images, are accepted too)."""
    limits = limits or LimitsConfig()
    op = request.get("op")
    if op == "prompt":
        seconds = params.check("transition_seconds", request.get("transition_seconds", 0.0), SOURCE)
        return m.Prompt(text=_text(request, "text", limits), negative=_text(request, "negative", limits),
                        transition_seconds=seconds)
    if op == "params":
        return _params(request, limits, weights, session_values)
    if op == "event":
        payload = _payload(request.get("payload") or {}, limits)
        name = _text(request, "name", limits).strip()
        if not name:
            raise InputError("event.name is empty; name the event (e.g. boss_appears)")
        return m.GameEvent(name=name, payload=payload)
    raise InputError(f"unknown preview command op={op!r}; use watch, prompt, params or event")
