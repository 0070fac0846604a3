"""Per-session budgets and wire-type checks, applied where a value enters the server.

The budgets themselves are declared once, in sdbridge.config.LimitsConfig (limits.*); this module only
applies them. Every value that reaches a session's pipeline (from a client's Prompt/Params, a preview
page command or a rules file) passes `check_pipeline_values` first, so that

- a value that passes the pipeline's range checks but does not fit its wire type (a seed of -1 or 2**64,
  a guidance of 1e39, a max skip of -5, a t_index of 2**40) is refused here, naming the field, the value
  and the wire range, and can never raise later while the server encodes a Notice that echoes it;
- NaN or infinite blend weights are refused;
- blends and t_index_list stay within limits.max_prompt_blend / max_seed_blend / max_t_index_list.

The ranges are those of the schema's types (schemas/bridge.fbs: Params.seed ulong, guidance float, ...).
Range checks of the pipeline itself (guidance >= 0, delta in [0, 2], ...) stay with the pipeline's config.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sdbridge.config import LimitsConfig
from sdbridge.errors import ProtocolError
from sdbridge.protocol.messages import ErrorCode

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
F32_MAX = 3.4028234663852886e38  # largest finite float32

#: pipeline keyword -> the wire field a client sets it with (what an Error names)
WIRE_FIELD = {
    "prompt": "Prompt.blend", "negative_prompt": "Prompt.negative", "guidance_scale": "Params.guidance_scale",
    "delta": "Params.delta", "seed": "Params.seed", "t_index_list": "Params.t_index_list",
    "similarity_filter": "Params.similarity_filter_enabled",
    "similarity_threshold": "Params.similarity_threshold", "max_skip_frames": "Params.similarity_max_skip",
}


class BudgetError(ProtocolError):
    """A value refused where it entered; `field_name` is the wire field named in the Error reply."""

    def __init__(self, code: ErrorCode, field_name: str, message: str) -> None:
        super().__init__(int(code), message)
        self.field_name = field_name


def _bad(field: str, value: Any, rule: str) -> BudgetError:
    return BudgetError(ErrorCode.BAD_PARAM, field, f"{field}={value!r} {rule}")


def check_int(field: str, value: Any, low: int, high: int, wire: str) -> None:
    """`value` is an integer in [low, high] (the range of the wire type `wire`)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(field, value, f"must be an integer in [{low}, {high}] (the wire type {wire}); send a value "
                                 f"in that range")


def check_float(field: str, value: Any, nonnegative: bool = False) -> None:
    """`value` is a finite number that fits a float32 (and is >= 0 when `nonnegative`)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or abs(value) > F32_MAX:
        raise _bad(field, value, f"must be a finite number within +-{F32_MAX:.4g} (the wire type float); "
                                 f"NaN and infinity are refused")
    if nonnegative and value < 0:
        raise _bad(field, value, "must be >= 0 (a weight); send 0 to leave an entry out")


def _check_budget(field: str, count: int, budget_name: str, budget: int, what: str) -> None:
    if count > budget:
        raise BudgetError(ErrorCode.TOO_LARGE, field,
                           f"{field} has {count} {what}, above limits.{budget_name}={budget}; send at most "
                           f"{budget} (or raise limits.{budget_name} in the server config)")


def check_prompt_spec(field: str, spec: Any, limits: LimitsConfig) -> None:
    """A prompt: a text, or a weighted blend within limits.max_prompt_blend with finite weights >= 0."""
    if isinstance(spec, str):
        return
    entries = list(spec)
    _check_budget(field, len(entries), "max_prompt_blend", limits.max_prompt_blend, "entries")
    for i, (_text, weight) in enumerate(entries):
        check_float(f"{field}[{i}].weight", weight, nonnegative=True)


def check_seed_spec(field: str, spec: Any, limits: LimitsConfig) -> None:
    """A seed (ulong) or a seed blend within limits.max_seed_blend with finite weights >= 0."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        check_int(field, spec, 0, U64_MAX, "ulong")
        return
    entries = list(spec)
    blend = field.replace(".seed", ".seed_blend")
    _check_budget(blend, len(entries), "max_seed_blend", limits.max_seed_blend, "entries")
    for i, (seed, weight) in enumerate(entries):
        check_int(f"{blend}[{i}].seed", seed, 0, U64_MAX, "ulong")
        check_float(f"{blend}[{i}].weight", weight, nonnegative=True)


def check_t_index_list(field: str, t_index_list: Any, limits: LimitsConfig) -> None:
    """t_index_list within limits.max_t_index_list, each index an int32 (the pipeline checks its range)."""
    items = list(t_index_list)
    _check_budget(field, len(items), "max_t_index_list", limits.max_t_index_list, "steps")
    for i, t in enumerate(items):
        check_int(f"{field}[{i}]", t, I32_MIN, I32_MAX, "int")


def check_pipeline_values(values: Mapping[str, Any], limits: LimitsConfig, source: str = "") -> None:
    """Refuse (BudgetError) a pipeline update whose values break a budget or do not fit their wire type.

    `values` are sdbridge.pipeline keyword arguments (prompt, seed, t_index_list, ...); `source` prefixes the
    field names of values that did not come from the wire (e.g. "rules: ").
    """
    for key, value in values.items():
        field = source + WIRE_FIELD.get(key, key)
        if key in ("prompt", "negative_prompt"):
            check_prompt_spec(field, value, limits)
        elif key == "seed":
            check_seed_spec(field, value, limits)
        elif key == "t_index_list":
            check_t_index_list(field, value, limits)
        elif key in ("guidance_scale", "delta", "similarity_threshold"):
            check_float(field, value)
        elif key == "max_skip_frames":
            check_int(field, value, 0, U32_MAX, "uint")
        elif key == "similarity_filter" and not isinstance(value, bool):
            raise _bad(field, value, "must be true or false")


def check_transition(frames: Any, seconds: Any) -> None:
    """A prompt transition: frames a uint, seconds finite in [0, 3600]."""
    check_int("Prompt.transition_frames", frames, 0, U32_MAX, "uint")
    check_float("Prompt.transition_seconds", seconds)
    if not 0 <= seconds <= 3600:
        raise _bad("Prompt.transition_seconds", seconds, "must be in [0, 3600] seconds")


def value_bytes(value: Any) -> int:
    """Bytes a State value or GameEvent payload value counts against its budget (UTF-8 text, 8 otherwise)."""
    return len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else 8


#: What one kept entry costs the server beyond its key and value bytes (a dict slot and the key's str header, about
#: 64 bytes in CPython 3.11): counted so that many tiny entries cannot keep far more memory than the budget says.
ENTRY_OVERHEAD_BYTES = 64


def entries_bytes(entries: Mapping[str, Any]) -> int:
    """Bytes of a mapping of keys to values: keys in UTF-8, `value_bytes` of each value, and
    ENTRY_OVERHEAD_BYTES per entry."""
    return sum(len(k.encode("utf-8", "surrogatepass")) + value_bytes(v) + ENTRY_OVERHEAD_BYTES
               for k, v in entries.items())
