"""`sdbridge serve --model identity` does not log which dtype `auto` picked (at info level): the identity model
computes nothing, so 'dtype auto picked bfloat16 for device cpu: CPU with AVX512-BF16 ...' was noise; a real model
still logs it."""

from __future__ import annotations

import logging

import pytest

from sdbridge.commands.serve import resolve_auto_dtype
from sdbridge.config import Dtype, ServerConfig, with_overrides


@pytest.mark.parametrize(("model", "shown"), [("tiny", True), ("identity", False)])
def test_the_auto_dtype_line(model: str, shown: bool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sdbridge.commands.serve")
    cfg = resolve_auto_dtype(with_overrides(ServerConfig(), model={"name": model, "dtype": Dtype.AUTO}))
    assert cfg.model.dtype is not Dtype.AUTO
    lines = [r for r in caplog.records if "dtype auto picked" in r.getMessage()]
    assert len(lines) == 1 and (lines[0].levelno == logging.INFO) == shown
