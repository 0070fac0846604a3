"""`sdbridge replay` treats its file as untrusted: bounded lines (and linear time), frames checked from their
header before any data is read, regular files only, bounded nesting, and a one-line error naming the line
(never a traceback) for a bad CRC, a negative call index or an unknown config key."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sdbridge.cli import main
from sdbridge.errors import InputError
from sdbridge.record.format import Recording, RecordingWriter, RecordLimits
from sdbridge.record.replay import replay

META = {"format": "sdbridge-recording", "version": 1, "model": {"name": "tiny", "device": "cpu"}}
BUILD = {"seq": 0, "t": 0.0, "frame": 0, "kind": "build", "width": 8, "height": 8,
         "config": {"width": 8, "height": 8}}


def _line(**fields: Any) -> bytes:
    return json.dumps({"seq": 1, "t": 0.0, "frame": 0, **fields}).encode() + b"\n"


def _folder(tmp_path: Path, log: bytes, frames: dict[str, bytes] | None = None) -> Path:
    """A recording folder with meta.json, the given log.jsonl and frames/<name>."""
    folder = tmp_path / "crafted.sdrec"
    (folder / "frames").mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps(META), encoding="utf-8")
    (folder / "log.jsonl").write_bytes(log)
    for name, data in (frames or {}).items():
        (folder / "frames" / name).write_bytes(data)
    return folder


def _entries(path: Path, limits: RecordLimits | None = None) -> list[Any]:
    with Recording(path, limits) as recording:
        return list(recording.entries())


def _peak_mib(action: Callable[[], object]) -> float:
    """Peak traced Python memory (MiB) while `action` runs (it is expected to raise InputError)."""
    tracemalloc.start()
    try:
        with pytest.raises(InputError):
            action()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


class _FakePipeline:
    """Stands in for build_pipeline's result: replay's own checks are under test, not the model."""

    def __init__(self, *_: object) -> None:
        self.calls: list[np.ndarray] = []

    def prepare(self, **_: object) -> None:
        pass

    def update(self, **_: object) -> None:
        pass

    def __call__(self, image: np.ndarray) -> Any:
        self.calls.append(image)
        return type("R", (), {"image": image, "is_warmup": False, "skipped": False})()


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sdbridge.pipeline.build_pipeline", lambda components, config: _FakePipeline())


# ------------------------------------------------------------------------------------------ lines


def test_a_line_over_the_bound_names_its_number_and_the_bound(tmp_path: Path) -> None:
    limits = RecordLimits(max_input_bytes=100, max_line_bytes=1000, max_frame_bytes=10_000)
    folder = _folder(tmp_path, json.dumps(BUILD).encode() + b"\n" + b"x" * 5000 + b"\n")
    with pytest.raises(InputError, match=r"log.jsonl: line 2 is longer than 1000 bytes"):
        _entries(folder, limits)


def test_a_huge_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    folder = _folder(tmp_path, b'{"seq": 0, "note": "' + b"y" * (48 * 2**20) + b'"}\n')
    bound = RecordLimits.from_config().max_line_bytes
    assert bound < 2 * 2**20
    assert _peak_mib(lambda: _entries(folder)) < 8  # the 48 MiB line never sits in memory


def test_a_file_of_newlines_stops_at_its_first_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path, b"\n" * (4 * 2**20))
    with pytest.raises(InputError, match=r"line 1 is empty"):
        _entries(folder)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    for depth in (40, 100_000):  # beyond the recording's bound; beyond what json can parse recursively
        folder = _folder(tmp_path / str(depth), b"[" * depth + b"]" * depth + b"\n")
        with pytest.raises(InputError, match=r"line 1: JSON nested"):
            _entries(folder)


def test_a_truncated_last_line_is_skipped_but_a_bad_line_before_it_is_not(tmp_path: Path) -> None:
    good = json.dumps(BUILD).encode() + b"\n"
    assert [e.kind for e in _entries(_folder(tmp_path / "a", good + b'{"seq": 1, "ki'))] == ["build"]
    with pytest.raises(InputError, match=r"line 1 is not JSON"):
        _entries(_folder(tmp_path / "b", b'{"seq": 1, "ki\n' + good))


# ------------------------------------------------------------------------------------------ frames


def _npy_header(shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def test_a_huge_declared_frame_is_refused_before_reading(tmp_path: Path) -> None:
    call = _line(kind="call", call=0, is_warmup=False, skipped=False)
    folder = _folder(tmp_path, json.dumps(BUILD).encode() + b"\n" + call,
                     {"000000-in.npy": _npy_header((20000, 20000, 3)) + b"\0" * 64})
    with Recording(folder) as recording:
        peak = _peak_mib(lambda: recording.frame(0, "in"))
        with pytest.raises(InputError, match=r"declares 1200000000 bytes .* above the largest frame"):
            recording.frame(0, "in")
    assert peak < 8


def test_a_frame_shorter_than_declared_is_damaged(tmp_path: Path) -> None:
    folder = _folder(tmp_path, json.dumps(BUILD).encode() + b"\n",
                     {"000000-in.npy": _npy_header((8, 8, 3)) + b"\0" * 10})
    with Recording(folder) as recording, pytest.raises(InputError, match=r"holds 10: the file is damaged"):
        recording.frame(0, "in")


# ------------------------------------------------------------------------------------------ file types


def test_links_to_devices_are_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, b"")
    (folder / "log.jsonl").unlink()
    (folder / "log.jsonl").symlink_to("/dev/zero")
    with pytest.raises(InputError, match=r"log.jsonl is a character device, not a regular file"):
        _entries(folder)
    link = tmp_path / "zero.sdrec"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match=r"is a character device, not a regular file"):
        Recording(link)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    folder = _folder(tmp_path, b"")
    (folder / "log.jsonl").unlink()
    os.mkfifo(folder / "log.jsonl")
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            _entries(folder)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)  # a blocked open would hang here, not the test
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "opening the FIFO blocked"
    assert isinstance(outcome[0], InputError) and "is a FIFO, not a regular file" in str(outcome[0])


# ------------------------------------------------------------------------------------------ zip, fields


def _packed(tmp_path: Path) -> Path:
    writer = RecordingWriter(tmp_path / "real.sdrec", {"model": {"name": "tiny"}})
    writer.write("build", 0, width=8, height=8, config={"width": 8, "height": 8})
    writer.write_call(1, np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 9, np.uint8), is_warmup=False,
                      skipped=False)
    return writer.close(pack=True)


def test_a_bad_crc_is_one_clear_error(tmp_path: Path) -> None:
    path = _packed(tmp_path)
    data = path.read_bytes()
    at = data.index(b'"kind":"build"')
    path.write_bytes(data[:at] + b'"kind":"bUild"' + data[at + 14:])  # same length: only the CRC tells
    with Recording(path) as recording, pytest.raises(InputError, match=r"log.jsonl cannot be read: Bad CRC-32"):
        list(recording.entries())


def test_a_negative_call_index_names_its_line(tmp_path: Path, fake_build: None) -> None:
    folder = _folder(tmp_path, json.dumps(BUILD).encode() + b"\n" + _line(kind="call", call=-1))
    with Recording(folder) as recording, pytest.raises(InputError, match=r"line 2: call index -1"):
        replay(recording, components=None)


def test_an_unknown_config_key_names_it(tmp_path: Path, fake_build: None) -> None:
    build = {**BUILD, "config": {"width": 8, "height": 8, "turbo_mode": True}}
    folder = _folder(tmp_path, json.dumps(build).encode() + b"\n")
    with Recording(folder) as recording, pytest.raises(
            InputError, match=r"log.jsonl line 1 \(build\): config keys \['turbo_mode'\] are not StreamConfig"):
        replay(recording, components=None)


def test_a_sound_crafted_recording_still_replays(tmp_path: Path, fake_build: None) -> None:
    """The checks refuse only what is wrong: the packed recording above replays through the fake pipeline."""
    with Recording(_packed(tmp_path)) as recording:
        report = replay(recording, components=None)
    assert report.builds == 1 and report.calls == 1 and report.mismatches == [0]  # the fake echoes its input


def test_the_cli_exits_non_zero_with_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                              capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
                                              fake_build: None) -> None:
    monkeypatch.setattr("sdbridge.pipeline.load_components", lambda name, device, dtype, local_files_only=False: None)
    folder = _folder(tmp_path, json.dumps(BUILD).encode() + b"\n" + _line(kind="call", call=-1))
    with caplog.at_level(logging.ERROR):
        assert main(["replay", str(folder)]) == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert "line 2: call index -1" in errors[0].getMessage()
    assert "Traceback" not in capsys.readouterr().err


def test_a_zip_member_declaring_more_than_a_frame_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.sdrec"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.json", json.dumps(META))
        archive.writestr("log.jsonl", json.dumps(BUILD) + "\n")
        archive.writestr("frames/000000-in.npy", _npy_header((4096, 4096, 3)) + b"\0" * (4096 * 4096 * 3))
    limits = RecordLimits(max_input_bytes=100, max_line_bytes=10_000, max_frame_bytes=64 * 64 * 4)
    with Recording(path, limits) as recording:
        peak = _peak_mib(lambda: recording.frame(0, "in"))
    assert peak < 8  # refused from the member's declared size, before inflating 48 MiB
