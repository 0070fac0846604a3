"""One session's snapshot for the preview page as JSON of at most `max_bytes` (limits.max_preview_snapshot_bytes).

A session may hold a large prompt blend, long texts or long event names; a page gets at most `max_bytes` of it.
Long texts and lists are cut, and what was cut is said in place: a text ends with
"… [N more characters]", a list ends with the entry "… N more entries". The cut shrinks (texts, then lists)
until the JSON fits; a snapshot that still does not fit keeps only the session's id and a note saying
so (about 120 bytes, sent even when the limit is smaller).
"""

from __future__ import annotations

import json
import math
from typing import Any

_TEXT_STEPS = (4096, 1024, 256, 64, 16)
_LIST_STEPS = (256, 64, 16, 4, 1)


def _plain(value: Any) -> Any:
    """JSON-ready copy: tuples become lists, Enums their value, NaN/inf None, anything else its str()."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # a rate before any frame: not JSON
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "value"):  # Enum
        return _plain(value.value)
    return str(value)


def _cut(value: Any, max_text: int, max_list: int) -> Any:
    if isinstance(value, str):
        if len(value) <= max_text:
            return value
        return f"{value[:max_text]}… [{len(value) - max_text} more characters]"
    if isinstance(value, list):
        kept = [_cut(v, max_text, max_list) for v in value[:max_list]]
        if len(value) > max_list:
            kept.append(f"… {len(value) - max_list} more entries")
        return kept
    if isinstance(value, dict):
        return {k: _cut(v, max_text, max_list) for k, v in value.items()}
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def bounded_json(info: dict[str, Any], max_bytes: int) -> str:
    """`info` as JSON of at most `max_bytes` UTF-8 bytes, long texts and lists cut with markers."""
    plain = _plain(info)
    text = _dumps(plain)
    if len(text.encode()) <= max_bytes:
        return text
    for max_list in _LIST_STEPS:
        for max_text in _TEXT_STEPS:
            text = _dumps(_cut(plain, max_text, max_list))
            if len(text.encode()) <= max_bytes:
                return text
    size = len(_dumps(plain).encode())
    return _dumps({"id": plain.get("id"), "truncated": f"snapshot of {size} bytes left out: above "
                                                       f"limits.max_preview_snapshot_bytes={max_bytes}"})
