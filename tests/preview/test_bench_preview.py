"""`sdbridge bench preview` runs end to end (a smoke run: figures are printed, never asserted on)."""

from __future__ import annotations

import pytest

from sdbridge.cli import main

pytestmark = pytest.mark.integration


def test_bench_preview_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "preview", "--size", "64", "--seconds", "1", "--rounds", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "no page    median" in out and "page open  median" in out and "median of per-round ratios" in out
    assert "preview thread CPU" in out
    received = float(out.split("the websocket page received ")[1].split(" ")[0])
    assert received > 0  # the page really got previews while the stream ran
