"""A benchmark helper that fails before it is ready prints no traceback: `sdbridge bench preview --model nosuch`
showed the helper's traceback above the clean error. The parent raises BridgeError with the error's one line and logs
the child's traceback at debug level (shown with `sdbridge -v`)."""

from __future__ import annotations

import logging
import sys
from multiprocessing.connection import Connection

import pytest

from sdbridge.bench.child import spawn_ready
from sdbridge.errors import BridgeError, ModelNotFoundError


def _fails(conn: Connection, name: str) -> None:
    print("helper-started", file=sys.stderr, flush=True)  # proves the helper's stderr is captured
    raise ModelNotFoundError(f"unknown model {name!r}: not a preset")


def _breaks(conn: Connection) -> None:
    {}["missing"]  # a helper's own bug, not one of our errors


def test_a_helper_error_is_one_line_and_its_traceback_is_debug(capfd: pytest.CaptureFixture[str],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sdbridge.bench.child")
    with pytest.raises(BridgeError) as caught:
        spawn_ready(_fails, "nosuch", start_timeout=120)
    assert str(caught.value) == "benchmark helper _fails could not start: unknown model 'nosuch': not a preset"
    err = capfd.readouterr().err
    assert "helper-started" in err and "Traceback" not in err, err
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("Traceback" in m and "ModelNotFoundError" in m for m in debug), debug


def test_another_exception_names_its_type(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(BridgeError, match=r"_breaks could not start: KeyError: 'missing'$"):
        spawn_ready(_breaks, start_timeout=120)
    assert "Traceback" not in capfd.readouterr().err
