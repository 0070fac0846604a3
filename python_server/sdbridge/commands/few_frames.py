"""The warning a benchmark prints when a count flag (--frames, --latency-frames, ...) is too small for its figures to
mean anything: one slow frame (a page fault, a collection, another process) sways a handful of samples."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def few_frames_note(flag: str, value: int, minimum: int, default: int) -> str | None:
    """The warning for `flag` `value` below `minimum` (None from `minimum` up, and for 0, which skips a part)."""
    if value == 0 or value >= minimum:
        return None
    return (f"{flag} {value}: {value} sample(s) are too few for these frames/s, round trips and ratios to mean "
            f"anything (one slow frame sways them); use {flag} {minimum} or more (default {default})")


def warn_few(checks: list[tuple[str, int, int, int]]) -> list[str]:
    """Log each warning of `checks` (flag, value, minimum, default) now and return them, for under the report."""
    notes = [note for check in checks if (note := few_frames_note(*check)) is not None]
    for note in notes:
        log.warning("%s", note)
    return notes
