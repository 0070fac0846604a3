"""The Unity package's .meta files: every imported file and folder has one, GUIDs are unique, no orphans,
and no precompiled DLL ships in the package."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "unity_package"
GUID_LINE = re.compile(r"^guid: ([0-9a-f]{32})$", re.MULTILINE)


def _imported(path: Path) -> bool:
    """Unity skips hidden names and names ending in '~' (and everything below them)."""
    return not any(p.startswith(".") or p.endswith("~") for p in path.relative_to(PACKAGE).parts)


def _assets() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*")) if p.suffix != ".meta" and _imported(p)]


def _metas() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.meta")) if _imported(p)]


def test_package_has_assets() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in _assets()}
    for required in ("package.json", "Runtime", "Editor", "Tests", "README.md", "CHANGELOG.md", "LICENSE.md"):
        assert required in names, f"unity_package/{required} is missing"


def test_every_imported_file_and_folder_has_a_meta() -> None:
    missing = [
        p.relative_to(PACKAGE).as_posix()
        for p in _assets()
        if not p.with_name(p.name + ".meta").is_file()
    ]
    assert not missing, (
        f"{len(missing)} assets have no .meta (Unity would invent GUIDs per machine): {missing[:20]}; "
        "run python3 unity_package/Tests~/Tools/make_meta.py and commit the new .meta files"
    )


def test_no_orphan_meta_files() -> None:
    orphans = [
        m.relative_to(PACKAGE).as_posix() for m in _metas() if not m.with_name(m.name[: -len(".meta")]).exists()
    ]
    assert not orphans, f".meta files without their asset (delete them): {orphans}"


def test_guids_are_well_formed_and_unique() -> None:
    seen: dict[str, str] = {}
    for meta in _metas():
        text = meta.read_text(encoding="utf-8")
        rel = meta.relative_to(PACKAGE).as_posix()
        assert text.startswith("fileFormatVersion: 2\n"), f"{rel} must start with 'fileFormatVersion: 2'"
        found = GUID_LINE.findall(text)
        assert len(found) == 1, f"{rel} must hold exactly one 'guid: <32 lowercase hex>' line, found {found}"
        guid = found[0]
        assert guid not in seen, f"GUID {guid} is used by both {seen[guid]} and {rel}"
        seen[guid] = rel
        asset = meta.with_name(meta.name[: -len(".meta")])
        if asset.is_dir():
            assert "folderAsset: yes" in text, f"{rel} belongs to a folder and must say 'folderAsset: yes'"


BINARY_SUFFIXES = {".dll", ".so", ".dylib", ".bundle", ".a", ".lib", ".exe", ".pdb", ".mdb"}


def test_no_precompiled_dlls_ship_in_the_package() -> None:
    binaries = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix.lower() in BINARY_SUFFIXES
    ]
    assert not binaries, f"no precompiled binaries may ship in unity_package/: {binaries}"
