"""The rules engine stays pure (no torch, sockets or server imports); the recorder needs no torch."""

from __future__ import annotations

from tests.test_architecture import offenders


def test_events_import_no_torch_no_sockets_no_server() -> None:
    assert offenders("events", ("torch", "diffusers", "transformers", "sdbridge.pipeline", "zmq",
                                "sdbridge.server", "sdbridge.transport", "sdbridge.protocol", "sdbridge.runtime")) == []


def test_recording_writer_imports_no_torch() -> None:
    assert offenders("record", ("torch", "sdbridge.server", "zmq")) == []
    # the replay side (replay.py, and ip_adapter.py: the adapter a replay loads) imports the pipeline only inside its
    # functions (checked here by name, not by import position); the writer side never does
    replay_side = ("record/replay.py", "record/ip_adapter.py")
    assert all(o.startswith(replay_side) for o in offenders("record", ("sdbridge.pipeline",)))
