"""Hot reload of the rules file (RulesHost) and the replay command on a recording made without a server."""

from __future__ import annotations

import logging
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sdbridge.cli import main
from sdbridge.events.host import RulesHost
from sdbridge.pipeline import Components, StreamConfig, StreamPipeline
from sdbridge.record.format import Recording
from sdbridge.record.recorder import Recorder
from sdbridge.record.replay import replay

GOOD = """[state]
mood = { type = "string", default = "calm" }
[prompt]
template = "a {mood} lake"
[[rules]]
event = "scare"
set = { mood = "eerie" }
"""


def _rewrite(path: Path, text: str) -> None:
    stamp = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))  # a visible change even on a coarse-mtime file system


def _finished_reload(host: RulesHost, now: float) -> dict[int, Any]:
    """Poll until the reload running on its own thread has been applied (bounded wait)."""
    before = (host.reloads, host.failed_reloads)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        outcomes = host.poll(now)
        if outcomes or (host.reloads, host.failed_reloads) != before:
            return outcomes
        time.sleep(0.01)
    raise AssertionError("the rules reload did not finish within 10 s")


def test_bad_edit_is_reported_with_its_line_and_the_old_rules_stay(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(GOOD, encoding="utf-8")
    host = RulesHost(path, poll_interval=1.0)
    assert host.open(1).changes[0].values["prompt"] == "a calm lake"
    _rewrite(path, GOOD.replace('set = { mood = "eerie" }', 'set = { mood = 3 }'))
    assert host.poll(0.0) == {}  # first poll: the file changed, its reload starts on a thread of its own
    with caplog.at_level(logging.ERROR, logger="sdbridge.events.host"):
        assert _finished_reload(host, 0.0) == {}
    assert host.failed_reloads == 1 and "rules.toml:7: rules[0].set.mood" in host.last_error
    assert "the previous rules stay in force" in caplog.text and "rules.toml:7" in caplog.text
    # the old rules still run
    assert host.event(1, "scare", {}, 0.0, 0).changes[0].values["prompt"] == "a eerie lake"
    assert host.check() == {}  # the same bad file is not reported again
    assert host.failed_reloads == 1
    # a good edit applies to the live session, keeping its state
    _rewrite(path, GOOD.replace('template = "a {mood} lake"', 'template = "an {mood} forest"'))
    assert host.poll(0.5) == {}  # within the poll interval: not checked yet
    assert host.poll(1.0) == {}  # the reload starts on a thread of its own (never on the I/O thread)
    outcomes = _finished_reload(host, 1.0)
    assert outcomes[1].changes[0].values["prompt"] == "an eerie forest"
    assert host.reloads == 1 and host.last_error == ""
    # a deleted file is a failed reload too; the rules stay
    path.unlink()
    assert host.check() == {} and host.failed_reloads == 2 and "cannot read rules file" in host.last_error


def test_a_bad_edit_undone_clears_the_reported_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(GOOD, encoding="utf-8")
    host = RulesHost(path, poll_interval=1.0)
    host.open(1)
    _rewrite(path, GOOD.replace('set = { mood = "eerie" }', 'set = { mood = 3 }'))
    assert host.check() == {} and host.failed_reloads == 1 and host.last_error
    _rewrite(path, GOOD)  # the edit undone: the same rules as those in force
    with caplog.at_level(logging.INFO, logger="sdbridge.events.host"):
        assert host.check() == {}  # nothing to update
    assert host.last_error == "" and host.reloads == 0  # no stale error shown for a file that loads
    assert "loads again, the same as the rules in force" in caplog.text


def test_replay_command_reproduces_a_recording_and_a_difference_is_found(
        tiny: Components, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[tuple[str, str]] = []
    offline: list[bool] = []

    def load(name: str, device: str, dtype: object, local_files_only: bool = False) -> Components:
        loaded.append((name, device))  # the session's components, not a second load
        offline.append(local_files_only)
        return tiny

    monkeypatch.setattr("sdbridge.pipeline.load_components", load)
    recorder = Recorder(tmp_path / "rec", {"name": "tiny", "device": "cpu", "dtype": "float32"})
    frames = [0]
    recorder.open(7, {"client": "test"}, lambda: frames[0])
    pipe = recorder.wrap(7, StreamPipeline(tiny, StreamConfig(width=64, height=64, t_index_list=(20, 40), seed=3)))
    pipe.prepare(prompt="a red fox", negative_prompt="")
    rng = np.random.default_rng(5)
    outputs = []
    for i in range(4):
        if i == 2:
            pipe.update(prompt=[("a red fox", 0.5), ("a blue whale", 0.5)], seed=11, guidance_scale=1.3)
        outputs.append(pipe(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).image)
        frames[0] += 1
    recorder.close(7, wait=True)
    (path,) = recorder.finished
    assert zipfile.is_zipfile(path)
    assert main(["replay", str(path), "--out", str(tmp_path / "png")]) == 0
    assert "all 4 outputs identical" in capsys.readouterr().out
    assert loaded == [("tiny", "cpu")] and offline == [True]  # the recorded model, from disk only (no download)
    assert len(list((tmp_path / "png").glob("*.png"))) == 4
    # tamper with one recorded output: the replay says so and exits 1
    tampered = tmp_path / "tampered.sdrec"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "frames/000003-out.npy":
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(item, data)
    with Recording(tampered) as recording:
        report = replay(recording, tiny)
    assert report.mismatches == [3] and report.max_abs_diff >= 1 and not report.identical
