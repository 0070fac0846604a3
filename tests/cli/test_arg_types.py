"""Out-of-range numbers of the commands' flags are refused while the flags are parsed (before a model loads or a
server starts), and the message names the option, the value and the limit."""

from __future__ import annotations

import pytest

from sdbridge.cli import build_parser

BAD = [
    # a traceback before: ZeroDivisionError (modulo), StatisticsError, ZeroDivisionError, division by zero
    (["demo", "--save-every", "0"], "--save-every", "0", ">= 1"),
    (["bench", "pipeline", "--frames", "0"], "--frames", "0", ">= 1"),
    (["bench", "transport", "--frames", "0"], "--frames", "0", ">= 1"),
    (["bench", "transport", "--rounds", "0"], "--rounds", "0", ">= 1"),
    # a server child died of a ConfigError and the benchmark then waited for it
    (["bench", "transport", "--window", "0"], "--window", "0", ">= 1"),
    (["bench", "preview", "--size", "0"], "--size", "0", "multiple of 8"),
    # ran and printed nothing useful (0 results, NaN rows) with exit code 0
    (["demo", "--frames", "0"], "--frames", "0", ">= 1"),
    (["demo", "--seconds", "-1"], "--seconds", "-1", "> 0"),
    (["bench", "temporal", "--frames", "0"], "--frames", "0", ">= 2"),
    # refused later, naming a config key (model.width) instead of the flag
    (["demo", "--size", "63"], "--size", "63", "e.g. 64"),
    (["bench", "fairness", "--size", "63"], "--size", "63", "multiple of 8"),
    # ValueError tracebacks from the flag's own parsing
    (["bench", "temporal", "--t-index", "32,x"], "--t-index", "'32,x'", "comma-separated"),
    (["bench", "pipeline", "--steps", "1,a"], "--steps", "'1,a'", "comma-separated"),
    (["bench", "transport", "--jpeg-quality", "200"], "--jpeg-quality", "200", "[1, 95]"),
    (["demo", "--preview-port", "70000"], "--preview-port", "70000", "[0, 65535]"),
    # torch's RuntimeError traceback from inside the model load (serve: after the dtype was logged)
    (["serve", "--device", "gpu"], "--device", "'gpu'", "is not a torch device; use cpu, cuda"),
    (["bench", "temporal", "--device", "gpu"], "--device", "'gpu'", "is not a torch device"),
    (["replay", "x.sdrec", "--device", "gpu"], "--device", "'gpu'", "is not a torch device"),
    # named the config key (limits.max_sessions=0, preview.port=70000), not the flag the user typed
    (["serve", "--max-sessions", "0"], "--max-sessions", "0", ">= 1"),
    (["serve", "--credits", "0"], "--credits", "0", ">= 1"),
    (["serve", "--preview-port", "70000"], "--preview-port", "70000", "[0, 65535]"),
    (["serve", "--metrics-port", "-1"], "--metrics-port", "-1", "[0, 65535]"),
]


@pytest.mark.parametrize(("argv", "option", "value", "limit"), BAD, ids=[" ".join(b[0]) for b in BAD])
def test_a_bad_number_is_refused_naming_the_option(argv: list[str], option: str, value: str, limit: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    message = capsys.readouterr().err.splitlines()[-1]
    assert exited.value.code == 2
    assert f"argument {option}" in message and value in message and limit in message, message


def test_good_values_parse() -> None:
    parsed = build_parser().parse_args(["bench", "temporal", "--t-index", "0,16,32", "--frames", "2"])
    assert parsed.t_index == (0, 16, 32) and parsed.frames == 2
    parsed = build_parser().parse_args(["demo", "--fps", "0", "--size", "64", "--seconds", "0.5"])
    assert parsed.fps == 0.0 and parsed.size == 64 and parsed.seconds == 0.5
    assert build_parser().parse_args(["bench", "pipeline", "--steps", "1,2,4"]).steps == (1, 2, 4)
