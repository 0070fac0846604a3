"""Without -v, torch's INFO lines stay off the console as websockets' do (a user who pressed Ctrl-C while
`sdbridge serve` started saw "INFO torch._subclasses.fake_tensor: FakeTensor cache stats: cache_hits: 0 ..."); its
warnings still show, and with -v everything does."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator

import pytest

from sdbridge.commands.library_logs import quiet_libraries


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """quiet_libraries' process-wide switches, undone after the test."""
    loggers = [logging.getLogger(name) for name in ("torch", "websockets", "")]
    before = [logger.level for logger in loggers]
    for logger, level in zip(loggers, (logging.NOTSET, logging.NOTSET, logging.INFO), strict=True):
        logger.setLevel(level)  # setLevel, not the attribute: it clears isEnabledFor's caches
    for variable in ("DIFFUSERS_VERBOSITY", "TRANSFORMERS_VERBOSITY"):
        monkeypatch.setenv(variable, "error")
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    with warnings.catch_warnings():
        yield
    for logger, level in zip(loggers, before, strict=True):
        logger.setLevel(level)


@pytest.mark.usefixtures("isolated")
def test_torch_info_lines_are_dropped_without_verbose() -> None:
    quiet_libraries(False)
    fake_tensor = logging.getLogger("torch._subclasses.fake_tensor")
    assert not fake_tensor.isEnabledFor(logging.INFO)
    assert fake_tensor.isEnabledFor(logging.WARNING)
    assert not logging.getLogger("websockets.server").isEnabledFor(logging.INFO)


@pytest.mark.usefixtures("isolated")
def test_verbose_keeps_them() -> None:
    quiet_libraries(True)
    assert logging.getLogger("torch._subclasses.fake_tensor").isEnabledFor(logging.INFO)
