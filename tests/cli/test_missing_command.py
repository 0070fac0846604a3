"""`sdbridge` and `sdbridge bench` without a command name the commands they take (they said "the following
arguments are required: COMMAND" / "BENCHMARK", and a newcomer had to find --help to learn what to type)."""

from __future__ import annotations

import pytest

from sdbridge.cli import build_parser


@pytest.mark.parametrize(("argv", "names"), [
    ([], ["demo", "bench", "serve", "check", "build-engines", "keys", "replay", "drain"]),
    (["bench"], ["pipeline", "transport", "preview", "fairness", "temporal"]),
])
def test_the_error_lists_the_commands(argv: list[str], names: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.endswith("the following arguments are required: {" + ",".join(names) + "}"), last
