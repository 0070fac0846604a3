"""Protocol 1.4 in a recording: the server's recorder writes a "scene_cut" line where the pipeline dropped its
temporal state (between the calls of the frames before and after the cut), so that `sdbridge replay` (which re-runs
"scene_cut" lines) cuts at the same place; and a style image's pixels with a "styles" line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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


def test_a_style_image_is_recorded_with_its_pixels(tmp_path: Path) -> None:
    """A StyleImage's update is written as a "styles" line and the image's array (frames/<set>-style-<k>.npy),
    which replay gives back to the pipeline as update(style_images=...); the update's other values follow."""
    s = Served(record_dir=str(tmp_path / "rec"), ip_adapter="tiny")
    s.server.start_in_thread()
    image = np.random.default_rng(4).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    try:
        with BridgeClient(s.server.endpoint, name="recorded-style") as client:
            client.connect(timeout=10)
            client.send_style_image("ink", image)
            client.set_params(style_blend=[("ink", 1.0)])
            _round_trip(client)
        s.server.recorder.close_all()
    finally:
        s.server.close()
    (path,) = sorted((tmp_path / "rec").glob("session-*.sdrec"))
    with Recording(path) as recording:
        entries = [(e.kind, dict(e.data)) for e in recording.entries()]
        styles = [data for kind, data in entries if kind == "styles"]
        assert styles == [{"set": 0, "names": ["ink"]}]
        np.testing.assert_array_equal(recording.frame(0, "style-0"), image)
    updates = [data["values"] for kind, data in entries if kind == "update"]
    assert {"style_blend": [["ink", 1.0]]} in updates and not any("style_images" in u for u in updates)
    assert "styles" in WORKER_KINDS
