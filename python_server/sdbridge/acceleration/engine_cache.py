"""The engine cache in engines/: engine keys, manifests, atomic builds with a lock and a progress bar.

An EngineKey names everything an engine depends on: the component (unet / vae_encoder / vae_decoder), model
id and weights hash, shape range, dtype, backend and its version, GPU architecture, ONNX opset and our
export format. Its digest names a folder `engines/<component>-<model>-<backend>-<digest16>/` holding the
engine files and `manifest.json` (the key, file sizes and sha256, build time).

Builds are atomic: files are written into `engines/.building-<folder>-<pid>-<random>/` (same filesystem),
the manifest is written last, and the folder is renamed into place with os.replace. A crash or an exception
leaves at most a `.building-*` folder, which lookups never read and the next build of that key deletes. A
lock file (`engines/.locks/<folder>.lock`) makes concurrent builds of one key wait for each other.
This module does not import torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sdbridge import __version__
from sdbridge.errors import BridgeError, ConfigError, EngineBuildError

log = logging.getLogger(__name__)

ENGINE_FORMAT = 1  # bump when export modules or input/output names change: every engine key changes
MANIFEST = "manifest.json"
BUILDING_PREFIX = ".building-"


@dataclass(frozen=True)
class EngineKey:
    """Everything a built engine depends on. Equal keys may share an engine; any difference rebuilds."""

    component: str
    model: str
    weights_hash: str
    shapes: dict[str, list[int]]
    dtype: str
    backend: str
    backend_version: str
    gpu_arch: str
    opset: int
    extra: dict[str, Any] = field(default_factory=dict)
    format: int = ENGINE_FORMAT

    def as_dict(self) -> dict[str, Any]:
        """The key as plain JSON data."""
        return asdict(self)

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON form of the key."""
        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def folder_name(self) -> str:
        """`<component>-<model slug>-<backend>-<first 16 hex digits of the digest>`."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model).strip("_")[-48:] or "model"
        return f"{self.component}-{slug}-{self.backend}-{self.digest[:16]}"


@dataclass(frozen=True)
class Engine:
    """A complete engine found in the cache."""

    key: EngineKey
    folder: Path
    manifest: dict[str, Any]

    def file(self, name: str) -> Path:
        """Path of one of the engine's files (as listed in the manifest)."""
        if name not in self.manifest["files"]:
            raise EngineBuildError(
                f"engine {self.folder} has no file {name!r}; files: {sorted(self.manifest['files'])}")
        return self.folder / name


Step = Callable[[str], None]
"""Called by a producer when it starts a named build step (advances the progress bar)."""
Producer = Callable[[Path, Step], None]
"""Writes the engine files into the given (temporary) folder."""


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class EngineCache:
    """One engines/ folder. `lookup` finds complete engines; `build` adds one atomically."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def folder(self, key: EngineKey) -> Path:
        """Where the engine of `key` lives (whether or not it is built)."""
        return self.root / key.folder_name

    def lookup(self, key: EngineKey, verify: bool = False) -> Engine | None:
        """The complete engine of `key`, or None. A folder whose manifest is missing, unreadable, of another
        key, or whose files are missing or of the wrong size (sha256 too with verify=True) is not an engine."""
        folder = self.folder(key)
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if manifest.get("key") != key.as_dict() or not isinstance(manifest.get("files"), dict):
            log.warning("engine folder %s holds a manifest of another key; ignoring it", folder)
            return None
        for name, info in manifest["files"].items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != info.get("bytes"):
                log.warning("engine %s: file %s is missing or has the wrong size; ignoring the engine", folder, name)
                return None
            if verify and file_sha256(path) != info.get("sha256"):
                log.warning("engine %s: file %s fails its sha256 check; ignoring the engine", folder, name)
                return None
        return Engine(key, folder, manifest)

    def entries(self) -> list[dict[str, Any]]:
        """Manifests of every complete-looking engine folder (for listing)."""
        out = []
        for manifest in sorted(self.root.glob(f"*/{MANIFEST}")):
            with contextlib.suppress(OSError, ValueError):
                out.append(json.loads(manifest.read_text(encoding="utf-8")))
        return out

    def get_or_build(self, key: EngineKey, produce: Producer, steps: int, progress: bool = True) -> Engine:
        """The engine of `key`, building it first if it is not in the cache (see `build`)."""
        found = self.lookup(key)
        if found is not None:
            log.info("engine %s found in %s", key.folder_name, self.root)
            return found
        return self.build(key, produce, steps, progress)

    def build(self, key: EngineKey, produce: Producer, steps: int, progress: bool = True) -> Engine:
        """Build the engine of `key` with `produce` and move it into place atomically.

        `steps` is the number of step() calls `produce` makes (the progress bar's length). If another
        process builds the same key meanwhile, we wait for its lock and use its engine.
        """
        from tqdm import tqdm

        self.root.mkdir(parents=True, exist_ok=True)
        final = self.folder(key)
        with self._locked(key):
            found = self.lookup(key)
            if found is not None:  # built by someone else while we waited for the lock
                return found
            self._remove_stale(key)
            temp = self.root / f"{BUILDING_PREFIX}{key.folder_name}-{os.getpid()}-{secrets.token_hex(4)}"
            temp.mkdir()
            started = time.perf_counter()
            bar = tqdm(total=steps + 1, desc=f"building {key.folder_name}", unit="step", disable=not progress,
                       leave=True)

            calls = 0

            def step(name: str) -> None:  # called at the start of each step: the previous one is done
                nonlocal calls
                if calls and bar.n < steps:
                    bar.update(1)
                calls += 1
                bar.set_postfix_str(name)
                log.info("engine %s: %s", key.folder_name, name)

            try:
                bar.set_postfix_str("start")
                produce(temp, step)
                bar.update(steps - bar.n)
                bar.set_postfix_str("manifest")
                self._write_manifest(temp, key, time.perf_counter() - started)
                bar.update(1)
                if final.exists():  # an incomplete or foreign folder under our name: not an engine, replace it
                    shutil.rmtree(final)
                os.replace(temp, final)
            except BaseException as exc:
                shutil.rmtree(temp, ignore_errors=True)
                if isinstance(exc, BridgeError | KeyboardInterrupt | SystemExit):
                    raise
                raise EngineBuildError(f"building engine {key.folder_name} in {self.root} failed: "
                                       f"{type(exc).__name__}: {exc}") from exc
            finally:
                bar.close()
        engine = self.lookup(key)
        if engine is None:  # pragma: no cover - only if someone deletes it between the rename and here
            raise EngineBuildError(f"engine {final} vanished right after it was built")
        log.info("engine %s built in %.1f s", key.folder_name, time.perf_counter() - started)
        return engine

    # ------------------------------------------------------------------ internals
    def _write_manifest(self, temp: Path, key: EngineKey, seconds: float) -> None:
        files = {}
        for path in sorted(p for p in temp.rglob("*") if p.is_file()):
            files[path.relative_to(temp).as_posix()] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
        if not files:
            raise EngineBuildError(f"engine {key.folder_name}: the build wrote no files")
        manifest = {"key": key.as_dict(), "digest": key.digest, "files": files, "sdbridge_version": __version__,
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "build_seconds": round(seconds, 2)}
        tmp = temp / (MANIFEST + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, temp / MANIFEST)

    def _remove_stale(self, key: EngineKey) -> None:
        for stale in self.root.glob(f"{BUILDING_PREFIX}{key.folder_name}-*"):
            log.info("removing the leftover of an interrupted build: %s", stale)
            shutil.rmtree(stale, ignore_errors=True)

    @contextlib.contextmanager
    def _locked(self, key: EngineKey) -> Iterator[None]:
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with (locks / f"{key.folder_name}.lock").open("a+b") as fh:
            _lock_file(fh.fileno())
            try:
                yield
            finally:
                _unlock_file(fh.fileno())


def _lock_file(fd: int) -> None:
    """Block until we hold an exclusive lock on `fd` (fcntl on POSIX, msvcrt on Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:
                time.sleep(0.5)
    else:
        fcntl.flock(fd, fcntl.LOCK_EX)


def _unlock_file(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)


def check_engines_dir(root: Path) -> Path:
    """`root` as an engines folder we can write, or ConfigError naming the fix."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"engines folder {root} exists but is not a folder; pass --engines-dir with a folder path")
    return root
