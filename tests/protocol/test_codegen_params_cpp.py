"""schemas/codegen_params_cpp.py: a Params field added to bridge.fbs reaches the C++ client's typed Params.

The schema is extended on a copy (a float field with a new ParamsField bit and an [AdapterWeight] field, each with a
registry entry); the emitter's output for that copy must declare, mask, write, read, merge and check both, and, where
g++ and flatc are installed (CI installs both), compile against the real core and round-trip the new fields.
"""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    """schemas/codegen_params_cpp.py."""
    return load_emitter("codegen_params_cpp.py")


def _schema_text(fields: str, bits: str) -> str:
    return extended(bits, fields)


EXTENDED = _schema_text("  sharpness: float (id: {id0});\n  texture_weights: [AdapterWeight] (id: {id1});\n",
                        "  Sharpness = {bit0},\n  TextureWeights = {bit1},\n")


def _registry() -> list[dict[str, Any]]:
    """The real registry plus entries for the two new fields (what docs/adding-a-parameter.md step 2 adds)."""
    sys.path.insert(0, str(ROOT / "python_server"))
    try:
        from sdbridge import params
    finally:
        sys.path.pop(0)
    registry = params.to_json()
    base = dict(next(p for p in registry if p["name"] == "latent_feedback"))
    sharpness = {**base, "name": "sharpness", "minimum": 0.0, "maximum": 4.0, "range_text": "[0, 4]", "default": 0.0,
                 "wire_field": "sharpness", "params_bit": "SHARPNESS", "field_path": "Params.sharpness",
                 "doc": "how sharp the output is (0 = untouched)"}
    base = dict(next(p for p in registry if p["name"] == "lora_weights"))
    texture = {**base, "name": "texture_weights", "minimum": 0.0, "maximum": 2.0, "range_text": "[0, 2]",
               "wire_field": "texture_weights", "params_bit": "TEXTURE_WEIGHTS", "field_path": "Params.texture_weights",
               "doc": "weights of the named textures [(texture, weight), ...]"}
    return [*registry, sharpness, texture]


def _emit(gen: ModuleType, text: str, registry: list[dict[str, Any]]) -> dict[str, str]:
    model = _parse(gen, text)
    return {name: emit(model, registry) for _lang, name, emit in gen.OUTPUTS}


def _parse(gen: ModuleType, text: str) -> Any:
    """The schema model of `text` (codegen_model, the reader the emitter was loaded with)."""
    return sys.modules[gen.SchemaError.__module__].parse(text)


def test_every_output_is_a_cpp_file_with_the_marker(gen: ModuleType) -> None:
    files = _emit(gen, SCHEMA.read_text(encoding="utf-8"), _registry())
    assert sorted(files) == ["params_check.inc", "params_codec.inc", "params_fields.h", "params_merge.inc"]
    assert {lang for lang, _name, _emit in gen.OUTPUTS} == {"cpp"}
    for name, text in files.items():
        assert "do not modify" in text.splitlines()[0], name


def test_a_new_scalar_and_adapter_weight_field_get_every_per_field_line(gen: ModuleType) -> None:
    files = _emit(gen, EXTENDED, _registry())
    fields, merge, codec, check = (files[n] for n in ("params_fields.h", "params_merge.inc", "params_codec.inc",
                                                      "params_check.inc"))
    # members, with the registry's doc and range
    assert "std::optional<float> sharpness;" in fields
    assert "std::optional<std::vector<AdapterWeight>> texture_weights;" in fields
    assert "/// How sharp the output is (0 = untouched); in [0, 4] (Params.sharpness, ParamsField Sharpness;" in fields
    # set mask and merge (named weights merge by name, like lora_weights)
    assert "if (sharpness.has_value()) mask |= params_field::kSharpness;" in merge
    assert "if (texture_weights.has_value()) mask |= params_field::kTextureWeights;" in merge
    assert "TakeIfSet(sharpness, newer.sharpness);" in merge
    assert "MergeNamed(texture_weights, newer.texture_weights);" in merge
    # write: the vector's offset built first, both passed to CreateParams last, in field-id order
    assert "auto texture_weights = WriteAdapterWeightList(b, m.texture_weights);" in codec
    assert "),\n      m.sharpness.value_or(0.0f),\n      texture_weights);" in codec
    assert "static_assert(Same(fb::ParamsField::Sharpness, params_field::kSharpness));" in codec
    # read
    assert "if ((mask & params_field::kSharpness) != 0) m.sharpness = p.sharpness();" in codec
    assert ("if ((mask & params_field::kTextureWeights) != 0) m.texture_weights = "
            "ReadAdapterWeightList(p.texture_weights());") in codec
    # the range checks before sending, from the registry entries
    assert "CheckRange<sp::Sharpness>(p.sharpness)," in check
    assert "CheckWeights<sp::TextureWeights>(p.texture_weights)," in check
    # the unextended schema has none of it
    plain = _emit(gen, SCHEMA.read_text(encoding="utf-8"), _registry())
    assert "sharpness" not in "".join(plain.values())


def test_a_field_without_a_registry_entry_is_generated_without_a_check(gen: ModuleType) -> None:
    registry = [p for p in _registry() if p["name"] != "sharpness"]
    files = _emit(gen, EXTENDED, registry)
    assert "std::optional<float> sharpness;" in files["params_fields.h"]
    assert "// sharpness: no parameter registry entry, no range to check" in files["params_check.inc"]


@pytest.mark.parametrize(("field", "bit", "named"), [
    ("  note: string (id: {id0});\n", "  Note = {bit0},\n", "Params.note: type string"),
    ("  model: ModelInfo (id: {id0});\n", "  Model = {bit0},\n", "Params.model: type ModelInfo"),
    ("  notices: [Notice] (id: {id0});\n", "  Notices = {bit0},\n", "Params.notices: type [Notice]"),
    ("  modes: [CfgMode] (id: {id0});\n", "  Modes = {bit0},\n", "Params.modes: type [CfgMode]"),
    ("  extra: [int] (id: {id0});\n", "", "Params.extra: type [int]"),  # no ParamsField bit: only a scalar may
])
def test_a_shape_the_generator_does_not_know_is_refused_naming_the_field(gen: ModuleType, field: str, bit: str,
                                                                         named: str) -> None:
    model = _parse(gen, _schema_text(field, bit))
    for _lang, _name, emit in gen.OUTPUTS:
        with pytest.raises(gen.SchemaError, match=named.replace("[", r"\[").replace("]", r"\]")):
            emit(model, _registry())


def test_a_vector_of_strings_is_refused_naming_the_field(gen: ModuleType) -> None:
    # the schema reader refuses it before any emitter runs
    with pytest.raises(gen.SchemaError, match=r"Params\.names: type \[string\]"):
        _parse(gen, _schema_text("  names: [string] (id: {id0});\n", "  Names = {bit0},\n"))


# ------------------------------------------------------------------------------ compiled against the real core

ROUND_TRIP = r"""
#include <cstdio>
#include "sdbridge/codec.h"
#include "client_messages.h"

using namespace sdbridge;

int main() {
  Params p;
  p.sharpness = 1.5f;
  p.texture_weights = std::vector<AdapterWeight>{{"wood", 0.5f}, {"stone", 1.25f}};
  p.guidance_scale = 1.2f;
  const uint32_t bits = params_field::kSharpness | params_field::kTextureWeights | params_field::kGuidanceScale;
  if (p.SetMask() != bits) return 1;
  std::vector<uint8_t> bytes;
  if (!Encode(Message{p}, &bytes).ok()) return 2;
  Message back;
  if (!Decode(bytes.data(), bytes.size(), &back).ok()) return 3;
  const Params& q = std::get<Params>(back);
  if (!q.sharpness || *q.sharpness != 1.5f || !q.texture_weights || q.texture_weights->size() != 2) return 4;
  if ((*q.texture_weights)[1].name != "stone" || (*q.texture_weights)[1].weight != 1.25f) return 5;
  Params replay = q;
  Params newer;
  newer.texture_weights = std::vector<AdapterWeight>{{"wood", 2.0f}, {"glass", 0.25f}};
  replay.MergeFrom(newer);
  if (replay.texture_weights->size() != 3 || (*replay.texture_weights)[0].weight != 2.0f) return 6;
  if (!client_internal::ValidateParams(p).ok()) return 7;
  Params sharp;
  sharp.sharpness = 4.5f;
  std::printf("%s\n", client_internal::ValidateParams(sharp).message().c_str());
  Params weights;
  weights.texture_weights = std::vector<AdapterWeight>{{"wood", 3.0f}};
  std::printf("%s\n", client_internal::ValidateParams(weights).message().c_str());
  return 0;
}
"""


def _tools() -> tuple[str, str] | None:
    gxx, flatc = shutil.which("g++"), shutil.which("flatc")
    has_headers = Path("/usr/include/flatbuffers/flatbuffers.h").is_file()
    return (gxx, flatc) if gxx and flatc and has_headers else None


def _include_tree(gen: ModuleType, tmp: Path, flatc: str, registry: list[dict[str, Any]]) -> Path:
    """The core's include folder with every generated file made from the extended schema."""
    include = tmp / "include"
    shutil.copytree(CORE / "include", include)
    generated = include / "sdbridge" / "generated"
    (tmp / "bridge.fbs").write_text(EXTENDED, encoding="utf-8")
    subprocess.run([flatc, "--cpp", "--scoped-enums", "-o", str(generated), str(tmp / "bridge.fbs")], check=True,
                   capture_output=True, timeout=120)
    model = _parse(gen, EXTENDED)
    mirrors = sys.modules["codegen_mirrors"]
    (generated / "bridge_constants.h").write_text(mirrors.cpp_constants(model), encoding="utf-8")
    (generated / "stream_params.h").write_text(mirrors.cpp_stream_params(registry), encoding="utf-8")
    for name, text in _emit(gen, EXTENDED, registry).items():
        (generated / name).write_text(text, encoding="utf-8")
    return include


def test_the_extended_params_compile_against_the_core_and_round_trip(gen: ModuleType, tmp_path: Path) -> None:
    tools = _tools()
    if tools is None:
        pytest.skip("needs g++, flatc 2.0.8 and the flatbuffers headers (bash scripts/install_tools.sh cpp)")
    gxx, flatc = tools
    registry = _registry()
    include = _include_tree(gen, tmp_path, flatc, registry)
    main = tmp_path / "round_trip.cpp"
    main.write_text(ROUND_TRIP, encoding="utf-8")
    exe = tmp_path / "round_trip"
    src = CORE / "src"
    warnings = ["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Wsign-conversion", "-Werror"]
    cmd = [gxx, "-std=c++17", "-O0", *warnings, "-I", str(include), "-I", str(src), str(main),
           *(str(src / f) for f in ("messages.cpp", "codec.cpp", "client_messages.cpp")), "-o", str(exe)]
    built = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-4000:]
    ran = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, f"round trip failed at step {ran.returncode}: {ran.stdout}{ran.stderr}"
    sharp, weights = ran.stdout.splitlines()
    assert "SetParams: Params.sharpness = 4.5 is outside [0, 4]" in sharp
    assert "SetParams: Params.texture_weights[0] (wood) = 3 is outside [0, 2]" in weights
