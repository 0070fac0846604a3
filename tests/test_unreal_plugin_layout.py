"""The Unreal plugin's descriptor, module rules and module entry points name one another consistently.

UnrealBuildTool and the engine tie a plugin together by names only: the .uplugin lists modules, each must have
Source/<Name>/<Name>.Build.cs declaring `class <Name> : ModuleRules` with the `(ReadOnlyTargetRules Target)`
constructor, its code must IMPLEMENT_MODULE under the same name, every module a Build.cs depends on that belongs to the
plugin must exist (a misspelt one fails the build with "Could not find definition for module"), the ThirdParty
modules are `ModuleType.External`, the runtime module that maps the shader directory must load at PostConfigInit
(before shaders compile), and Config/FilterPlugin.ini must keep the core/ folder the runtime Build.cs compiles from.
None of this runs here (no Unreal Engine), so this test reads the committed files; its negative cases prove each
check can fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

PLUGIN = Path(__file__).parents[1] / "unreal_plugin" / "StreamDiffusionBridge"
#: engine modules the plugin's Build.cs files may name (everything else must be a module of the plugin)
ENGINE_MODULES = {"Core", "CoreUObject", "Engine", "DeveloperSettings", "RenderCore", "Renderer", "RHI", "Projects",
                  "Slate", "SlateCore", "InputCore", "UnrealEd", "PropertyEditor", "WorkspaceMenuStructure"}
DEPENDENCIES = re.compile(r"(?:Public|Private)DependencyModuleNames\.(?:AddRange\(new string\[\]\s*\{([^}]*)\}|"
                          r"Add\(\"(\w+)\"\))")


def plugin_files() -> dict[str, str]:
    """The files this test reads, by path relative to the plugin folder."""
    paths = [p for p in PLUGIN.rglob("*") if p.is_file() and p.suffix in (".uplugin", ".cs", ".cpp", ".ini")]
    relative = {p.relative_to(PLUGIN).as_posix(): p for p in paths}
    return {name: path.read_text() for name, path in relative.items() if not name.startswith("core/")}


def build_files(files: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Module name -> (path, text) of every *.Build.cs under Source/."""
    return {Path(path).name[:-len(".Build.cs")]: (path, text) for path, text in files.items()
            if path.startswith("Source/") and path.endswith(".Build.cs")}


def dependencies(build_cs: str) -> list[str]:
    """The module names a Build.cs depends on."""
    names = []
    for listed, single in DEPENDENCIES.findall(build_cs):
        names += re.findall(r'"(\w+)"', listed) if listed else [single]
    return names


def problems(files: dict[str, str]) -> list[str]:
    """Every inconsistency between the descriptor, the Build.cs files and the module entry points."""
    found = []
    descriptor = json.loads(files["StreamDiffusionBridge.uplugin"])
    builds = build_files(files)
    for module in descriptor["Modules"]:
        name = module["Name"]
        path = f"Source/{name}/{name}.Build.cs"
        if path not in files:
            found.append(f"{name}: listed in StreamDiffusionBridge.uplugin but {path} does not exist")
            continue
        if f"public class {name} : ModuleRules" not in files[path] or \
                f"public {name}(ReadOnlyTargetRules Target) : base(Target)" not in files[path]:
            found.append(f"{path}: must declare `public class {name} : ModuleRules` with the (ReadOnlyTargetRules "
                         f"Target) constructor")
        implemented = [p for p, text in files.items() if p.startswith(f"Source/{name}/")
                       and re.search(rf"^IMPLEMENT_MODULE\(\w+, {name}\)", text, re.M)]
        if len(implemented) != 1:
            found.append(f"{name}: expected one IMPLEMENT_MODULE(..., {name}) under Source/{name}, found "
                         f"{len(implemented)}")
        maps_shaders = any("AddShaderSourceDirectoryMapping" in text for p, text in files.items()
                           if p.startswith(f"Source/{name}/"))
        if maps_shaders and module.get("LoadingPhase") != "PostConfigInit":
            found.append(f"{name}: maps a shader directory, so its LoadingPhase must be PostConfigInit (is "
                         f"{module.get('LoadingPhase', 'Default')})")
    for path, text in sorted(builds.values()):
        for dependency in dependencies(text):
            if dependency not in ENGINE_MODULES and dependency not in builds:
                found.append(f"{path}: depends on {dependency}, which is neither an engine module this test knows "
                             f"nor a Build.cs of the plugin")
        if path.startswith("Source/ThirdParty/") and "Type = ModuleType.External;" not in text:
            found.append(f"{path}: a ThirdParty module must set Type = ModuleType.External")
    runtime = builds.get("StreamDiffusionBridge", ("", ""))[1]
    filters = files.get("Config/FilterPlugin.ini", "")
    for folder in ("include", "src"):
        if '"core"' in runtime and f"/core/{folder}/..." not in filters.splitlines():
            found.append(f"Config/FilterPlugin.ini: must list /core/{folder}/... (StreamDiffusionBridge.Build.cs "
                         f"compiles from core/{folder}; BuildPlugin drops it otherwise)")
    return found


def test_descriptor_build_rules_and_modules_agree() -> None:
    files = plugin_files()
    assert sorted(build_files(files)) == ["SDBridgeCppZmq", "SDBridgeFlatBuffers", "SDBridgeLibZmq",
                                          "StreamDiffusionBridge", "StreamDiffusionBridgeEditor"]
    assert problems(files) == []


def test_a_misspelt_plugin_dependency_is_reported() -> None:
    files = plugin_files()
    path = "Source/ThirdParty/SDBridgeCppZmq/SDBridgeCppZmq.Build.cs"
    files[path] = files[path].replace('Add("SDBridgeLibZmq")', 'Add("SDBridgeLibZMQ")')
    assert problems(files) == [f"{path}: depends on SDBridgeLibZMQ, which is neither an engine module this test "
                               "knows nor a Build.cs of the plugin"]


def test_a_module_without_rules_or_entry_point_and_a_late_loading_phase_are_reported() -> None:
    files = plugin_files()
    descriptor = json.loads(files["StreamDiffusionBridge.uplugin"])
    descriptor["Modules"][0]["LoadingPhase"] = "Default"
    descriptor["Modules"].append({"Name": "SDBridgeMissing", "Type": "Runtime"})
    files["StreamDiffusionBridge.uplugin"] = json.dumps(descriptor)
    editor = "Source/StreamDiffusionBridgeEditor/Private/StreamDiffusionBridgeEditorModule.cpp"
    files[editor] = files[editor].replace("IMPLEMENT_MODULE(", "// IMPLEMENT_MODULE(")
    assert problems(files) == [
        "StreamDiffusionBridge: maps a shader directory, so its LoadingPhase must be PostConfigInit (is Default)",
        "StreamDiffusionBridgeEditor: expected one IMPLEMENT_MODULE(..., StreamDiffusionBridgeEditor) under "
        "Source/StreamDiffusionBridgeEditor, found 0",
        "SDBridgeMissing: listed in StreamDiffusionBridge.uplugin but Source/SDBridgeMissing/SDBridgeMissing.Build.cs "
        "does not exist",
    ]


def test_an_external_module_type_and_the_core_filter_are_required() -> None:
    files = plugin_files()
    path = "Source/ThirdParty/SDBridgeFlatBuffers/SDBridgeFlatBuffers.Build.cs"
    files[path] = files[path].replace("Type = ModuleType.External;", "")
    files["Config/FilterPlugin.ini"] = files["Config/FilterPlugin.ini"].replace("/core/src/...\n", "")
    assert problems(files) == [
        f"{path}: a ThirdParty module must set Type = ModuleType.External",
        "Config/FilterPlugin.ini: must list /core/src/... (StreamDiffusionBridge.Build.cs compiles from core/src; "
        "BuildPlugin drops it otherwise)",
    ]
