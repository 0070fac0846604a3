"""The UPM manifest and assembly definitions of unity_package."""

from __future__ import annotations

import json
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "unity_package"


def _json(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_manifest_fields() -> None:
    manifest = _json(PACKAGE / "package.json")
    assert manifest["name"] == "com.streamdiffusion.bridge"
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(manifest["version"])), "version must be semver MAJOR.MINOR.PATCH"
    for key in ("displayName", "description", "unity", "license"):
        assert manifest.get(key), f"package.json needs a non-empty {key!r}"
    assert re.fullmatch(r"20\d\d\.\d", str(manifest["unity"])), "unity is 'YYYY.N', e.g. '2021.3'"
    samples = manifest["samples"]
    assert isinstance(samples, list) and samples, "package.json lists at least one sample"
    for sample in samples:
        assert isinstance(sample, dict)
        path = PACKAGE / str(sample["path"])
        assert str(sample["path"]).startswith("Samples~/"), "samples live under Samples~ (not imported by Unity)"
        assert path.is_dir() and any(path.iterdir()), f"sample folder {sample['path']} is missing or empty"


def test_required_files_exist() -> None:
    for name in ("README.md", "CHANGELOG.md", "LICENSE.md", "Documentation~/index.md"):
        assert (PACKAGE / name).is_file(), f"unity_package/{name} is missing"
    assert "Apache License" in (PACKAGE / "LICENSE.md").read_text(encoding="utf-8")


def _asmdefs() -> dict[str, tuple[Path, dict[str, object]]]:
    found = {}
    for path in PACKAGE.rglob("*.asmdef"):
        data = _json(path)
        found[str(data["name"])] = (path, data)
    return found


def test_assembly_definitions() -> None:
    asm = _asmdefs()
    for name in ("StreamDiffusion.Bridge.Core", "StreamDiffusion.Bridge", "StreamDiffusion.Bridge.Editor",
                 "StreamDiffusion.Bridge.Core.Tests"):
        assert name in asm, f"assembly definition {name} is missing"
    core = asm["StreamDiffusion.Bridge.Core"][1]
    assert core["noEngineReferences"] is True, "the core must not reference UnityEngine"
    assert "FlatBuffers" not in core["references"], "no hand-built FlatBuffers assembly: the runtime is a package"
    assert core["overrideReferences"] is True
    assert core["precompiledReferences"] == ["Google.FlatBuffers.dll"], "the DLL the NuGet package provides"
    assert "StreamDiffusion.Bridge.Core" in asm["StreamDiffusion.Bridge"][1]["references"]
    assert asm["StreamDiffusion.Bridge.Editor"][1]["includePlatforms"] == ["Editor"]
    for name, (_, data) in asm.items():
        if name.endswith(".Tests"):
            assert data["defineConstraints"] == ["UNITY_INCLUDE_TESTS"], f"{name} compiles only with tests on"
            assert "nunit.framework.dll" in data["precompiledReferences"]


def test_core_sources_use_no_engine_api() -> None:
    """What mono compiles here must stay engine-free: no UnityEngine/UnityEditor in Runtime/Core."""
    offenders = [
        p.relative_to(PACKAGE).as_posix()
        for p in (PACKAGE / "Runtime" / "Core").rglob("*.cs")
        if re.search(r"^\s*using\s+Unity(Engine|Editor)\b", p.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert not offenders, f"engine references in the engine-free core: {offenders}"


def test_unity_layer_says_it_was_not_compiled_here() -> None:
    missing = [
        p.relative_to(PACKAGE).as_posix()
        for folder in ("Runtime/Unity", "Editor", "Samples~", "Tests/Unity")
        for p in (PACKAGE / folder).rglob("*.cs")
        if "NOT COMPILED OR RUN HERE" not in p.read_text(encoding="utf-8")
    ]
    assert not missing, f"Unity-layer files must say they were not compiled here: {missing}"


def _version_defines(data: dict[str, object]) -> dict[str, tuple[str, str]]:
    entries = data.get("versionDefines") or []
    assert isinstance(entries, list)
    return {str(e["define"]): (str(e["name"]), str(e["expression"])) for e in entries}


def test_flatbuffers_runtime_is_a_declared_dependency_matching_the_generated_code() -> None:
    """No manual install: UnityNuGet's org.nuget.google.flatbuffers, pinned to the version whose
    guard the generated C# calls under SDBRIDGE_FLATBUFFERS_NUGET (schemas/codegen.py)."""
    manifest = _json(PACKAGE / "package.json")
    deps = manifest.get("dependencies")
    assert isinstance(deps, dict)
    pinned = str(deps.get("org.nuget.google.flatbuffers"))
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"pin an exact version, not {pinned!r}"
    guard = "FLATBUFFERS_" + pinned.replace(".", "_")
    generated = (PACKAGE / "Runtime" / "Core" / "Generated" / "bridge_generated.cs").read_text(encoding="utf-8")
    assert "#if SDBRIDGE_FLATBUFFERS_NUGET\nusing global::Google.FlatBuffers;" in generated
    assert f"FlatBufferConstants.{guard}();" in generated, f"the generated code must call {guard}()"
    asm = _asmdefs()
    for name in ("StreamDiffusion.Bridge.Core", "StreamDiffusion.Bridge.Core.Tests", "StreamDiffusion.Bridge.Tests"):
        data = asm[name][1]
        assert _version_defines(data).get("SDBRIDGE_FLATBUFFERS_NUGET") == ("org.nuget.google.flatbuffers", pinned)
        assert "Google.FlatBuffers.dll" in data["precompiledReferences"]
    readme = (PACKAGE / "README.md").read_text(encoding="utf-8")
    assert "https://unitynuget-registry.openupm.com" in readme and '"org.nuget"' in readme, "document the registry"
    vendored = [p for p in PACKAGE.rglob("FlatBufferBuilder.cs")]
    assert not vendored, f"never vendor the FlatBuffers runtime: {vendored}"


def test_runtime_defines_the_pipeline_symbols() -> None:
    runtime = _asmdefs()["StreamDiffusion.Bridge"][1]
    defines = _version_defines(runtime)
    assert defines["SDBRIDGE_URP"][0] == "com.unity.render-pipelines.universal"
    assert defines["SDBRIDGE_HDRP"][0] == "com.unity.render-pipelines.high-definition"
    for assembly in ("Unity.RenderPipelines.Universal.Runtime", "Unity.RenderPipelines.HighDefinition.Runtime"):
        assert assembly in runtime["references"], f"{assembly} is referenced by name (ignored when absent)"


def test_no_secret_key_in_player_assets() -> None:
    """The CurveZMQ secret key is read from a file outside the build, never a Resources asset field."""
    settings = (PACKAGE / "Runtime" / "Unity" / "StreamDiffusionSettings.cs").read_text(encoding="utf-8")
    assert not re.search(r"public\s+string\s+curve(Secret|Public)Key", settings), "no key pair in the asset"
    assert "CurveCertificate.Locate" in settings
