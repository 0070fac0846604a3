"""`sdbridge demo`'s flags as a newcomer reads them: `--seconds 600` (what the demo's preview line suggests) keeps it
running instead of stopping at the default 60 results, `--help` states each default, and `--controlnet` refuses a
KIND the scene cannot condition (a misspelt 'dpth' ran with its ControlNet silently off) or no KIND at all."""

from __future__ import annotations

import argparse

import pytest

from sdbridge.cli import build_parser
from sdbridge.commands.demo import DEFAULT_RESULTS, controlnet_spec, result_limit
from sdbridge.errors import ConfigError


def _demo_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["demo", *argv])


def test_seconds_alone_is_not_cut_short_by_the_default_result_count() -> None:
    assert result_limit(_demo_args()) == DEFAULT_RESULTS == 60
    assert result_limit(_demo_args("--seconds", "600")) is None  # before: 60, the demo ended after ~10 s
    assert result_limit(_demo_args("--frames", "5")) == 5
    assert result_limit(_demo_args("--frames", "5", "--seconds", "600")) == 5  # whichever comes first


def test_help_names_each_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in ("(default 256)", "default 60, or no limit when --seconds is given", "(default cpu)",
                  "(default self)", "(default 1.4)", "(default out/demo)", "(default 10)", "default 30)",
                  "credits; default 2)", "default 8765)", "'a watercolor painting of a castle on green hills'",
                  "'blurry, low quality'"):
        assert words in text, (words, text)


@pytest.mark.parametrize(("value", "words"), [
    ("dpth", ["--controlnet 'dpth'", "did you mean depth?", "depth ControlNet only"]),
    ("normal@0.5", ["--controlnet 'normal@0.5'", "sends only a depth plane", "--controlnet normal=SOURCE"]),
    ("canny=tiny", ["--controlnet 'canny=tiny'", "'canny' is not one"]),
])
def test_a_kind_the_scene_cannot_condition_is_refused(value: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        controlnet_spec(value, "tiny")
    for word in words:
        assert word in str(caught.value), str(caught.value)


def test_no_kind_is_refused_naming_what_was_typed() -> None:
    # before: "--controlnet='=tiny@0.5' is not KIND=SOURCE[@SCALE]", a value the user never typed
    with pytest.raises(ConfigError, match=r"--controlnet '@0.5' names no KIND; give it first, e.g. --controlnet "
                                          r"depth@0.5"):
        controlnet_spec("@0.5", "tiny")
    assert controlnet_spec("depth@0.5", "tiny") == "depth=tiny@0.5"


def test_a_new_run_removes_the_pictures_of_an_earlier_one(tmp_path: object) -> None:
    """Frame ids restart at 1: a second run overwrote some pair_NNNNN.png and left the rest, so out/demo mixed two
    runs. Only the demo's own file names are removed."""
    from pathlib import Path

    from sdbridge.commands.demo import clear_earlier_pairs

    folder = Path(str(tmp_path))
    for name in ("pair_00012.png", "pair_00251.png", "keep.png", "pair_1.png", "notes.txt"):
        (folder / name).write_bytes(b"x")
    (folder / "pair_00099.png").mkdir()
    assert clear_earlier_pairs(folder) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["keep.png", "notes.txt", "pair_00099.png", "pair_1.png"]
