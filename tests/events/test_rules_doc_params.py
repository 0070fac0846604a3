"""docs/rules.md's Parameters section names every parameter a rules file may set, with its range (it listed the
first eight; a user looking for `latent_feedback`, `motion_warp` or `attention_bank` there found nothing)."""

from __future__ import annotations

from pathlib import Path

from sdbridge import params

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end >= 0 else len(text)]


def test_every_rules_key_is_documented_with_its_range() -> None:
    section = _section(DOC.read_text(encoding="utf-8"), "## Parameters")
    missing = [key for key in params.rules_keys() if f"`{key}`" not in section]
    assert not missing, f"docs/rules.md 'Parameters' lacks {missing}"
    for key in params.rules_keys():
        param = params.BY_NAME[key]
        if param.range_text and key != "seed":  # the seed's range is the wire's u64, written as "integer"
            after = section[section.index(f"`{key}`"):]
            assert param.range_text in after[:200], (key, param.range_text)
