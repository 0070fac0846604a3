"""`sdbridge demo --subprocess` whose server exits before serving says so and points at the error printed above it
(it said 'did not start; run it alone to see why' under the server's own error line)."""

from __future__ import annotations

import logging

import pytest

from sdbridge import cli


@pytest.mark.slow
def test_a_server_that_exits_is_reported_with_its_code(caplog: pytest.LogCaptureFixture,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--subprocess", "--model", "no-such-model-here", "--frames", "2", "--no-preview"]) == 2
    err = capfd.readouterr().err
    assert "'no-such-model-here' is not a preset" in err  # the server's own error, from the subprocess
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["the `sdbridge serve` subprocess exited (code 2) before serving: its error is printed above; "
                      "fix that option and run again"], errors
