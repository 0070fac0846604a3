"""`sdbridge drain --timeout S` without --wait is refused before the replica is told to drain (the timeout bounds only
the wait, and was ignored without a word), and a timeout that is no positive number is refused while parsing."""

from __future__ import annotations

import logging

import pytest

from sdbridge import cli
from sdbridge.commands import drain


def test_timeout_without_wait_is_refused_before_any_request(monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    asked: list[str] = []
    monkeypatch.setattr(drain, "request_drain", lambda base, grace: asked.append(base) or 0.0)
    assert cli.main(["drain", "--metrics-port", "9464", "--timeout", "5"]) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert asked == [], message
    assert "--timeout 5 bounds only the wait for the replica's exit, and --wait is not given" in message, message
    assert cli.main(["drain", "--metrics-port", "9464"]) == 0 and asked == ["http://127.0.0.1:9464"]


def test_a_timeout_that_is_no_positive_number_is_refused_while_parsing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["drain", "--wait", "--timeout", "-1"])
    assert exited.value.code == 2
    assert "argument --timeout" in capsys.readouterr().err
