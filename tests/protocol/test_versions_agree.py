"""The protocol version lives once per language; this test fails when the copies disagree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sdbridge.protocol.version import FILE_IDENTIFIER, PROTOCOL_MAJOR, PROTOCOL_MINOR

ROOT = Path(__file__).resolve().parents[2]
CSHARP = ROOT / "unity_package/Runtime/Core/Protocol/ProtocolVersion.cs"
CPP = ROOT / "unreal_plugin/StreamDiffusionBridge/core/include/sdbridge/version.h"
PACKAGE_JSON = ROOT / "unity_package/package.json"
UPLUGIN = ROOT / "unreal_plugin/StreamDiffusionBridge/StreamDiffusionBridge.uplugin"
SCHEMA = ROOT / "schemas/bridge.fbs"


def _find(pattern: str, text: str, where: Path) -> str:
    match = re.search(pattern, text, re.M)
    assert match, f"{where.relative_to(ROOT)}: no match for {pattern!r}"
    return match.group(1)


def test_csharp_constants_equal_python() -> None:
    text = CSHARP.read_text(encoding="utf-8")
    assert "namespace StreamDiffusion.Bridge.Core" in text and "static class ProtocolVersion" in text
    assert int(_find(r"const\s+ushort\s+Major\s*=\s*(\d+)\s*;", text, CSHARP)) == PROTOCOL_MAJOR
    assert int(_find(r"const\s+ushort\s+Minor\s*=\s*(\d+)\s*;", text, CSHARP)) == PROTOCOL_MINOR
    assert _find(r'const\s+string\s+FileIdentifier\s*=\s*"(\w{4})"', text, CSHARP).encode() == FILE_IDENTIFIER


def test_cpp_constants_equal_python() -> None:
    text = CPP.read_text(encoding="utf-8")
    assert "namespace sdbridge" in text
    assert int(_find(r"constexpr\s+uint16_t\s+kProtocolMajor\s*=\s*(\d+)\s*;", text, CPP)) == PROTOCOL_MAJOR
    assert int(_find(r"constexpr\s+uint16_t\s+kProtocolMinor\s*=\s*(\d+)\s*;", text, CPP)) == PROTOCOL_MINOR
    assert _find(r'kFileIdentifier\[\]\s*=\s*"(\w{4})"', text, CPP).encode() == FILE_IDENTIFIER


def test_schema_file_identifier_equals_python() -> None:
    text = SCHEMA.read_text(encoding="utf-8")
    assert _find(r'^file_identifier\s+"(\w{4})"\s*;', text, SCHEMA).encode() == FILE_IDENTIFIER


def test_unity_package_version_major_is_the_protocol_major() -> None:
    if not PACKAGE_JSON.exists():
        pytest.skip(f"{PACKAGE_JSON.relative_to(ROOT)} does not exist yet (written by the Unity package work)")
    version = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))["version"]
    assert int(version.split(".")[0]) == PROTOCOL_MAJOR, (
        f"unity_package/package.json version {version} must have major {PROTOCOL_MAJOR} (the protocol major)")


def test_unreal_plugin_version_name_major_is_the_protocol_major() -> None:
    if not UPLUGIN.exists():
        pytest.skip(f"{UPLUGIN.relative_to(ROOT)} does not exist yet (written by the Unreal plugin work)")
    version = json.loads(UPLUGIN.read_text(encoding="utf-8"))["VersionName"]
    assert int(version.split(".")[0]) == PROTOCOL_MAJOR, (
        f"StreamDiffusionBridge.uplugin VersionName {version} must have major {PROTOCOL_MAJOR} (the protocol major)")
