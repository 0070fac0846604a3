"""`sdbridge demo` runs the server and the synthetic game client, ends by itself and writes PNG pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sdbridge.cli import main

pytestmark = pytest.mark.integration


def test_demo_identity_writes_input_output_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--model", "identity", "--size", "32", "--frames", "6", "--save-every", "2",
                 "--fps", "200", "--out", str(tmp_path), "--preview-port", "0"])
    assert code == 0
    out = capsys.readouterr().out
    assert "preview page: http://127.0.0.1:" in out and "session=" in out  # the demo opens with the page
    assert "6 results" in out and "results/s" in out and "round trip p50" in out
    pngs = sorted(tmp_path.glob("pair_*.png"))
    assert len(pngs) >= 2
    pair = np.asarray(Image.open(pngs[0]))
    assert pair.shape == (32, 64, 3)
    np.testing.assert_array_equal(pair[:, :32], pair[:, 32:])  # identity: output == its own input


def test_demo_stops_after_seconds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--model", "identity", "--size", "32", "--frames", "1000000", "--seconds", "1",
                 "--out", str(tmp_path), "--no-preview"])
    assert code == 0
    assert "results from" in capsys.readouterr().out
