"""The schema owns every mirror: constants, enums, value sets and table layouts come from bridge.fbs.

The copies in C# and C++ are checked by `python schemas/codegen.py --check` (test_codegen_tools.py); these tests
check what the generator reads out of the schema, that a field added to the schema reaches the Python tables
with no hand edit, and that the package versions follow the protocol major.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from sdbridge.protocol import _scalar, _verify
from sdbridge.protocol.messages import CAPACITY_REFUSAL, SESSION_GONE, UNKNOWN_CONNECTION, ErrorCode, MessageType
from sdbridge.protocol.version import FILE_IDENTIFIER, PROTOCOL_MAJOR, PROTOCOL_MINOR

from .conftest import load_module

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "bridge.fbs"
PACKAGE_JSON = ROOT / "unity_package/package.json"
UPLUGIN = ROOT / "unreal_plugin/StreamDiffusionBridge/StreamDiffusionBridge.uplugin"


def _flatc_python(codegen: ModuleType, schema: Path, tmp: Path) -> str:
    flatc = codegen.find_flatc(None)
    subprocess.run([flatc, "--python", "--gen-onefile", "-o", str(tmp), str(schema)], check=True, timeout=120,
                   capture_output=True)
    return (tmp / "bridge_generated.py").read_text(encoding="utf-8")


def test_version_and_identifier_come_from_the_schema(codegen: ModuleType) -> None:
    schema = codegen.codegen_model.parse(SCHEMA.read_text(encoding="utf-8"))
    assert schema.version() == (PROTOCOL_MAJOR, PROTOCOL_MINOR)
    assert schema.file_identifier.encode() == FILE_IDENTIFIER
    assert (PROTOCOL_MAJOR, PROTOCOL_MINOR) >= (1, 1), "Notice.preview_url (id 5) was appended in protocol 1.1"


def test_session_gone_set_is_the_schema_attribute() -> None:
    assert {ErrorCode.NOT_HELLO, ErrorCode.UNKNOWN_SESSION, ErrorCode.SESSION_EXPIRED} == SESSION_GONE


def test_unknown_connection_set_is_the_schema_attribute_and_a_part_of_session_gone() -> None:
    assert {ErrorCode.NOT_HELLO, ErrorCode.UNKNOWN_SESSION} == UNKNOWN_CONNECTION < SESSION_GONE


def test_capacity_refusal_set_is_the_schema_attribute_and_the_python_retry_codes() -> None:
    from sdbridge.transport.client_retry import RETRY_CODES

    assert {ErrorCode.SESSION_LIMIT} == CAPACITY_REFUSAL
    assert RETRY_CODES is CAPACITY_REFUSAL, "one definition: the Python client retries set_capacity_refusal"


def test_layout_and_scalar_tables_cover_the_schema() -> None:
    assert _verify.LAYOUT["Notice"][5][:2] == (5, _verify.Kind.STRING)  # preview_url
    assert _verify.LAYOUT["Notice"][-1][:2] == (6, _verify.Kind.VECTOR)  # wanted_planes (protocol 1.4)
    assert _verify.LAYOUT["Envelope"] == ((0, _verify.Kind.SCALAR, 1), (1, _verify.Kind.UNION, "Message"))
    assert _verify.LIST_FIELDS[("Params", 3)] == "Params.t_index_list"
    assert set(_scalar.SCALAR_TABLES) == {MessageType.FRAME, MessageType.RESULT, MessageType.STATS_REQUEST,
                                          MessageType.STATS, MessageType.CREDIT, MessageType.PING, MessageType.PONG}


def test_a_field_added_to_the_schema_reaches_every_table_without_hand_edits(codegen: ModuleType,
                                                                            tmp_path: Path) -> None:
    text = SCHEMA.read_text(encoding="utf-8")
    text = text.replace("table Credit {\n  granted: uint (id: 0);\n", "table Credit {\n  granted: uint (id: 0);\n"
                        "  note_us: ulong (id: 1);\n  label: string (id: 2);\n  mode: CfgMode (id: 3);\n")
    text = text.replace("  StyleImages = 1024,", "  StyleImages = 1024,\n  Hologram = 2048,")
    schema_path = tmp_path / "bridge.fbs"
    schema_path.write_text(text, encoding="utf-8")
    model = codegen.codegen_model.parse(text)
    codegen.codegen_model.cross_check(model, _flatc_python(codegen, schema_path, tmp_path))
    generated = tmp_path / "bridge_schema_edited.py"
    generated.write_text(codegen.codegen_mirrors.python_module(model), encoding="utf-8")
    mirror = load_module(generated, "bridge_schema_edited")
    assert mirror.TABLES["Credit"] == ((0, "granted", "scalar", 4, "I", ""), (1, "note_us", "scalar", 8, "Q", ""),
                                       (2, "label", "string", 4, "", ""), (3, "mode", "scalar", 1, "B", "CfgMode"))
    assert mirror.Capability.HOLOGRAM == 2048
    # Credit now holds a string: the struct fast path must no longer claim it (what _scalar derives from TABLES)
    assert not all(kind == "scalar" for _, _, kind, *_ in mirror.TABLES["Credit"])
    assert "constexpr uint32_t kHologram = 2048;" in codegen.codegen_mirrors.cpp_constants(model)


def test_the_model_reader_cannot_disagree_with_flatc(codegen: ModuleType, tmp_path: Path) -> None:
    schema_path = tmp_path / "bridge.fbs"
    shutil.copyfile(SCHEMA, schema_path)
    flatc_python = _flatc_python(codegen, schema_path, tmp_path)
    wrong = SCHEMA.read_text(encoding="utf-8").replace("granted: uint (id: 0);", "granted: ushort (id: 0);")
    with pytest.raises(codegen.codegen_model.SchemaError, match=r"Credit\.Granted"):
        codegen.codegen_model.cross_check(codegen.codegen_model.parse(wrong), flatc_python)


def test_an_unknown_member_in_a_value_set_is_refused(codegen: ModuleType) -> None:
    text = SCHEMA.read_text(encoding="utf-8").replace('"NotHello UnknownSession SessionExpired"', '"NotHello Gone"')
    with pytest.raises(codegen.codegen_model.SchemaError, match="Gone"):
        codegen.codegen_model.parse(text).value_sets()


def test_unity_package_version_major_is_the_protocol_major() -> None:
    version = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))["version"]
    assert int(version.split(".")[0]) == PROTOCOL_MAJOR, (
        f"unity_package/package.json version {version} must have major {PROTOCOL_MAJOR} (the protocol major)")


def test_unreal_plugin_version_name_major_is_the_protocol_major() -> None:
    version = json.loads(UPLUGIN.read_text(encoding="utf-8"))["VersionName"]
    assert int(version.split(".")[0]) == PROTOCOL_MAJOR, (
        f"StreamDiffusionBridge.uplugin VersionName {version} must have major {PROTOCOL_MAJOR} (the protocol major)")


def test_client_parameter_constants_come_from_the_registry(codegen: ModuleType) -> None:
    from sdbridge import params

    registry = params.to_json()
    assert codegen.parameter_registry() == registry
    cpp = codegen.codegen_mirrors.cpp_stream_params(registry)
    cs = codegen.codegen_mirrors.csharp_stream_params(registry)
    for p in params.REGISTRY:
        pascal = "".join(part.capitalize() for part in p.name.split("_"))
        assert f"struct {pascal} {{" in cpp and f"public static class {pascal}" in cs, p.name
        assert f'kName = "{p.name}";' in cpp and f'Name = "{p.name}";' in cs
    # a range changed in the registry reaches both clients (no hand-written copy to update)
    edited = [dict(p, maximum=25.0, range_text="[0, 25]") if p["name"] == "guidance_scale" else p for p in registry]
    assert "static constexpr float kMaximum = 25.0f;" in codegen.codegen_mirrors.cpp_stream_params(edited)
    assert "public const float Maximum = 25.0f;" in codegen.codegen_mirrors.csharp_stream_params(edited)


def test_bytes_per_pixel_reach_the_csharp_and_cpp_mirrors(codegen: ModuleType) -> None:
    """The bytes_per_pixel attributes (PixelFormat, PlaneFormat) become BytesPerPixel in C++ and PixelSizes in C#."""
    from sdbridge.protocol.messages import PixelFormat, PlaneFormat

    schema = codegen.codegen_model.parse(SCHEMA.read_text(encoding="utf-8"))
    cpp = codegen.codegen_mirrors.cpp_constants(schema)
    cs = codegen.codegen_mirrors.csharp_constants(schema)
    for enum_cls, name in ((PixelFormat, "PixelFormat"), (PlaneFormat, "PlaneFormat")):
        for member in enum_cls:
            if member.value == 0:
                continue
            wire = {v: n for n, v in schema.enums[name].members}[member.value]  # schema spelling: R16F, not R16_F
            assert f"case {name}::k{wire}: return {member.bytes_per_pixel}u;" in cpp
            assert f"case {name}.{wire}: return {member.bytes_per_pixel};" in cs
