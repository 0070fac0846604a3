"""The Unreal plugin's global shaders bind what their .usf entry points read, under the same names and types.

Unreal Engine binds an `FParameters` struct (SHADER_PARAMETER* in Private/Rendering/SDBridgeShaders.h) to the shader's
globals by name: a global the entry point reads but the struct lacks is an unbound parameter (the shader map refuses
it when it compiles the shader: "unbound parameters not represented in the parameter struct"), and a struct member
whose .usf global is missing or of another type binds nothing or the wrong bytes. Neither shows without the engine's
shader compiler, which is not installed here, so this test reads the committed files:
IMPLEMENT_GLOBAL_SHADER in SDBridgeShaders.cpp names each class's .usf (virtual path /Plugin/StreamDiffusionBridge,
mapped to the plugin's Shaders folder in StartupModule) and entry point; the globals the entry reads, directly or
through the plugin's own functions (.usf and SDBridgeCommon.ush), must be members of the class's FParameters with the
matching type, `View.` needs the View uniform buffer and `SceneTexturesStruct.` the scene textures uniform buffer, and
every member must name a global of that type that the entry reads. Nothing here compiles HLSL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PLUGIN = Path(__file__).parents[1] / "unreal_plugin" / "StreamDiffusionBridge"
RENDERING = PLUGIN / "Source" / "StreamDiffusionBridge" / "Private" / "Rendering"
SHADERS_H = RENDERING / "SDBridgeShaders.h"
SHADERS_CPP = RENDERING / "SDBridgeShaders.cpp"
MODULE_CPP = PLUGIN / "Source" / "StreamDiffusionBridge" / "Private" / "StreamDiffusionBridgeModule.cpp"
VIRTUAL_ROOT = "/Plugin/StreamDiffusionBridge/"

#: SHADER_PARAMETER's C++ type -> the HLSL type of the global it binds
HLSL_OF = {"FVector4f": "float4", "FVector2f": "float2", "float": "float", "uint32": "uint", "int32": "int",
           "FMatrix44f": "float4x4"}
#: uniform buffer members: (macro, struct) -> the HLSL name the shader reads it through
UNIFORM_BUFFERS = {("SHADER_PARAMETER_STRUCT_REF", "FViewUniformShaderParameters"): "View",
                   ("SHADER_PARAMETER_RDG_UNIFORM_BUFFER", "FSceneTextureUniformParameters"): "SceneTexturesStruct"}
PARAMETER = re.compile(r"(SHADER_PARAMETER\w*)\(\s*([\w<>]+)\s*,\s*(\w+)\s*\)")
GLOBAL = re.compile(r"^(Texture2D(?:<\w+>)?|SamplerState|float4x4|float[234]?|uint|int)\s+(\w+)\s*;", re.M)
FUNCTION = re.compile(r"^[A-Za-z_][\w<>]*\s+(\w+)\s*\([^;{]*\)\s*\{", re.M)
PLUGIN_INCLUDE = re.compile(r'^#include\s+"' + re.escape(VIRTUAL_ROOT) + r'([^"]+)"', re.M)


@dataclass(frozen=True)
class Binding:
    """One FParameters member: the HLSL type and name it binds."""

    hlsl_type: str
    name: str


def parameter_structs(header: str) -> dict[str, list[Binding]]:
    """Each FSDBridgeGlobalShader subclass's FParameters members (render targets left out)."""
    structs: dict[str, list[Binding]] = {}
    for match in re.finditer(r"class (\w+) : public FSDBridgeGlobalShader\s*\{(.*?)\n\};", header, re.S):
        block = re.search(r"BEGIN_SHADER_PARAMETER_STRUCT\(FParameters, \)(.*?)END_SHADER_PARAMETER_STRUCT\(\)",
                          match.group(2), re.S)
        assert block is not None, f"{match.group(1)} has no FParameters block in {SHADERS_H.name}"
        bindings = []
        for macro, cpp_type, name in PARAMETER.findall(block.group(1)):
            if (macro, cpp_type) in UNIFORM_BUFFERS:
                bindings.append(Binding("uniform buffer", UNIFORM_BUFFERS[(macro, cpp_type)]))
            elif macro in ("SHADER_PARAMETER_RDG_TEXTURE", "SHADER_PARAMETER_SAMPLER"):
                bindings.append(Binding(cpp_type, name))
            elif macro == "SHADER_PARAMETER":
                bindings.append(Binding(HLSL_OF.get(cpp_type, f"<no HLSL type for {cpp_type}>"), name))
            else:
                bindings.append(Binding(f"<{macro} not handled by this test>", name))
        structs[match.group(1)] = bindings
    return structs


def implementations(cpp: str) -> dict[str, tuple[str, str]]:
    """IMPLEMENT_GLOBAL_SHADER: class -> (virtual .usf path, entry point)."""
    found = re.findall(r'IMPLEMENT_GLOBAL_SHADER\((\w+), "([^"]+)", "(\w+)", SF_Pixel\);', cpp)
    return {cls: (path, entry) for cls, path, entry in found}


def shader_source(virtual_path: str) -> str:
    """The .usf with the plugin's own includes inlined (engine includes are left out: they add no parameters)."""
    assert virtual_path.startswith(VIRTUAL_ROOT), f"{virtual_path} is not under {VIRTUAL_ROOT}"
    text = (PLUGIN / "Shaders" / virtual_path[len(VIRTUAL_ROOT):]).read_text()
    return PLUGIN_INCLUDE.sub(lambda m: shader_source(VIRTUAL_ROOT + m.group(1)), text)


def strip_comments(source: str) -> str:
    """Source without // and /* */ comments (names in comments are not reads)."""
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", source, flags=re.S)


def function_bodies(source: str) -> dict[str, str]:
    """Top-level function name -> its body (brace-matched)."""
    bodies: dict[str, str] = {}
    for match in FUNCTION.finditer(source):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(source)):
            depth += {"{": 1, "}": -1}.get(source[end], 0)
            if depth == 0:
                break
        bodies[match.group(1)] = source[match.end():end]
    return bodies


def reads(source: str, entry: str) -> set[str]:
    """Identifiers the entry point's body reads, following calls into the source's own functions."""
    bodies = function_bodies(source)
    assert entry in bodies, f"entry point {entry} is not defined"
    seen, pending, names = set(), [entry], set()
    while pending:
        function = pending.pop()
        if function in seen:
            continue
        seen.add(function)
        identifiers = set(re.findall(r"\b[A-Za-z_]\w*\b", bodies[function]))
        names |= identifiers
        pending.extend(identifiers & bodies.keys())
    return names


def mismatches(header: str, cpp: str) -> list[str]:
    """Every disagreement between the FParameters structs and their .usf entry points, worded for a reader."""
    problems = []
    structs = parameter_structs(header)
    for cls, (path, entry) in sorted(implementations(cpp).items()):
        if cls not in structs:
            problems.append(f"{cls}: IMPLEMENT_GLOBAL_SHADER without an FParameters struct in {SHADERS_H.name}")
            continue
        source = strip_comments(shader_source(path))
        globals_ = dict((name, hlsl_type) for hlsl_type, name in GLOBAL.findall(source))
        bound = {b.name: b.hlsl_type for b in structs[cls]}
        used = reads(source, entry)
        for name in sorted(used & (globals_.keys() | {"View", "SceneTexturesStruct"})):
            if name not in bound:
                problems.append(f"{cls}: {entry} in {path} reads {name}, which its FParameters does not bind "
                                f"(an unbound shader parameter); add it to {SHADERS_H.name}")
        for name, hlsl_type in sorted(bound.items()):
            if hlsl_type == "uniform buffer":
                continue
            if name not in globals_:
                problems.append(f"{cls}: FParameters member {name} has no global of that name in {path}; rename one "
                                f"of them")
            elif name not in used:
                problems.append(f"{cls}: FParameters member {name} is never read by {entry} in {path}; remove it "
                                f"or read it")
            elif globals_[name] != hlsl_type:
                problems.append(f"{cls}: FParameters member {name} is {hlsl_type} in C++ but {globals_[name]} in "
                                f"{path}; make the types agree")
    for cls in sorted(structs.keys() - implementations(cpp).keys()):
        problems.append(f"{cls}: no IMPLEMENT_GLOBAL_SHADER in {SHADERS_CPP.name}")
    return problems


def test_every_shader_binds_what_its_entry_point_reads() -> None:
    structs = parameter_structs(SHADERS_H.read_text())
    assert sorted(structs) == ["FSDBridgeCapturePS", "FSDBridgeCompositePS", "FSDBridgeDepthCopyPS",
                               "FSDBridgePlanesPS"]
    assert mismatches(SHADERS_H.read_text(), SHADERS_CPP.read_text()) == []


def test_the_virtual_path_is_the_one_the_module_maps() -> None:
    module = MODULE_CPP.read_text()
    assert 'AddShaderSourceDirectoryMapping(TEXT("/Plugin/StreamDiffusionBridge"), ' \
           'FPaths::Combine(Plugin->GetBaseDir(), TEXT("Shaders")))' in module
    for path, _entry in implementations(SHADERS_CPP.read_text()).values():
        assert (PLUGIN / "Shaders" / path[len(VIRTUAL_ROOT):]).is_file(), path


def test_a_renamed_member_is_reported() -> None:
    header = SHADERS_H.read_text().replace("SHADER_PARAMETER(float, DepthTolerance)",
                                           "SHADER_PARAMETER(float, DepthToleranceRenamed)")
    composite = "/Plugin/StreamDiffusionBridge/Private/SDBridgeComposite.usf"
    assert mismatches(header, SHADERS_CPP.read_text()) == [
        f"FSDBridgeCompositePS: CompositePS in {composite} reads DepthTolerance, which its FParameters does not bind "
        "(an unbound shader parameter); add it to SDBridgeShaders.h",
        f"FSDBridgeCompositePS: FParameters member DepthToleranceRenamed has no global of that name in {composite}; "
        "rename one of them",
    ]


def test_a_type_mismatch_and_a_missing_uniform_buffer_are_reported() -> None:
    capture_end = "RENDER_TARGET_BINDING_SLOTS()\n\tEND_SHADER_PARAMETER_STRUCT()\n};\n\n/** The view's device depth"
    header = SHADERS_H.read_text().replace(f"SHADER_PARAMETER(FVector2f, TargetSizeInverse)\n\t\t{capture_end}",
                                           f"SHADER_PARAMETER(FVector4f, TargetSizeInverse)\n\t\t{capture_end}")
    header = header.replace(
        "\t\tSHADER_PARAMETER_STRUCT_REF(FViewUniformShaderParameters, View)  // ViewRectMin, ViewSizeAndInvSize\n"
        "\t\tSHADER_PARAMETER_RDG_TEXTURE(Texture2D, InputDepthTexture)",
        "\t\tSHADER_PARAMETER_RDG_TEXTURE(Texture2D, InputDepthTexture)")
    assert mismatches(header, SHADERS_CPP.read_text()) == [
        "FSDBridgeCapturePS: FParameters member TargetSizeInverse is float4 in C++ but float2 in "
        "/Plugin/StreamDiffusionBridge/Private/SDBridgeCapture.usf; make the types agree",
        "FSDBridgeDepthCopyPS: DepthCopyPS in /Plugin/StreamDiffusionBridge/Private/SDBridgeCapture.usf reads View, "
        "which its FParameters does not bind (an unbound shader parameter); add it to SDBridgeShaders.h",
    ]


def test_a_member_the_entry_point_never_reads_is_reported() -> None:
    # InputDepthTexture is a global of SDBridgeCapture.usf, read by DepthCopyPS only.
    color = "SHADER_PARAMETER_RDG_TEXTURE(Texture2D, InputColorTexture)"
    header = SHADERS_H.read_text().replace(
        color, f"{color}\n\t\tSHADER_PARAMETER_RDG_TEXTURE(Texture2D, InputDepthTexture)")
    assert mismatches(header, SHADERS_CPP.read_text()) == [
        "FSDBridgeCapturePS: FParameters member InputDepthTexture is never read by CapturePS in "
        "/Plugin/StreamDiffusionBridge/Private/SDBridgeCapture.usf; remove it or read it",
    ]
