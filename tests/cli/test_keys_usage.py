"""`sdbridge keys` without its action names the one there is ("the following arguments are required: ACTION" made a
newcomer open --help to learn that ACTION means `generate`)."""

from __future__ import annotations

import pytest

from sdbridge import cli


def test_keys_without_action_names_generate(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["keys"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "usage: sdbridge keys [-h] [-v] generate ..." in err and "required: generate" in err, err
