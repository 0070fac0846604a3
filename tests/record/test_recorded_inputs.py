"""Only what the server accepted is recorded (a refused message is not written at all), and one recorded
engine input keeps at most limits.max_event_payload_bytes of JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.record.format import Recording, RecordLimits
from sdbridge.record.recorder import Recorder, bounded_input
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

IMAGE = np.arange(8 * 8 * 4, dtype=np.uint8).reshape(8, 8, 4)


def _recorded(folder: Path) -> list[tuple[str, dict]]:
    (path,) = sorted(folder.glob("session-*.sdrec"))
    with Recording(path) as recording:
        return [(e.kind, dict(e.data)) for e in recording.entries()]


def _drain(client: BridgeClient) -> None:
    client.submit(IMAGE)  # a frame round trip: every message sent before it was handled
    assert client.receive(timeout=5) is not None


def test_refused_messages_are_not_recorded(tmp_path: Path) -> None:
    cfg = with_overrides(ServerConfig(), model={"name": "identity"}, top={"bind": "tcp://127.0.0.1:*"},
                         limits={"max_events_per_second": 3})
    server = BridgeServer(cfg, record_dir=str(tmp_path / "rec"))
    server.start_in_thread()
    try:
        with BridgeClient(server.endpoint, name="refusals") as client:
            client.connect(timeout=5)
            client.set_params(guidance_scale=1.25)  # accepted
            client.set_params(guidance_scale=1.75, stream_id=1)  # refused: one stream per session
            client.set_prompt("a refused prompt", stream_id=1)  # refused
            client.set_prompt("an accepted prompt")
            for i in range(10):  # a burst of 3 is allowed, the rest refused by limits.max_events_per_second
                client.send_event("burst", {"i": i})
            _drain(client)
            refused = list(client.counters.recent_errors)
            assert sum(1 for e in refused if "stream_id=1" in e.message) == 2, refused
            accepted_events = 10 - sum(1 for e in refused if "GameEvent refused" in e.message)
        server.recorder.close_all()
        lines = _recorded(tmp_path / "rec")
    finally:
        server.close()
    params = [data for kind, data in lines if kind == "params"]
    prompts = [data["text"] for kind, data in lines if kind == "prompt"]
    events = [data["payload"]["i"] for kind, data in lines if kind == "event"]
    assert params == [{"guidance_scale": 1.25}]
    assert prompts == ["an accepted prompt"]
    assert len(events) == accepted_events and 3 <= accepted_events < 10 and events == sorted(events)
    updates = [data["values"] for kind, data in lines if kind == "update"]  # what replay re-applies
    assert all(u.get("guidance_scale") != 1.75 and u.get("prompt") != "a refused prompt" for u in updates), updates


def test_a_recorded_input_keeps_at_most_the_payload_budget(tmp_path: Path) -> None:
    """State and GameEvent payloads can unpack far beyond their wire size (shared strings); the recording
    keeps at most limits.max_event_payload_bytes of each input and says what it left out."""
    budget = 2048
    recorder = Recorder(tmp_path / "rec", {"name": "identity"}, RecordLimits.from_config(
        with_overrides(ServerConfig(), limits={"max_event_payload_bytes": budget}).limits))
    recorder.open(3, {"client": "t"}, lambda: 0)
    shared = "x" * 4096
    recorder.note(3, "event", name="loot", payload={f"k{i}": shared for i in range(64)}, frame_id=5)
    recorder.note(3, "state", entries={"hp": 10}, replace_all=False)
    recorder.close(3, wait=True)
    (path,) = recorder.finished
    with Recording(path) as recording:
        entries = list(recording.entries())
    event, state = entries
    assert event.data["name"] == "loot" and event.data["frame_id"] == 5
    assert event.data["payload"] == {"$omitted_bytes": len(json.dumps({f"k{i}": shared for i in range(64)},
                                                                      separators=(",", ":"))),
                                     "limit": f"limits.max_event_payload_bytes={budget}"}
    assert state.data["entries"] == {"hp": 10}  # small inputs are kept whole
    assert bounded_input({"a": "y" * 10}, 100) == {"a": "y" * 10}


def test_an_over_budget_event_is_not_recorded_whole_by_the_server(tmp_path: Path) -> None:
    """End to end: whatever the server does with a GameEvent above the budget (refuse it, or keep it), its
    recording line stays within the budget."""
    budget = 1024
    cfg = with_overrides(ServerConfig(), model={"name": "identity"}, top={"bind": "tcp://127.0.0.1:*"},
                         limits={"max_event_payload_bytes": budget})
    server = BridgeServer(cfg, record_dir=str(tmp_path / "rec"))
    server.start_in_thread()
    try:
        with BridgeClient(server.endpoint, name="big") as client:
            client.connect(timeout=5)
            client.send_event("big", {f"k{i}": "v" * 1000 for i in range(8)})
            _drain(client)
        server.recorder.close_all()
        (path,) = sorted((tmp_path / "rec").glob("session-*.sdrec"))
        with Recording(path) as recording:
            events = [e for e in recording.entries() if e.kind == "event"]
    finally:
        server.close()
    for event in events:
        assert len(json.dumps(event.data["payload"])) <= budget
