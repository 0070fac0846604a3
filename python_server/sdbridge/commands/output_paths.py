"""Output folders and files named by a command's flags (--out, --dir), made or checked before any work starts, so a
path that cannot be written is refused at once with a ConfigError naming the option, the path and why, instead of a
traceback after a model loaded or a benchmark ran."""

from __future__ import annotations

import os
from pathlib import Path

from sdbridge.errors import ConfigError


def output_folder(path: Path | str, option: str) -> Path:
    """Create folder `path` (and its parents) for `option`; returns it. ConfigError when that is not possible."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{option} {str(folder)!r}: cannot create that folder ({exc.strerror or exc}); pass a "
                          f"writable folder to {option}") from None
    return folder


def writable_folder(path: Path | str, option: str) -> Path:
    """Check, without creating anything, that folder `path` for `option` exists or can be created: its nearest
    existing ancestor is a writable folder. For commands that make the folder later, only once their other checks
    passed (replay: a refused recording leaves no output folder behind)."""
    folder = Path(path)
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor == folder and not folder.is_dir():
        raise ConfigError(f"{option} {str(folder)!r} is a file; pass a folder to {option}")
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {str(folder)!r}: cannot create that folder ({str(ancestor)!r} is not a writable "
                          f"folder); pass a writable folder to {option}")
    return folder


def output_file(path: Path | str, option: str) -> Path:
    """Create the folder of file `path` for `option` and check that the file can be written; returns it."""
    file = Path(path)
    output_folder(file.parent, option)
    if file.is_dir():
        raise ConfigError(f"{option} {str(file)!r} is a folder; pass a file name to {option}, e.g. "
                          f"{file / 'report.md'}")
    existed = file.exists()
    try:  # open it as the command will at the end (permission bits alone say nothing for root, or in /proc)
        with open(file, "ab"):
            pass
    except OSError as exc:
        raise ConfigError(f"{option} {str(file)!r}: cannot write that file ({exc.strerror or exc}); pass a writable "
                          f"path to {option}") from None
    if not existed:
        file.unlink(missing_ok=True)  # a refused run leaves no empty report behind
    return file
