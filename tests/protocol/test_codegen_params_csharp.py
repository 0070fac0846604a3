"""The C# client's typed Params comes from the schema: a field added to a copy of bridge.fbs (with its ParamsField bit
and a registry entry) gets its ParamsMessage member, SetMask bit, write, read, merge and range check from
schemas/codegen_params_csharp.py alone, and a field of a shape the generator does not know is refused by name.

When mono's mcs is installed (CI installs it), the generated code of the extended schema is compiled with the real C#
core and flatc's C# of that schema, and a small program run under mono sends the new fields through the codec, the
replay merge and the range check.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sdbridge import params

from .conftest import ROOT
from .extend_params import extended

SCHEMA = ROOT / "schemas" / "bridge.fbs"
CORE = ROOT / "unity_package" / "Runtime" / "Core"
GENERATED = CORE / "Generated"
FLATBUFFERS_DLL = ROOT / "build" / "csharp" / "FlatBuffers.dll"  # what unity_package/Tests~/build.sh builds
FETCH_RUNTIME = ROOT / "unity_package" / "Tests~" / "Tools" / "fetch_flatbuffers_runtime.sh"



@pytest.fixture(scope="module")
def emitter(codegen: ModuleType) -> ModuleType:
    """schemas/codegen_params_csharp.py as codegen.py imports it (schemas/ is on sys.path once codegen.py is loaded)."""
    return codegen.codegen_params_csharp


@pytest.fixture(scope="module")
def model(codegen: ModuleType) -> ModuleType:
    """schemas/codegen_model.py (parse, SchemaError)."""
    return codegen.codegen_model


def _schema_text(bits: str, fields: str) -> str:
    """bridge.fbs with ParamsField ``bits`` and Params ``fields`` appended (each a block of lines)."""
    return extended(bits, fields)


def _entry(like: str, name: str, doc: str) -> dict[str, Any]:
    """A registry entry (params.to_json() form) for the new field ``name``, copied from the entry ``like``."""
    entry = copy.deepcopy(next(p for p in params.to_json() if p["name"] == like))
    entry.update(name=name, wire_field=name, params_bit=name.upper(), field_path=f"Params.{name}", doc=doc,
                 rules_key="", recorder_key="", preview_control="")
    return entry


EXTENDED_BITS = "  NoiseGain = {bit0},\n  AdapterBias = {bit1},\n"
EXTENDED_FIELDS = "  noise_gain: float (id: {id0});\n  adapter_bias: [AdapterWeight] (id: {id1});\n"


def _extended(model: ModuleType) -> tuple[Any, list[dict[str, Any]]]:
    """The parsed copy of bridge.fbs with a float and an [AdapterWeight] field added, and the registry with theirs."""
    schema = model.parse(_schema_text(EXTENDED_BITS, EXTENDED_FIELDS))
    registry = [*params.to_json(), _entry("motion_warp", "noise_gain", "a test gain in [0, 1]"),
                _entry("lora_weights", "adapter_bias", "a test bias per adapter")]
    return schema, registry


def test_a_new_scalar_and_adapter_weight_field_get_every_line(emitter: ModuleType, model: ModuleType) -> None:
    schema, registry = _extended(model)
    message = emitter.message_file(schema, registry)
    lines = emitter.fields_file(schema, registry)
    # members with their docs (from the registry entry) and the set-mask bits
    docs = message.replace("\n        /// ", " ")  # the wrapped doc comments as one line each
    assert ("<summary>A test gain in [0, 1] (Params.noise_gain; ParamsField.NoiseGain; in [0, 1]; null: "
            "unchanged).</summary>\n        public float? NoiseGain;") in docs
    assert "        public float? NoiseGain;\n" in message
    assert "        public List<AdapterWeightData> AdapterBias;\n" in message
    assert "if (NoiseGain.HasValue) m |= (uint)ParamsField.NoiseGain;" in message
    assert "if (AdapterBias != null) m |= (uint)ParamsField.AdapterBias;" in message
    # the write: the vector before CreateParams, both values as its last two arguments (field-id order)
    assert "Offset<AdapterWeight>[] adapterBiasTables = AdapterWeightTables(b, m.AdapterBias);" in lines
    assert "Params.CreateAdapterBiasVector(b, adapterBiasTables)" in lines
    assert ",\n                m.NoiseGain.GetValueOrDefault(),\n                adapterBiasOffset);" in lines
    # the read, the replay merge (named weights merge by name), the range check before sending
    assert "if ((mask & (uint)ParamsField.NoiseGain) != 0) m.NoiseGain = p.NoiseGain;" in lines
    assert ("if ((mask & (uint)ParamsField.AdapterBias) != 0) m.AdapterBias = ReadAdapterWeights(p.AdapterBiasLength, "
            "p.AdapterBias);") in lines
    assert "m.NoiseGain = b.NoiseGain ?? (a != null ? a.NoiseGain : null);" in lines
    assert "m.AdapterBias = MergeNamed(a != null ? a.AdapterBias : null, b.AdapterBias);" in lines
    assert ("Float(p.NoiseGain, StreamParams.NoiseGain.InRange, StreamParams.NoiseGain.FieldPath, "
            "StreamParams.NoiseGain.RangeText);") in lines
    assert ("Weights(p.AdapterBias, StreamParams.AdapterBias.InRange, StreamParams.AdapterBias.FieldPath, "
            "StreamParams.AdapterBias.RangeText);") in lines
    # the real schema's output lacks them: they come from the added fields, nothing else
    real_schema, real_registry = _real(model)
    assert "NoiseGain" not in emitter.message_file(real_schema, real_registry) + emitter.fields_file(
        real_schema, real_registry)


def _real(model: ModuleType) -> tuple[Any, list[dict[str, Any]]]:
    return model.parse(SCHEMA.read_text(encoding="utf-8")), params.to_json()


def test_every_params_field_of_the_real_schema_is_a_member(emitter: ModuleType, model: ModuleType) -> None:
    schema, registry = _real(model)
    message = emitter.message_file(schema, registry)
    for f in schema.tables["Params"].fields:
        member = "".join(part[:1].upper() + part[1:] for part in f.name.split("_"))
        if f.name == "set_mask":
            assert " SetMask\n" in message
        else:
            assert f" {member};\n" in message, f"Params.{f.name} has no ParamsMessage member"


@pytest.mark.parametrize(("field", "shown"), [("tags: [string]", "[string]"), ("state: [KeyValue]", "[KeyValue]"),
                                              ("prompt: Prompt", "Prompt"), ("label: string", "string")])
def test_a_field_of_an_unknown_shape_is_refused_by_name(emitter: ModuleType, model: ModuleType, field: str,
                                                        shown: str) -> None:
    name = field.split(":")[0]
    bit = "".join(part[:1].upper() + part[1:] for part in name.split("_"))
    registry = [*params.to_json(), _entry("lora_weights", name, "a test field")]
    with pytest.raises(model.SchemaError) as info:  # [string]: already by the schema model; the others: the emitter
        text = _schema_text(f"  {bit} = {{bit0}},\n", f"  {field} (id: {{id0}});\n")
        emitter.fields_file(model.parse(text), registry)
    assert f"Params.{name}" in str(info.value) and shown in str(info.value)


def test_a_field_without_a_registry_entry_or_a_bit_is_refused(emitter: ModuleType, model: ModuleType) -> None:
    no_entry = model.parse(_schema_text("  NoiseGain = {bit0},\n", "  noise_gain: float (id: {id0});\n"))
    with pytest.raises(model.SchemaError, match=r"Params\.noise_gain .*no entry in the parameter registry"):
        emitter.message_file(no_entry, params.to_json())
    no_bit = model.parse(_schema_text("", "  adapter_bias: [AdapterWeight] (id: {id0});\n"))
    with pytest.raises(model.SchemaError, match=r"Params\.adapter_bias: type \[AdapterWeight\] has no "):
        emitter.message_file(no_bit, params.to_json())
    # the same schema with the bit is accepted: the refusals above are about what they name
    with_bit = model.parse(_schema_text("  AdapterBias = {bit0},\n",
                                                "  adapter_bias: [AdapterWeight] (id: {id0});\n"))
    registry = [*params.to_json(), _entry("lora_weights", "adapter_bias", "x")]
    assert "AdapterBias" in emitter.message_file(with_bit, registry)


PROBE = r"""
using System;
using System.Collections.Generic;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;

static class Probe
{
    static void Expect(bool ok, string what)
    {
        if (!ok) throw new Exception("probe failed: " + what);
    }

    static int Main()
    {
        var codec = new BridgeCodec();
        var sent = new ParamsMessage { NoiseGain = 0.25f, AdapterBias = new List<AdapterWeightData>() };
        sent.AdapterBias.Add(new AdapterWeightData("a", 0.5f));
        Expect(sent.SetMask == ((uint)ParamsField.NoiseGain | (uint)ParamsField.AdapterBias), "mask");
        var got = (ParamsMessage)codec.Decode(codec.Encode(sent));
        Expect(got.NoiseGain == 0.25f && got.GuidanceScale == null, "scalar round trip");
        Expect(got.AdapterBias.Count == 1 && got.AdapterBias[0].Name == "a", "weights round trip");
        Expect(got.AdapterBias[0].Weight == 0.5f, "weight round trip");
        var later = new ParamsMessage { AdapterBias = new List<AdapterWeightData> { new AdapterWeightData("b", 1f) } };
        ParamsMessage merged = ControlMessages.Merge(ControlMessages.Merge(null, sent), later);
        Expect(merged.NoiseGain == 0.25f && merged.AdapterBias.Count == 2, "merge");
        ParamsCheck.Check(sent);
        try
        {
            ParamsCheck.Check(new ParamsMessage { NoiseGain = 7f });
            Expect(false, "NoiseGain = 7 was not refused");
        }
        catch (ArgumentOutOfRangeException e)
        {
            Expect(e.Message.Contains("Params.noise_gain = 7") && e.Message.Contains("[0, 1]"), e.Message);
        }
        Console.WriteLine("probe ok");
        return 0;
    }
}
"""


def _flatbuffers_dll() -> Path:
    """Debian's FlatBuffers 2.0.8 C# runtime as the C# build builds it (fetched once when missing)."""
    if not FLATBUFFERS_DLL.is_file():
        proc = subprocess.run(["bash", str(FETCH_RUNTIME), str(FLATBUFFERS_DLL.parent)], capture_output=True,
                              text=True, timeout=900, cwd=ROOT)
        assert proc.returncode == 0, f"{FETCH_RUNTIME.name} failed:\n{proc.stdout}{proc.stderr}"
    return FLATBUFFERS_DLL


def test_the_generated_code_of_an_extended_schema_compiles_and_runs_in_the_core(
        codegen: ModuleType, emitter: ModuleType, model: ModuleType, tmp_path: Path) -> None:
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    if mcs is None or mono is None:
        pytest.skip("mono's mcs is not installed (bash scripts/install_tools.sh csharp)")
    schema, registry = _extended(model)
    fbs = tmp_path / "bridge.fbs"
    fbs.write_text(_schema_text(EXTENDED_BITS, EXTENDED_FIELDS), encoding="utf-8")
    subprocess.run([codegen.find_flatc(None), "--csharp", "--gen-onefile", "-o", str(tmp_path), str(fbs)],
                   check=True, capture_output=True, timeout=120)
    flatc_cs = tmp_path / "bridge_generated.cs"
    flatc_cs.write_text(codegen.csharp_runtime_switch(flatc_cs.read_text(encoding="utf-8")), encoding="utf-8")
    generated = {"bridge_generated.cs": flatc_cs}
    for name, text in (("StreamParams.cs", codegen.codegen_mirrors.csharp_stream_params(registry)),
                       ("ParamsMessage.g.cs", emitter.message_file(schema, registry)),
                       ("ParamsFields.g.cs", emitter.fields_file(schema, registry)),
                       ("Probe.cs", PROBE)):
        generated[name] = tmp_path / name
        generated[name].write_text(text, encoding="utf-8")
    core = [p for p in sorted(CORE.rglob("*.cs")) if not (p.parent == GENERATED and p.name in generated)]
    assert len(core) > 20 and all((GENERATED / n).is_file() for n in generated if n != "Probe.cs")
    runtime = _flatbuffers_dll()
    shutil.copy(runtime, tmp_path / runtime.name)
    exe = tmp_path / "probe.exe"
    build = subprocess.run([mcs, "-langversion:7.2", "-unsafe", "-nowarn:1591", "-target:exe", f"-r:{runtime}",
                            f"-out:{exe}", *map(str, core), *map(str, generated.values())],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, f"mcs failed on the generated code:\n{build.stdout}{build.stderr}"
    run = subprocess.run([mono, str(exe)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0 and "probe ok" in run.stdout, f"{run.stdout}{run.stderr}"
