"""`sdbridge serve --rules FILE --record DIR` as a real process, then `sdbridge replay` as a real process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sdbridge.transport.client import BridgeClient
from tests.integration.test_serve_process import _start_server

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_bad_rules_file_stops_serve_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[state]\nx = { type = "int", default = 5, max = 3 }\n[prompt]\ntemplate = "{x}"\n',
                   encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "sdbridge.cli", "serve", "--model", "identity", "--bind",
                           "tcp://127.0.0.1:*", "--rules", str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "bad.toml:2: state.x.default" in proc.stderr and "above its max=3" in proc.stderr


def test_serve_with_rules_records_and_replay_reproduces(tmp_path: Path) -> None:
    rules = ROOT / "configs" / "rules" / "survival_horror.toml"
    proc, endpoint = _start_server("--rules", str(rules), "--record", str(tmp_path / "rec"))
    try:
        rng = np.random.default_rng(1)
        with BridgeClient(endpoint, name="horror") as client:
            client.connect(timeout=10)
            for i in range(6):
                if i == 1:
                    client.send_event("enter_room", {"room": "morgue"})
                if i == 3:
                    client.send_event("jump_scare")
                    client.set_state("mood", "terrified")
                client.submit(rng.integers(0, 256, (24, 32, 4), dtype=np.uint8))
                assert client.receive(timeout=30) is not None
            assert client.last_error is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    (recording,) = (tmp_path / "rec").glob("session-*.sdrec")
    assert recording.is_file()
    out = subprocess.run([sys.executable, "-m", "sdbridge.cli", "replay", str(recording)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "all 6 outputs identical" in out.stdout
    from sdbridge.record.format import Recording

    with Recording(recording) as rec:
        entries = list(rec.entries())
    prompts = [e.data["values"]["prompt"] for e in entries if e.kind == "update" and "prompt" in e.data["values"]]
    # the room copied from the event payload: a 1.5 s blend towards it starts (the identity model is fast, so
    # the next event comes early in the blend)
    assert any(isinstance(p, list) and p[-1][0] == "grainy 35mm film still, morgue, uneasy atmosphere"
               for p in prompts), prompts
    assert "grainy 35mm film still, morgue, something moves in the dark" in prompts  # the scare effect
    events = [(e.kind, e.data.get("name")) for e in entries if e.kind in ("event", "state")]
    assert events == [("event", "enter_room"), ("event", "jump_scare"), ("state", None)]
