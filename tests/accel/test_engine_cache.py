"""Engine keys, manifests and atomic builds: an interrupted build (exception or SIGKILL) leaves nothing loadable."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sdbridge.acceleration.engine_cache import BUILDING_PREFIX, MANIFEST, EngineCache, EngineKey
from sdbridge.errors import EngineBuildError


def _key(**changes: object) -> EngineKey:
    base = EngineKey(component="unet", model="owner/model", weights_hash="ab" * 16,
                     shapes={"batch": [1, 2, 4], "height": [256, 512, 768], "width": [256, 512, 768]},
                     dtype="float16", backend="tensorrt", backend_version="10.3.0", gpu_arch="sm_89", opset=17)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _write(text: str) -> object:
    def produce(folder: Path, step: object) -> None:
        step("write")  # type: ignore[operator]
        (folder / "engine.bin").write_text(text)
    return produce


def test_key_digest_is_stable_and_every_field_counts() -> None:
    assert _key().digest == _key().digest
    assert len(_key().digest) == 64
    changed = [_key(component="vae_decoder"), _key(model="other/model"), _key(weights_hash="cd" * 16),
               _key(shapes={"batch": [1, 2, 8]}), _key(dtype="float32"), _key(backend="onnx"),
               _key(backend_version="10.4.0"), _key(gpu_arch="sm_86"), _key(opset=18), _key(extra={"vae": "full"}),
               _key(format=2)]
    digests = {k.digest for k in changed} | {_key().digest}
    assert len(digests) == len(changed) + 1


def test_folder_name_says_what_it_is() -> None:
    name = _key().folder_name
    assert name.startswith("unet-owner_model-tensorrt-") and name.endswith(_key().digest[:16])
    assert "/" not in _key(model="C:\\models/sd turbo").folder_name


def test_build_writes_manifest_and_lookup_finds_it(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    assert cache.lookup(_key()) is None
    engine = cache.build(_key(), _write("plan"), steps=1, progress=False)
    manifest = json.loads((engine.folder / MANIFEST).read_text())
    assert manifest["key"] == _key().as_dict() and manifest["digest"] == _key().digest
    assert manifest["files"]["engine.bin"]["bytes"] == 4 and len(manifest["files"]["engine.bin"]["sha256"]) == 64
    assert manifest["build_seconds"] >= 0 and manifest["sdbridge_version"]
    assert cache.lookup(_key()) == engine and cache.lookup(_key(), verify=True) == engine
    assert cache.lookup(_key(dtype="float32")) is None
    assert [e["digest"] for e in cache.entries()] == [_key().digest]
    assert not list(tmp_path.glob(f"{BUILDING_PREFIX}*"))


def test_get_or_build_builds_once(tmp_path: Path) -> None:
    calls = []

    def produce(folder: Path, step: object) -> None:
        calls.append(folder)
        (folder / "engine.bin").write_text("x")

    cache = EngineCache(tmp_path)
    first = cache.get_or_build(_key(), produce, steps=1, progress=False)
    second = cache.get_or_build(_key(), produce, steps=1, progress=False)
    assert first.folder == second.folder and len(calls) == 1


def test_tampered_engines_are_not_loadable(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    engine = cache.build(_key(), _write("plan"), steps=1, progress=False)
    (engine.folder / "engine.bin").write_text("plan, but longer")  # wrong size
    assert cache.lookup(_key()) is None
    (engine.folder / "engine.bin").write_text("PLAN")  # right size, wrong bytes: only verify notices
    assert cache.lookup(_key()) is not None and cache.lookup(_key(), verify=True) is None
    manifest = json.loads((engine.folder / MANIFEST).read_text())
    manifest["key"]["dtype"] = "float32"  # a manifest of another key under this name
    (engine.folder / MANIFEST).write_text(json.dumps(manifest))
    assert cache.lookup(_key()) is None
    (engine.folder / MANIFEST).unlink()
    assert cache.lookup(_key()) is None
    rebuilt = cache.build(_key(), _write("new"), steps=1, progress=False)  # replaces the broken folder
    assert (rebuilt.folder / "engine.bin").read_text() == "new"


def test_exception_mid_build_leaves_nothing(tmp_path: Path) -> None:
    def produce(folder: Path, step: object) -> None:
        (folder / "engine.bin").write_bytes(b"half an engine")
        raise RuntimeError("out of memory in the middle")

    cache = EngineCache(tmp_path)
    with pytest.raises(EngineBuildError, match="out of memory in the middle"):
        cache.build(_key(), produce, steps=1, progress=False)
    assert cache.lookup(_key()) is None
    assert not cache.folder(_key()).exists()
    assert not list(tmp_path.glob(f"{BUILDING_PREFIX}*"))


_KILLED_BUILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from sdbridge.acceleration.engine_cache import EngineCache, EngineKey
    key = EngineKey(**__import__("json").loads(sys.argv[2]))
    def produce(folder, step):
        (folder / "engine.bin").write_bytes(b"half")
        print("WRITING", flush=True)
        time.sleep(60)
    EngineCache(Path(sys.argv[1])).build(key, produce, steps=1, progress=False)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_build_leaves_nothing_loadable_and_is_cleaned_next_time(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_BUILD, str(tmp_path), json.dumps(_key().as_dict())],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "WRITING"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    cache = EngineCache(tmp_path)
    assert list(tmp_path.glob(f"{BUILDING_PREFIX}*"))  # the killed build's leftover...
    assert cache.lookup(_key()) is None  # ...is not an engine
    cache.build(_key(), _write("full"), steps=1, progress=False)  # the lock died with the process
    assert cache.lookup(_key(), verify=True) is not None
    assert not list(tmp_path.glob(f"{BUILDING_PREFIX}*"))  # and the leftover is gone


def test_concurrent_builds_of_one_key_build_once(tmp_path: Path) -> None:
    calls, results = [], []

    def produce(folder: Path, step: object) -> None:
        calls.append(1)
        time.sleep(0.3)
        (folder / "engine.bin").write_text("x")

    def build() -> None:
        results.append(EngineCache(tmp_path).build(_key(), produce, steps=1, progress=False))

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 2 and len(calls) == 1 and results[0].folder == results[1].folder


def test_a_build_that_writes_nothing_fails(tmp_path: Path) -> None:
    with pytest.raises(EngineBuildError, match="wrote no files"):
        EngineCache(tmp_path).build(_key(), lambda folder, step: None, steps=1, progress=False)
    assert EngineCache(tmp_path).lookup(_key()) is None


def test_progress_bar_is_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    EngineCache(tmp_path).build(_key(), _write("x"), steps=1, progress=True)
    err = capsys.readouterr().err
    assert f"building {_key().folder_name}" in err and "100%" in err
