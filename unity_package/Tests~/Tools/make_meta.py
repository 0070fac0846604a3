"""Writes a Unity .meta file (fresh random GUID) for every file and folder of unity_package that lacks one.

Unity imports everything except hidden names (starting with '.') and names ending in '~'; each imported
asset needs a committed .meta whose GUID is unique, or Unity invents GUIDs per machine and references break.
Run from anywhere: ``python3 unity_package/Tests~/Tools/make_meta.py``. Existing .meta files are never
changed. tests/unity/test_meta_files.py checks the result.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2]

_TAIL = "  externalObjects: {}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
FOLDER = "folderAsset: yes\nDefaultImporter:\n" + _TAIL
IMPORTERS = {
    ".cs": (
        "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
        "  executionOrder: 0\n  icon: {instanceID: 0}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
    ),
    ".asmdef": "AssemblyDefinitionImporter:\n" + _TAIL,
    ".md": "TextScriptImporter:\n" + _TAIL,
    ".txt": "TextScriptImporter:\n" + _TAIL,
    ".json": "TextScriptImporter:\n" + _TAIL,
}
DEFAULT = "DefaultImporter:\n" + _TAIL
PACKAGE_MANIFEST = "PackageManifestImporter:\n" + _TAIL


def imported(path: Path) -> bool:
    """True when Unity imports this path (no hidden or '~' component below the package root)."""
    rel = path.relative_to(PACKAGE)
    return not any(part.startswith(".") or part.endswith("~") for part in rel.parts)


def meta_text(path: Path) -> str:
    head = f"fileFormatVersion: 2\nguid: {uuid.uuid4().hex}\n"
    if path.is_dir():
        return head + FOLDER
    if path.name == "package.json" and path.parent == PACKAGE:
        return head + PACKAGE_MANIFEST
    return head + IMPORTERS.get(path.suffix, DEFAULT)


def main() -> int:
    created = 0
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix == ".meta" or not imported(path):
            continue
        meta = path.with_name(path.name + ".meta")
        if not meta.exists():
            meta.write_text(meta_text(path), encoding="utf-8")
            created += 1
            print(f"created {meta.relative_to(PACKAGE.parent)}")
    print(f"{created} .meta files created")
    return 0


if __name__ == "__main__":
    sys.exit(main())
