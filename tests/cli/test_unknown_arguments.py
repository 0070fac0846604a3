"""An unknown argument is refused by the command's own parser: the error shows `sdbridge serve`'s usage (not the
top-level one, which lists no serve option) and, for a misspelt option, the one meant."""

from __future__ import annotations

import pytest

from sdbridge import cli


@pytest.mark.parametrize(("argv", "prog", "tail"), [
    (["serve", "--modle", "tiny"], "sdbridge serve", "unrecognized arguments: --modle tiny (did you mean --model? "
                                                     "see sdbridge serve --help)"),
    (["serve", "--width", "100"], "sdbridge serve", "unrecognized arguments: --width 100 (see sdbridge serve --help)"),
    (["bench", "temporal", "--sizes", "64"], "sdbridge bench temporal",
     "unrecognized arguments: --sizes 64 (did you mean --size? see sdbridge bench temporal --help)"),
])
def test_the_command_refuses_its_unknown_arguments(argv: list[str], prog: str, tail: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith(f"usage: {prog} ") and err.rstrip().endswith(f"{prog}: error: {tail}"), err


def test_known_arguments_still_parse() -> None:
    args = cli.parse(["serve", "--model", "tiny", "-v"])
    assert (args.command, args.model, args.verbose) == ("serve", "tiny", True)
