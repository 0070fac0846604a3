"""Recording never hurts serving: a full disk or an unusable record folder stops the recording of the session
concerned (one warning line each) while the session is served as before, and `serve --record DIR` refuses a
folder it cannot write in at start."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.errors import ConfigError
from sdbridge.record.format import Recording, RecordingWriter, RecordLimits
from sdbridge.record.recorder import Recorder, check_folder
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient
from tests.conftest import wait_for

IMAGE = np.arange(16 * 24 * 4, dtype=np.uint8).reshape(16, 24, 4)
STOPPED = "recording"  # the warning: "recording <folder> stopped: ..." / "session N is not recorded: ..."


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("sdbridge.record") and r.levelno == logging.WARNING]


@pytest.fixture
def record_server(tmp_path: Path) -> Iterator[BridgeServer]:
    cfg = with_overrides(ServerConfig(), model={"name": "identity"}, top={"bind": "tcp://127.0.0.1:*"},
                         limits={"max_sessions": 2})
    server = BridgeServer(cfg, record_dir=str(tmp_path / "rec"))
    server.start_in_thread()
    yield server
    server.close()


def _serve_frames(endpoint: str, frames: int = 5, name: str = "game") -> BridgeClient:
    """A session that sends an event and `frames` frames; every frame must come back unchanged."""
    client = BridgeClient(endpoint, name=name)
    client.connect(timeout=5)
    client.send_event("door_opened", {"room": "hall"})
    for i in range(frames):
        client.submit(IMAGE)
        result = client.receive(timeout=5)
        assert result is not None, f"frame {i} got no Result ({client.last_error})"
        assert np.array_equal(result.image, IMAGE)
    assert client.last_error is None, client.last_error
    return client


def _on_full_disk(path: Path, meta: Mapping[str, Any], limits: RecordLimits) -> RecordingWriter:
    """A real writer whose log is /dev/full: every log line's write fails with ENOSPC from the kernel."""
    return RecordingWriter(path, meta, limits, open_log=lambda _: open("/dev/full", "w", encoding="utf-8"))


def test_full_disk_stops_only_the_recording(record_server: BridgeServer, caplog: pytest.LogCaptureFixture) -> None:
    """Every write of a recording's log lands on /dev/full (ENOSPC from the kernel): frames still get Results."""
    record_server.recorder.writer_factory = _on_full_disk  # before any session opens
    with caplog.at_level(logging.WARNING, logger="sdbridge.record"):
        for round_ in range(3):  # more sessions than max_sessions=2: none is left behind
            with _serve_frames(record_server.endpoint, name=f"game-{round_}"):
                pass
            wait_for(lambda: not list(record_server.table.sessions()))
    warnings = _warnings(caplog)
    assert len(warnings) == 3, warnings  # one line per session, not one per frame
    assert all("stopped: No space left on device" in w and "goes on without recording" in w for w in warnings)


def test_a_full_disk_stops_the_recording_of_its_session_only(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """The recorder makes each session's writer with its writer factory: one on a full disk stops (one warning)
    while the other session's recording goes on and is packed."""

    def writers(path: Path, meta: Mapping[str, Any], limits: RecordLimits) -> RecordingWriter:
        make = _on_full_disk if meta["session"]["id"] == 1 else RecordingWriter
        return make(path, meta, limits)

    recorder = Recorder(tmp_path / "rec", {"name": "identity"}, writer_factory=writers)
    full, fine = recorder.open(1, {"client": "a"}, lambda: 0), recorder.open(2, {"client": "b"}, lambda: 0)
    assert full is not None and fine is not None
    with caplog.at_level(logging.WARNING, logger="sdbridge.record"):
        for session_id in (1, 2, 1, 2, 1, 2):
            recorder.note(session_id, "event", name="x", payload={})
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and full.name in warnings[0] and "stopped: No space left on device" in warnings[0]
    recorder.close(1, wait=True)
    recorder.close(2, wait=True)
    assert full.is_dir() and fine.is_file()  # the failed one stays a folder; the other was packed
    with Recording(fine) as recording:
        assert [e.kind for e in recording.entries()] == ["event"] * 3


def test_unusable_record_folder_serves_every_hello(record_server: BridgeServer, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The record folder is replaced by a file after the start (as root, chmod would not stop writes):
    each Hello is still welcomed, frames come back, and sessions are freed (no ALREADY_CONNECTED or
    SESSION_LIMIT on retries)."""
    folder = tmp_path / "rec"
    shutil.rmtree(folder)
    folder.write_text("not a folder any more", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="sdbridge.record"):
        for round_ in range(4):  # twice max_sessions
            with _serve_frames(record_server.endpoint, name=f"game-{round_}"):
                pass
            wait_for(lambda: not list(record_server.table.sessions()))
    warnings = _warnings(caplog)
    assert len(warnings) == 4 and all("is not recorded" in w and "Not a directory" in w for w in warnings), warnings
    assert record_server.stats.rejected_total == 0


def test_writer_failure_mid_session_keeps_what_was_written(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """A recording whose folder disappears mid-session: later writes are dropped quietly (one warning) and
    the pipeline call still returns its result; close() neither raises nor packs."""

    class Pipe:
        config = None

        def __call__(self, image: np.ndarray) -> Any:
            return type("R", (), {"image": image, "is_warmup": False, "skipped": False})()

        def prepare(self, prompt: Any = "", negative_prompt: Any = "") -> None:
            pass

    recorder = Recorder(tmp_path / "rec", {"name": "identity"})
    path = recorder.open(1, {"client": "t"}, lambda: 0)
    assert path is not None
    pipe = recorder.wrap(1, Pipe())
    pipe(np.zeros((4, 4, 3), np.uint8))
    shutil.rmtree(path / "frames")
    with caplog.at_level(logging.WARNING, logger="sdbridge.record"):
        for _ in range(3):
            out = pipe(np.ones((4, 4, 3), np.uint8))
            assert np.array_equal(out.image, np.ones((4, 4, 3), np.uint8))
            recorder.note(1, "event", name="x", payload={})
    assert len(_warnings(caplog)) == 1
    recorder.close(1, wait=True)
    assert recorder.finished == [path] and path.is_dir()  # kept as a folder, as written
    with Recording(path) as recording:
        assert [e.kind for e in recording.entries()] == ["build", "call"]


def test_a_failed_pack_keeps_the_folder_and_leaves_no_partial_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(tmp_path / "rec", {"name": "identity"})
    path = recorder.open(1, {"client": "t"}, lambda: 0)
    assert path is not None
    recorder.note(1, "event", name="x", payload={})

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(zipfile.ZipFile, "write", full)
    with caplog.at_level(logging.WARNING, logger="sdbridge.record"):
        recorder.close(1, wait=True)
    assert [r.exc_info for r in caplog.records if r.name.startswith("sdbridge.record")] == [None]
    assert "could not pack recording" in caplog.text and "No space left on device" in caplog.text
    assert path.is_dir() and sorted(p.name for p in path.parent.iterdir()) == [path.name]
    with Recording(path) as recording:
        assert [e.kind for e in recording.entries()] == ["event"]


def test_check_folder_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"a-file/rec' \(--record\): cannot create it \(Not a directory\)"):
        check_folder(blocker / "rec")
    if Path("/proc/self").is_dir():  # an existing folder nobody can create files in, even root
        with pytest.raises(ConfigError, match=r"cannot write a file in it"):
            check_folder("/proc/self")
    made = check_folder(tmp_path / "new" / "rec")
    assert made.is_dir() and list(made.iterdir()) == []  # the probe file is gone


@pytest.mark.integration
def test_serve_refuses_an_unusable_record_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "sdbridge.cli", "serve", "--model", "identity", "--bind",
                           "tcp://127.0.0.1:*", "--record", str(blocker / "rec")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "--record" in proc.stderr and "cannot create it (Not a directory)" in proc.stderr
    assert "Traceback" not in proc.stderr
