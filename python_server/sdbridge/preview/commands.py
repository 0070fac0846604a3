"""Page commands (JSON from the preview websocket) turned into the bridge messages an engine client would send.

Every value is checked here, before the server sees it, against the ranges every rules file is checked
against (`sdbridge.events.rules.PARAM_RANGES`, which fit the wire types of Params) and the server's limits:
a refusal names the field, the value and the range. The page reads the same ranges from the `hello`
message (`page_ranges`) and sets its inputs' min/max from them.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from sdbridge.config import LimitsConfig
from sdbridge.errors import InputError
from sdbridge.events.rules import MAX_SECONDS, PARAM_RANGES, ParamRange
from sdbridge.protocol import messages as m

#: Page command / wire field -> the parameter range that applies (StreamConfig names in PARAM_RANGES).
WIRE_RANGES: dict[str, ParamRange] = {
    "guidance_scale": PARAM_RANGES["guidance_scale"],
    "delta": PARAM_RANGES["delta"],
    "seed": PARAM_RANGES["seed"],
    "similarity_threshold": PARAM_RANGES["similarity_threshold"],
    "similarity_max_skip": PARAM_RANGES["max_skip_frames"],
    "t_index_list": PARAM_RANGES["t_index_list"],
    "transition_seconds": ParamRange("transition_seconds", False, 0.0, MAX_SECONDS),
}
_INT64 = (-(2**63), 2**63 - 1)  # KeyValue.int_value on the wire
_MAX_PAYLOAD_KEYS = 64


def page_ranges(limits: LimitsConfig) -> dict[str, Any]:
    """What the page needs to set its inputs' min/max (sent in the hello message)."""
    ranges = {key: {"min": r.lo, "max": r.hi, "integer": r.integer, "max_open": r.hi_open, "text": r.text,
                    # exact bounds for <input min max>: a JS number cannot hold 2^63 - 1
                    "min_attr": str(int(r.lo)) if r.integer else f"{r.lo:g}",
                    "max_attr": str(int(r.hi)) if r.integer else f"{r.hi:g}"}
              for key, r in WIRE_RANGES.items()}
    return {"ranges": ranges, "max_text_chars": limits.max_text_chars, "max_t_index_list": limits.max_t_index_list}


def _text(request: dict[str, Any], key: str, limits: LimitsConfig, default: str = "") -> str:
    value = request.get(key, default)
    if not isinstance(value, str):
        raise InputError(f"{key}={value!r} must be a string")
    if len(value) > limits.max_text_chars:
        raise InputError(f"{key} has {len(value)} characters, above limits.max_text_chars={limits.max_text_chars}")
    return value


def _ranged(request: dict[str, Any], key: str) -> int | float:
    """request[key] checked against its range; a float parameter also takes an integer."""
    value = request[key]
    bounds = WIRE_RANGES[key]
    number = float(value) if not bounds.integer and isinstance(value, int) and not isinstance(value, bool) \
        else value
    if not bounds.contains(number):
        kind = "an integer" if bounds.integer else "a finite number"
        raise InputError(f"{key}={value!r} is refused: it must be {kind} in {bounds.text}")
    return number  # type: ignore[no-any-return]


def _t_index_list(value: Any, limits: LimitsConfig) -> tuple[int, ...]:
    bounds = WIRE_RANGES["t_index_list"]
    if not isinstance(value, list) or not value:
        raise InputError(f"t_index_list={value!r} must be a non-empty list of integers in {bounds.text}")
    if len(value) > limits.max_t_index_list:
        raise InputError(f"t_index_list has {len(value)} entries, above limits.max_t_index_list="
                         f"{limits.max_t_index_list}; use fewer denoising steps")
    bad = [t for t in value if not bounds.contains(t)]
    if bad:
        raise InputError(f"t_index_list entry {bad[0]!r} is refused: each entry must be an integer in {bounds.text}")
    if any(b <= a for a, b in itertools.pairwise(value)):
        raise InputError(f"t_index_list={value} must be strictly ascending, e.g. [20, 40]")
    return tuple(value)


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


def _params(request: dict[str, Any], limits: LimitsConfig) -> m.Params:
    fields: dict[str, Any] = {}
    for key in ("guidance_scale", "delta", "seed", "similarity_threshold", "similarity_max_skip"):
        if key in request:
            fields[key] = _ranged(request, key)
    if "similarity_filter_enabled" in request:
        enabled = request["similarity_filter_enabled"]
        if not isinstance(enabled, bool):
            raise InputError(f"similarity_filter_enabled={enabled!r} must be true or false")
        fields["similarity_filter_enabled"] = enabled
    if "t_index_list" in request:
        fields["t_index_list"] = _t_index_list(request["t_index_list"], limits)
    if not fields:
        raise InputError("params: no parameter given (guidance_scale, delta, seed, t_index_list, "
                         "similarity_filter_enabled, similarity_threshold, similarity_max_skip)")
    return m.Params(**fields)


def command_message(request: dict[str, Any], limits: LimitsConfig | None = None) -> m.Message:
    """The bridge message a page command stands for (the same message an engine client would send)."""
    limits = limits or LimitsConfig()
    op = request.get("op")
    if op == "prompt":
        seconds = float(_ranged(request, "transition_seconds")) if "transition_seconds" in request else 0.0
        return m.Prompt(text=_text(request, "text", limits), negative=_text(request, "negative", limits),
                        transition_seconds=seconds)
    if op == "params":
        return _params(request, limits)
    if op == "event":
        payload = _payload(request.get("payload") or {}, limits)
        name = _text(request, "name", limits).strip()
        if not name:
            raise InputError("event.name is empty; name the event (e.g. boss_appears)")
        return m.GameEvent(name=name, payload=payload)
    raise InputError(f"unknown preview command op={op!r}; use watch, prompt, params or event")
