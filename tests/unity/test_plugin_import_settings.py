"""Import settings of the native transport's libzmq plugin: per-platform PluginImporter .meta files in
unity_package/Plugins~/libzmq, the editor postprocessor that applies the same rules, and "__Internal" on iOS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "unity_package"
TEMPLATES = PACKAGE / "Plugins~" / "libzmq"


# template -> the platform entries that must be enabled (Unity's "<group>: <name>" keys) with their CPU
EXPECTED = {
    "Windows/x86_64/libzmq.dll.meta": {"Editor: Editor": "x86_64", "Standalone: Win64": "x86_64"},
    "Linux/x86_64/libzmq.so.meta": {"Editor: Editor": "x86_64", "Standalone: Linux64": "x86_64"},
    "macOS/libzmq.dylib.meta": {"Editor: Editor": "AnyCPU", "Standalone: OSXUniversal": "AnyCPU"},
    "Android/arm64-v8a/libzmq.so.meta": {"Android: Android": "ARM64"},
    "iOS/libzmq.a.meta": {"iPhone: iOS": "AnyCPU"},
}
ENTRY = re.compile(
    r"  - first:\n      (.*?)\n    second:\n      enabled: (\d)\n      settings:(.*?)"
    r"(?=\n  - first:|\n  userData:)",
    re.S,
)


def _entries(text: str) -> dict[str, tuple[int, str]]:
    found = {}
    for key, enabled, settings in ENTRY.findall(text):
        cpu = re.search(r"CPU: (\S+)", settings)
        found[key.strip()] = (int(enabled), cpu.group(1) if cpu else "")
    return found


@pytest.mark.parametrize("template", sorted(EXPECTED))
def test_each_platform_template_enables_exactly_its_platforms(template: str) -> None:
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    assert text.startswith("fileFormatVersion: 2\nguid: ") and "\nPluginImporter:\n" in text
    entries = _entries(text)
    assert entries.get(": Any") == (0, ""), "'Any Platform' must be off so only the listed platforms load it"
    enabled = {key: cpu for key, (on, cpu) in entries.items() if on}
    assert enabled == EXPECTED[template]


def test_template_guids_are_unique() -> None:
    metas = TEMPLATES.rglob("*.meta")
    guids = [re.search(r"^guid: ([0-9a-f]{32})$", p.read_text(encoding="utf-8"), re.M) for p in metas]
    assert all(guids) and len({g.group(1) for g in guids if g}) == len(EXPECTED)


def test_postprocessor_covers_the_same_platforms() -> None:
    source = (PACKAGE / "Editor" / "LibZmqPluginImporter.cs").read_text(encoding="utf-8")
    for target in ("StandaloneWindows64", "StandaloneLinux64", "StandaloneOSX", "Android", "iOS"):
        assert f"BuildTarget.{target}" in source
    assert "importSettingsMissing" in source, "first import only: the user's later changes must stay"


def test_ios_uses_internal_for_the_dllimport_name() -> None:
    source = (PACKAGE / "Runtime" / "Core" / "Transport" / "LibZmq.cs").read_text(encoding="utf-8")
    ios = r'#if \(UNITY_IOS \|\| UNITY_TVOS\) && !UNITY_EDITOR\s+(//.*\n\s+)*private const string Lib = "__Internal";'
    assert re.search(ios, source)
    assert 'private const string Lib = "libzmq";' in source
