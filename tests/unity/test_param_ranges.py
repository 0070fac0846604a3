"""The Unity layer's inspector ranges of stream parameters are the generated registry constants (StreamParams, from
sdbridge.params by schemas/codegen.py), never numbers written again: a `[Range(min, max)]` with literal bounds on a
field whose tooltip names a Params field would drift from the server's range. Not compiled here: reads the sources
(.ci/steps/unity_stubs.sh type-checks them)."""

from __future__ import annotations

import re
from pathlib import Path

from sdbridge import params

RUNTIME = Path(__file__).resolve().parents[2] / "unity_package" / "Runtime"
LITERAL_RANGE = re.compile(r"\[Range\(\s*-?[0-9.]+f?\s*,\s*-?[0-9.]+f?\s*\)\]")
WIRE_NAMES = sorted({p.field_path for p in params.REGISTRY if p.field_path} | {p.name for p in params.REGISTRY})


def _restated(text: str) -> list[str]:
    """`[Range(...)]` lines with literal bounds whose field (the line itself and the three before it) names a
    registry parameter or its Params field."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if LITERAL_RANGE.search(line):
            context = "\n".join(lines[max(0, i - 3):i + 1])
            named = [n for n in WIRE_NAMES if re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", context)]
            if named:
                found.append(f"{line.strip()} (names {', '.join(named)})")
    return found


def test_the_check_catches_a_literal_range_of_a_parameter() -> None:
    sample = '[Tooltip("The style\'s weight in Params.style_blend.")]\n[Range(0f, 2f)] public float weight = 1f;'
    assert _restated(sample) == ["[Range(0f, 2f)] public float weight = 1f; (names Params.style_blend)"]
    fine = '[Tooltip("The overlay opacity.")]\n[Range(0f, 1f)] public float opacity = 1f;'
    assert _restated(fine) == []
    generated = "[Range(StreamParams.StyleBlend.Minimum, StreamParams.StyleBlend.Maximum)] public float weight;"
    assert _restated('[Tooltip("Params.style_blend")]\n' + generated) == []


def test_no_parameter_range_is_written_in_the_unity_layer() -> None:
    sources = sorted(RUNTIME.rglob("*.cs"))
    assert len(sources) > 20 and any("[Range(" in p.read_text(encoding="utf-8") for p in sources)
    found = [f"{p.relative_to(RUNTIME)}: {hit}" for p in sources for hit in _restated(p.read_text(encoding="utf-8"))]
    assert found == [], "use the generated StreamParams.<Param>.Minimum/Maximum:\n" + "\n".join(found)
