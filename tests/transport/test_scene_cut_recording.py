"""Frame.scene_cut (protocol 1.4) in a recording: the server's recorder writes a "scene_cut" line where the
pipeline dropped its temporal state, between the calls of the frames before and after the cut, so that
`sdbridge replay` (which re-runs "scene_cut" lines) cuts at the same place."""

from __future__ import annotations

from pathlib import Path

from sdbridge.record.format import WORKER_KINDS, Recording
from sdbridge.transport.client import BridgeClient

from .test_protocol14 import Served, _round_trip


def test_a_scene_cut_is_recorded_between_the_calls_it_separates(tmp_path: Path) -> None:
    s = Served(record_dir=str(tmp_path / "rec"))
    s.server.start_in_thread()
    try:
        with BridgeClient(s.server.endpoint, name="recorded-cut") as client:
            client.connect(timeout=10)
            _round_trip(client)
            _round_trip(client, scene_cut=True)
            _round_trip(client)
        s.server.recorder.close_all()
    finally:
        s.server.close()
    (path,) = sorted((tmp_path / "rec").glob("session-*.sdrec"))
    with Recording(path) as recording:
        kinds = [e.kind for e in recording.entries() if e.kind in ("scene_cut", "call")]
    assert kinds == ["call", "scene_cut", "call", "call"]
    assert "scene_cut" in WORKER_KINDS  # replay re-runs it
