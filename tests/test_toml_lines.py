"""sdbridge.toml_lines: the one helper that finds `file:line` for the config loader and the rules loader."""

from __future__ import annotations

from sdbridge.toml_lines import TomlLines

TEXT = """\
# comment = 1
top = 1
[model]
name = "tiny"
"quoted" = 2

[[rule]]
event = "a"
[[rule]]
event = "b"
when.hp = 3
[rule.then]
prompt = "x"
"""


def test_keys_tables_and_arrays_of_tables() -> None:
    lines = TomlLines(TEXT)
    assert lines.line(("top",)) == 2
    assert lines.line(("model",)) == 3 and lines.line(("model", "name")) == 4 and lines.line(("model", "quoted")) == 5
    assert lines.line(("rule", 0, "event")) == 8 and lines.line(("rule", 1, "event")) == 10
    assert lines.line(("rule", 1, "when", "hp")) == 11
    assert lines.line(("rule", 1, "then", "prompt")) == 13  # a sub-table of the latest array entry


def test_a_missing_key_gives_its_nearest_written_parent() -> None:
    lines = TomlLines(TEXT)
    assert lines.line(("model", "width")) == 3  # the [model] header
    assert lines.line(("comment",)) is None  # commented out: not a key
    assert lines.line(("nowhere", "x")) is None


def test_the_config_loader_names_the_line(tmp_path) -> None:
    import pytest

    from sdbridge.config import load_config
    from sdbridge.errors import ConfigError

    path = tmp_path / "server.toml"
    path.write_text("[model]\nname = \"tiny\"\nwidth = \"wide\"\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"server.toml:3: \[model\] "):
        load_config(path)
