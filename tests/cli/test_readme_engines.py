"""README.md's Unity and Unreal install lines name files, versions and menu entries that exist in the repository
(a newcomer follows them before opening the engine READMEs): the package name, its Unity version and FlatBuffers
dependency, the plugin folder, fetch_thirdparty.sh and its flags, and each menu path."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
UNITY = ROOT / "unity_package"
UNREAL = ROOT / "unreal_plugin" / "StreamDiffusionBridge"


def _unity_line() -> str:
    return " ".join(README.split("\n- Unity (", 1)[1].split("\n- Unreal (", 1)[0].split())


def _unreal_line() -> str:
    return " ".join(README.split("\n- Unreal (", 1)[1].split("\n\n", 1)[0].split())


def test_the_unity_line_matches_the_package() -> None:
    line, package = _unity_line(), json.loads((UNITY / "package.json").read_text(encoding="utf-8"))
    assert f"`{package['name']}`" in line and "?path=/unity_package" in line
    assert line.startswith(f"{package['unity']} LTS and Unity 6")
    (dependency, version), = package["dependencies"].items()
    assert f"`{dependency}` {version}" in line
    editor = "\n".join(p.read_text(encoding="utf-8") for p in (UNITY / "Editor").glob("*.cs"))
    assert "Window > StreamDiffusion > Preview" in line and '[MenuItem("Window/StreamDiffusion/Preview")]' in editor
    assert "Project Settings > StreamDiffusion Bridge" in line and '"Project/StreamDiffusion Bridge"' in editor
    assert (UNITY / "Runtime" / "Unity" / "StreamDiffusionCamera.cs").is_file() and "`StreamDiffusionCamera`" in line
    assert any(s["displayName"] == "Stylized Camera" for s in package["samples"]) and "*Stylized Camera*" in line


def test_the_unreal_line_matches_the_plugin() -> None:
    line = _unreal_line()
    assert line.startswith("Engine 5.3, 5.4 and 5.5)") and "**5.3, 5.4 and 5.5**" in (UNREAL / "README.md").read_text(
        encoding="utf-8")
    assert "`unreal_plugin/StreamDiffusionBridge`" in line and (UNREAL / "StreamDiffusionBridge.uplugin").is_file()
    script = (UNREAL / "Source" / "ThirdParty" / "fetch_thirdparty.sh").read_text(encoding="utf-8")
    assert "`bash Source/ThirdParty/fetch_thirdparty.sh --libzmq-src DIR`" in line
    assert "--libzmq-src) " in script and "--system-lib) " in script and "`--system-lib`" in line
    assert (UNREAL / "Source" / "ThirdParty" / "README.md").is_file()
    editor = (UNREAL / "Source" / "StreamDiffusionBridgeEditor" / "Private" / "StreamDiffusionBridgeEditorModule.cpp")
    assert "Tools > StreamDiffusion Prompt Preview" in line
    assert '"StreamDiffusion Prompt Preview"' in editor.read_text(encoding="utf-8")
    settings = (UNREAL / "Source" / "StreamDiffusionBridge" / "Public" / "StreamDiffusionBridgeSettings.h")
    text = settings.read_text(encoding="utf-8")
    assert "Project Settings > Plugins > StreamDiffusion Bridge" in line
    assert 'DisplayName = "StreamDiffusion Bridge"' in text and 'TEXT("Plugins")' in text
