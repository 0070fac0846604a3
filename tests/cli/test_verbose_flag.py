"""-v works before and after the command (`sdbridge serve -v` was "unrecognized arguments: -v")."""

from __future__ import annotations

import pytest

from sdbridge.cli import build_parser


@pytest.mark.parametrize(("argv", "verbose"), [
    (["check"], False),
    (["-v", "check"], True),
    (["check", "-v"], True),
    (["serve", "--model", "tiny", "--verbose"], True),
    (["bench", "transport", "--size", "64"], False),
])
def test_verbose_before_or_after_the_command(argv: list[str], verbose: bool) -> None:
    assert build_parser().parse_args(argv).verbose is verbose
