"""schemas/codegen_unreal_params.py: a parameter added to the registry and the schema reaches the Blueprint params.

The schema is extended on a copy (tests/protocol/extend_params.py: a float, a uint and an [AdapterWeight] field, each
with a ParamsField bit and a registry entry); the emitter's output for that copy must declare each one in
FSDBridgeParams (toggle, default, clamps, doc) and set it in ToWire, with no hand edit. Unreal Engine is not installed
here: where g++ is, the generated header and ToWire are compiled against a stub of the few UE names they use
(CoreMinimal.h below) and the real core (its Params generated from the same schema), and run: every toggle on sends
every field at its registry default, every toggle off sends nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import ROOT, load_emitter
from .extend_params import extended

SCHEMA = ROOT / "schemas" / "bridge.fbs"
CORE = ROOT / "unreal_plugin" / "StreamDiffusionBridge" / "core"

EXTENDED = extended(
    "  Sharpness = {bit0},\n  GrainSteps = {bit1},\n  TextureWeights = {bit2},\n",
    "  sharpness: float (id: {id0});\n  grain_steps: uint (id: {id1});\n"
    "  texture_weights: [AdapterWeight] (id: {id2});\n",
)


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    """schemas/codegen_unreal_params.py."""
    return load_emitter("codegen_unreal_params.py")


def _registry(extra: bool = True) -> list[dict[str, Any]]:
    """The real registry, plus entries for the three new fields (what docs/adding-a-parameter.md step 2 adds)."""
    sys.path.insert(0, str(ROOT / "python_server"))
    try:
        from sdbridge import params
    finally:
        sys.path.pop(0)
    registry = params.to_json()
    if not extra:
        return registry
    scalar = dict(next(p for p in registry if p["name"] == "latent_feedback"))
    sharpness = {**scalar, "name": "sharpness", "minimum": 0.0, "maximum": 4.0, "range_text": "[0, 4]",
                 "minimum_text": "0", "maximum_text": "4", "default": 0.25, "wire_field": "sharpness",
                 "params_bit": "SHARPNESS", "field_path": "Params.sharpness", "doc": "how sharp the output is"}
    grain = {**scalar, "name": "grain_steps", "kind": "int", "wire_type": "uint", "minimum": 1, "maximum": 12,
             "range_text": "[1, 12]", "minimum_text": "1", "maximum_text": "12", "default": 3,
             "wire_field": "grain_steps", "params_bit": "GRAIN_STEPS", "field_path": "Params.grain_steps",
             "doc": "film grain steps"}
    weights = dict(next(p for p in registry if p["name"] == "lora_weights"))
    texture = {**weights, "name": "texture_weights", "minimum": 0.0, "maximum": 2.0, "range_text": "[0, 2]",
               "minimum_text": "0", "maximum_text": "2", "wire_field": "texture_weights",
               "params_bit": "TEXTURE_WEIGHTS", "field_path": "Params.texture_weights",
               "doc": "weights of the named textures [(texture, weight), ...]"}
    return [*registry, sharpness, grain, texture]


def _parse(gen: ModuleType, text: str) -> Any:
    return sys.modules[gen.SchemaError.__module__].parse(text)


def _emit(gen: ModuleType, text: str, registry: list[dict[str, Any]]) -> dict[str, str]:
    model = _parse(gen, text)
    return {name: emit(model, registry) for _lang, name, emit in gen.OUTPUTS}


def test_the_outputs_are_the_unreal_header_and_to_wire_with_the_marker(gen: ModuleType) -> None:
    files = _emit(gen, SCHEMA.read_text(encoding="utf-8"), _registry(extra=False))
    assert sorted(files) == ["SDBridgeParams.h", "SDBridgeParamsToWire.inl"]
    assert {lang for lang, _name, _emit in gen.OUTPUTS} == {"unreal"}
    for name, text in files.items():
        assert "do not modify" in text.splitlines()[0], name
    header = files["SDBridgeParams.h"]
    assert header.rstrip().splitlines()[-1] == "};"
    assert '#include "SDBridgeParams.generated.h"' in header  # the last include, as UHT requires
    assert header.index('#include "SDBridgeParams.generated.h"') > header.index('#include "CoreMinimal.h"')


# What UnrealHeaderTool accepts in a Blueprint USTRUCT, as the generated header must keep to it (README's API table
# names the engine sources): a member's initialiser follows '=' and ends at ';' (UHT's PropertyParsed skips it), a
# Blueprint member type is one of these (no uint32/uint64, no container of containers), a Blueprint UENUM is an
# 'enum class' over uint8, and the .generated.h include is the header's last include.
_BLUEPRINT_TYPE = re.compile(r"(bool|int32|int64|float|double|FString|FName|ESDBridge\w+|FSDBridge\w+"
                             r"|TArray<(int32|float|FSDBridge\w+)>)")
_MEMBER = re.compile(r"\t(?P<type>\S+) (?P<name>\w+)(?P<init> = [^;{}]+| = \{[^;{}]*\})?;")


def test_the_header_keeps_to_what_unreal_header_tool_accepts(gen: ModuleType) -> None:
    for text, registry in ((SCHEMA.read_text(encoding="utf-8"), _registry(extra=False)), (EXTENDED, _registry())):
        header = _emit(gen, text, registry)["SDBridgeParams.h"]
        lines = header.splitlines()
        includes = [line for line in lines if line.startswith("#include")]
        assert includes[-1] == '#include "SDBridgeParams.generated.h"'
        members = [lines[i + 1] for i, line in enumerate(lines) if line.lstrip().startswith("UPROPERTY(")]
        assert len(members) > 20
        for member in members:
            match = _MEMBER.fullmatch(member)
            assert match is not None, member
            assert _BLUEPRINT_TYPE.fullmatch(match["type"]), member
        assert "\tTArray<int32> TIndexList = {32, 45};" in members
        enums = [lines[i + 1] for i, line in enumerate(lines) if line.startswith("UENUM(")]
        assert enums and all(re.fullmatch(r"enum class ESDBridge\w+ : uint8", line) for line in enums), enums


def test_a_new_registry_entry_and_schema_field_get_a_member_and_a_to_wire_line(gen: ModuleType) -> None:
    files = _emit(gen, EXTENDED, _registry())
    header, to_wire = files["SDBridgeParams.h"], files["SDBridgeParamsToWire.inl"]
    prop = 'UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge", meta = ('
    assert (f"{prop}InlineEditConditionToggle))\n\tbool bSetSharpness = false;\n"
            "\t/** How sharp the output is; in [0, 4] (Params.sharpness). */\n"
            f'\t{prop}EditCondition = "bSetSharpness", ClampMin = "0", ClampMax = "4"))\n'
            "\tfloat Sharpness = 0.25f;\n") in header
    assert (f'\t{prop}EditCondition = "bSetGrainSteps", ClampMin = "1", ClampMax = "12"))\n'
            "\tint32 GrainSteps = 3;\n") in header
    assert (f'\t{prop}EditCondition = "bSetTextureWeights"))\n'
            "\tTArray<FSDBridgeNamedWeight> TextureWeights;\n") in header
    assert "each weight in [0, 2], checked before sending (Params.texture_weights)" in header
    assert "\tif (In.bSetSharpness) P.sharpness = In.Sharpness;" in to_wire
    assert "\tif (In.bSetGrainSteps) P.grain_steps = static_cast<uint32_t>(FMath::Max(In.GrainSteps, 0));" in to_wire
    assert "\tif (In.bSetTextureWeights) P.texture_weights = ToWire(In.TextureWeights);" in to_wire
    plain = _emit(gen, SCHEMA.read_text(encoding="utf-8"), _registry(extra=False))
    assert "Sharpness" not in "".join(plain.values())


def test_a_field_without_a_registry_entry_or_without_a_blueprint_form_is_named_not_dropped(gen: ModuleType) -> None:
    registry = [p for p in _registry() if p["name"] != "sharpness"]
    header = _emit(gen, EXTENDED, registry)["SDBridgeParams.h"]
    assert "//   sharpness: no parameter registry entry (not a stream parameter)" in header
    assert "bSetSharpness" not in header
    assert "//   seed_blend: a blend of 64-bit seeds, which Blueprint cannot hold exactly; set Seed instead" in header
    assert "SeedBlend" not in header


def test_a_shape_without_a_blueprint_form_is_refused_naming_the_field(gen: ModuleType) -> None:
    text = extended("  Notes = {bit0},\n", "  notes: [PromptWeight] (id: {id0});\n")
    base = dict(next(p for p in _registry() if p["name"] == "lora_weights"))
    notes = {**base, "name": "notes", "wire_field": "notes", "params_bit": "NOTES", "field_path": "Params.notes"}
    model = _parse(gen, text)
    for _lang, _name, emit in gen.OUTPUTS:
        with pytest.raises(gen.SchemaError, match=r"Params\.notes: type \[PromptWeight\]"):
            emit(model, [*_registry(), notes])


# ------------------------------------------------------------------------------ compiled against a UE stub

#: The few UE names the generated code uses, as small as they can be (UE's own are not installed here).
CORE_MINIMAL = r"""
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>
#define UENUM(...)
#define USTRUCT(...)
#define UPROPERTY(...)
#define GENERATED_BODY()
#define STREAMDIFFUSIONBRIDGE_API
#define TCHAR_TO_UTF8(Text) (Text)
using int32 = std::int32_t;
using int64 = std::int64_t;
using uint8 = std::uint8_t;
class FString {
 public:
  FString() = default;
  FString(const char* Text) : Chars(Text) {}
  const char* operator*() const { return Chars.c_str(); }
 private:
  std::string Chars;
};
template <typename T> class TArray {
 public:
  TArray() = default;
  TArray(std::initializer_list<T> Init) : Items(Init) {}
  const T* GetData() const { return Items.data(); }
  int32 Num() const { return static_cast<int32>(Items.size()); }
  void Add(const T& Item) { Items.push_back(Item); }
  typename std::vector<T>::const_iterator begin() const { return Items.begin(); }
  typename std::vector<T>::const_iterator end() const { return Items.end(); }
 private:
  std::vector<T> Items;
};
struct FMath {
  template <typename T> static T Max(T A, T B) { return A < B ? B : A; }
};
"""

MAIN = r"""
#include "CoreMinimal.h"
#include "SDBridgeParams.h"
#include "sdbridge/messages.h"

namespace SDBridge {
inline std::string ToUtf8(const FString& Text) { return std::string(TCHAR_TO_UTF8(*Text)); }
#include "SDBridgeParamsToWire.inl"
}  // namespace SDBridge

int main() {
  FSDBridgeParams Off;
  if (SDBridge::ToWire(Off).SetMask() != 0) return 1;
  FSDBridgeParams All;
%(toggles)s
  const sdbridge::Params P = SDBridge::ToWire(All);
  if (P.SetMask() != (%(bits)s)) return 2;
%(defaults)s
  FSDBridgeParams V;
  V.bSetSeed = true;
  V.Seed = -5;
  V.bSetMotionWarpStep = true;
  V.MotionWarpStep = -3;
  V.bSetAttentionBankBlocks = true;
  V.AttentionBankBlocks = ESDBridgeAttentionBankBlocks::Mid;
  V.bSetLoraWeights = true;
  FSDBridgeNamedWeight Wood;
  Wood.Name = "wood";
  Wood.Weight = -0.5f;
  V.LoraWeights.Add(Wood);
  const sdbridge::Params Q = SDBridge::ToWire(V);
  if (*Q.seed != 0 || *Q.motion_warp_step != 0) return 4;  // negative Blueprint ints: 0, refused by range later
  if (*Q.attention_bank_blocks != sdbridge::AttentionBankBlocks::kMid) return 5;
  if (Q.lora_weights->size() != 1 || (*Q.lora_weights)[0].name != "wood" || (*Q.lora_weights)[0].weight != -0.5f) {
    return 6;
  }
  return 0;
}
"""


def _default_check(model: Any, entry: dict[str, Any]) -> str:
    """The C++ test that ToWire sent `entry`'s registry default (written here, independently of the generator)."""
    field, value = f"P.{entry['wire_field']}", entry["default"]
    if entry["kind"] == "weights":
        test = f"!{field}->empty()"
    elif entry["kind"] == "int_list":
        test = f"*{field} != std::vector<int32_t>{{{', '.join(str(v) for v in value)}}}"
    elif entry["kind"] == "enum":
        member = next(n for n, _v in model.enums[entry["wire_type"]].members if n.lower() == value)
        test = f"*{field} != sdbridge::{entry['wire_type']}::k{member}"
    elif entry["kind"] == "bool":
        test = f"*{field} != {'true' if value else 'false'}"
    elif entry["kind"] == "float":
        test = f"*{field} != {float(value)!r}f"
    else:
        test = f"*{field} != {int(value)}u"
    return f"  if (!{field}.has_value() || {test}) return 3;  // {entry['name']}"


def _program(gen: ModuleType, text: str, registry: list[dict[str, Any]], tmp: Path) -> Path:
    """A folder with the stub, the generated Unreal files, the core's include tree for `text` and main.cpp."""
    model = _parse(gen, text)
    include = tmp / "include"
    shutil.copytree(CORE / "include", include)
    generated = include / "sdbridge" / "generated"
    cpp = load_emitter("codegen_params_cpp.py")
    (generated / "bridge_constants.h").write_text(sys.modules["codegen_mirrors"].cpp_constants(model), "utf-8")
    (generated / "params_fields.h").write_text(cpp.cpp_fields(model, registry), encoding="utf-8")
    (generated / "params_merge.inc").write_text(cpp.cpp_merge(model, registry), encoding="utf-8")
    for name, content in _emit(gen, text, registry).items():
        (tmp / name).write_text(content, encoding="utf-8")
    (tmp / "CoreMinimal.h").write_text(CORE_MINIMAL, encoding="utf-8")
    (tmp / "SDBridgeParams.generated.h").write_text("#pragma once\n", encoding="utf-8")
    header = (tmp / "SDBridgeParams.h").read_text(encoding="utf-8")
    sent = [p for p in registry
            if p["params_bit"] and p["field_path"].startswith("Params.") and p["wire_field"] not in gen.EXCLUDED]
    camel = sys.modules["codegen_model"].camel
    toggles = [line.split()[1] for line in header.splitlines() if line.strip().startswith("bool bSet")]
    assert len(toggles) == len(sent), (toggles, [p["name"] for p in sent])
    (tmp / "main.cpp").write_text(MAIN % {
        "toggles": "\n".join(f"  All.{t} = true;" for t in toggles),
        "bits": " | ".join(f"sdbridge::params_field::k{camel(p['wire_field'])}" for p in sent),
        "defaults": "\n".join(_default_check(model, p) for p in sent),
    }, encoding="utf-8")
    return include


@pytest.mark.parametrize("schema", ["bridge.fbs", "extended"])
def test_the_generated_code_compiles_against_a_ue_stub_and_sends_what_is_toggled(gen: ModuleType, tmp_path: Path,
                                                                                  schema: str) -> None:
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("needs g++ (bash scripts/install_tools.sh cpp)")
    text, registry = (SCHEMA.read_text(encoding="utf-8"), _registry(extra=False)) if schema == "bridge.fbs" \
        else (EXTENDED, _registry())
    include = _program(gen, text, registry, tmp_path)
    exe = tmp_path / "to_wire"
    cmd = [gxx, "-std=c++17", "-O0", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path), "-I", str(include),
           "-I", str(CORE / "src"), str(tmp_path / "main.cpp"), str(CORE / "src" / "messages.cpp"), "-o", str(exe)]
    built = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-4000:]
    ran = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, f"ToWire check failed at step {ran.returncode} (see MAIN)"
