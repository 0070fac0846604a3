"""Per-session budgets and parameter checks, applied where a value enters the server.

The budgets themselves are declared once, in sdbridge.config.LimitsConfig (limits.*); the parameters' types and
ranges once, in sdbridge.params (the registry). This module only applies them. Every value that reaches a
session's pipeline (from a client's Prompt/Params, a preview page command or a rules file) passes
`check_pipeline_values` first, so that

- a value outside its registry range is refused here, naming the field, the value, the range and where it came
  from; the ranges fit the wire types, so a value accepted here can never raise later while the server encodes a
  Notice that echoes it;
- NaN or infinite blend weights are refused;
- blends and t_index_list stay within limits.max_prompt_blend / max_seed_blend / max_t_index_list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sdbridge import params
from sdbridge.config import LimitsConfig
from sdbridge.errors import FieldError
from sdbridge.protocol.messages import ErrorCode

U32_MAX = 2**32 - 1

#: pipeline keyword -> the registry parameter that checks it (a seed blend and a prompt blend: see _param_for)
_BY_KEY: Mapping[str, params.Param] = {p.key: p for p in params.REGISTRY
                                       if p.params_bit and p.kind is not params.Kind.BLEND}


class BudgetError(FieldError):
    """A value refused where it entered: a budget or a registry range."""


def _param_for(key: str, value: Any) -> tuple[params.Param, str] | None:
    """The registry parameter checking pipeline keyword `key` with `value`, and the wire field it names."""
    if key in ("prompt", "negative_prompt"):
        if isinstance(value, str):
            return None
        blend = params.BY_NAME["prompt_blend"]
        return blend, blend.field_path if key == "prompt" else "Prompt.negative"
    if key == "seed" and isinstance(value, list | tuple):
        blend = params.BY_NAME["seed_blend"]
        return blend, blend.field_path
    param = _BY_KEY.get(key)
    return None if param is None else (param, param.field_path)


def check_value(key: str, value: Any, limits: LimitsConfig, source: str = "") -> Any:
    """One pipeline keyword's value checked against its registry entry and budget (BudgetError otherwise);
    returns the value normalised by `sdbridge.params.check` (or unchanged for keys the registry does not hold)."""
    found = _param_for(key, value)
    if found is None:
        return value
    param, field = found
    try:
        return params.check(param.name, value, source + field, limits)
    except params.ParamError as exc:
        code = ErrorCode.TOO_LARGE if exc.code == "TOO_LARGE" else ErrorCode.BAD_PARAM
        named = source + field + exc.suffix
        raise BudgetError(code, named, f"{named}: {exc.problem}") from None


def check_pipeline_values(values: Mapping[str, Any], limits: LimitsConfig, source: str = "") -> None:
    """Refuse (BudgetError) a pipeline update whose values break a budget or leave their registry range.

    `values` are sdbridge.pipeline keyword arguments (prompt, seed, t_index_list, ...); `source` prefixes the
    field names of values that did not come from the wire (e.g. "rules: ").
    """
    for key, value in values.items():
        check_value(key, value, limits, source)


def check_transition(frames: Any, seconds: Any) -> None:
    """A prompt transition: frames a uint, seconds in the registry's transition_seconds range."""
    if isinstance(frames, bool) or not isinstance(frames, int) or not 0 <= frames <= U32_MAX:
        raise BudgetError(ErrorCode.BAD_PARAM, "Prompt.transition_frames",
                          f"Prompt.transition_frames={frames!r} must be an integer in [0, {U32_MAX}] (the wire "
                          f"type uint); send a value in that range")
    param = params.BY_NAME["transition_seconds"]
    try:
        params.check(param.name, seconds, param.field_path)
    except params.ParamError as exc:
        raise BudgetError(ErrorCode.BAD_PARAM, param.field_path, str(exc)) from None


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
