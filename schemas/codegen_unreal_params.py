"""Emit the Unreal plugin's Blueprint parameter struct (FSDBridgeParams) and its ToWire from the registry and schema.

Declares its outputs in ``OUTPUTS`` (read by codegen.py's MIRRORS), both in the runtime module's
``Source/StreamDiffusionBridge/Public/Generated`` folder (codegen.py's target "unreal", which runs no flatc):

    SDBridgeParams.h            the whole header of the Blueprint-facing ``FSDBridgeParams``, the UENUMs of its enum
                                fields (``ESDBridgeCfgMode``, ``ESDBridgeAttentionBankBlocks``) and
                                ``FSDBridgeNamedWeight``; StreamDiffusionBridgeTypes.h includes it. A whole header, not
                                an include inside a hand struct: UnrealHeaderTool parses each header's own text and
                                does not follow ``#include``: UPROPERTYs in an included file would not be reflected.
    SDBridgeParamsToWire.inl    ``ToWire()`` of those enums, of the named weights and of ``FSDBridgeParams`` (the
                                core's ``sdbridge::Params``): included by Private/SDBridgeConversions.h inside
                                namespace SDBridge

For each Params field with a parameter registry entry: an ``InlineEditConditionToggle`` bool ``bSet<Name>`` and the
value UPROPERTY with ``EditCondition = "bSet<Name>"``, the registry default as initialiser, ``ClampMin``/``ClampMax``
from the registry range (when the Blueprint type holds it) and the registry doc line as its ``/** doc */`` (the
editor's tooltip). The default is a default member initialiser (``= 1.2f;``, ``= {32, 45};`` for an array; TArray's
std::initializer_list constructor is not explicit): UnrealHeaderTool skips a UPROPERTY's initialiser (after ``=``, up
to the ``;``), so no constructor is needed. ClampMin/ClampMax are editor metadata: the Details panel clamps what is
typed there (an array's on each element); Blueprint and C++ writes are not clamped, the core checks the ranges.
``<Name>`` is the field's flatc spelling (t_index_list -> TIndexList), bools prefixed ``b``; ``LEGACY_TOGGLES``
keeps the one toggle name of protocol 1.0 that differs (Blueprint graphs use it).

Blueprint types (uint32 and uint64 are not Blueprint types): float -> float, double -> double, bool -> bool,
int -> int32, uint -> int32 (ClampMin 0; ToWire clamps a negative value to 0 before the cast), long -> int64,
ulong -> int64 (the same); a vector of numbers -> ``TArray<int32>``/``TArray<float>``; an enum -> a ``uint8`` UENUM
named ``ESDBridge<Enum>`` with the schema's members but Unknown (0); a vector of (name: string, weight: float) tables
-> ``TArray<FSDBridgeNamedWeight>`` (the weight's range is the field's, checked by the core before sending; the doc
says it, a USTRUCT member's clamp cannot depend on the list it is in). Fields without a Blueprint form (``EXCLUDED``:
seed_blend) and Params fields without a registry entry (stream_id) are named in the header's comment, never left out
silently. Anything else raises ``SchemaError`` naming the field, its type and the fix.

The UE layer is not compiled on the build machines: tests/protocol/test_codegen_unreal_params.py compiles the generated
header and ToWire with g++ against a stub of the few UE names they use and the real core.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from codegen_mirrors import GENERATED_MARKER
from codegen_model import EnumDef, FieldDef, Schema, SchemaError, camel

TABLE = "Params"
MASK_FIELD = "set_mask"
CATEGORY = 'Category = "StreamDiffusion Bridge"'
PROP = f"UPROPERTY(EditAnywhere, BlueprintReadWrite, {CATEGORY}"
API = "STREAMDIFFUSIONBRIDGE_API"
NAMED_WEIGHT = "FSDBridgeNamedWeight"
#: Params fields (wire name) whose toggle keeps its protocol 1.0 name (Blueprint graphs and the editor use it)
LEGACY_TOGGLES = {"similarity_filter_enabled": "bSetSimilarityFilter"}
#: Params fields with a registry entry but no Blueprint form, and why (named in the generated header)
EXCLUDED = {"seed_blend": "a blend of 64-bit seeds, which Blueprint cannot hold exactly; set Seed instead"}
INT32_MAX, INT64_MAX = 2**31 - 1, 2**63 - 1
#: schema scalar -> (Blueprint type, largest value it holds, ToWire expression of `value` as the wire type)
_SCALARS = {
    "float": ("float", None, "{v}"),
    "double": ("double", None, "{v}"),
    "bool": ("bool", None, "{v}"),
    "int": ("int32", INT32_MAX, "{v}"),
    "uint": ("int32", INT32_MAX, "static_cast<uint32_t>(FMath::Max({v}, 0))"),
    "long": ("int64", INT64_MAX, "static_cast<int64_t>({v})"),
    "ulong": ("int64", INT64_MAX, "static_cast<uint64_t>(FMath::Max<int64>({v}, 0))"),
}
_VECTOR_ELEMENTS = {"int": ("int32", "int32_t"), "float": ("float", "float")}

Registry = list[dict[str, Any]]


def _fail(f: FieldDef, why: str) -> SchemaError:
    shown = f"[{f.type_name}]" if f.kind in ("vector", "tables") else f.type_name
    return SchemaError(f"{TABLE}.{f.name}: type {shown} ({f.kind}) {why}; schemas/codegen_unreal_params.py writes "
                       "Blueprint members for numbers, bools, enums, vectors of int/float and vectors of (name, "
                       "weight) tables: use one of those, add the field to its EXCLUDED list with the reason, or "
                       "teach the generator this shape")


def enum_type(name: str) -> str:
    """The Blueprint UENUM of a schema enum: CfgMode -> ESDBridgeCfgMode."""
    return f"ESDBridge{name}"


def _num_text(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


class _Member:
    """One Params field as a Blueprint member: its names, type, initialiser, clamps, doc and ToWire line."""

    def __init__(self, schema: Schema, f: FieldDef, entry: dict[str, Any]) -> None:
        self.field, self.entry, self.schema = f, entry, schema
        self.name = camel(f.name)
        self.toggle = LEGACY_TOGGLES.get(f.name, "bSet" + self.name)
        self.enum: EnumDef | None = None
        self.limit: int | None = None
        if f.kind == "scalar" and f.type_name in schema.enums:
            self.enum = _choice_enum(schema, f)
            self.type, self.wire = enum_type(f.type_name), "ToWire({v})"
        elif f.kind == "scalar" and f.type_name in _SCALARS:
            self.type, self.limit, self.wire = _SCALARS[f.type_name]
        elif f.kind == "vector" and f.type_name in _VECTOR_ELEMENTS:
            element, wire = _VECTOR_ELEMENTS[f.type_name]
            self.type = f"TArray<{element}>"
            self.wire = f"std::vector<{wire}>({{v}}.GetData(), {{v}}.GetData() + {{v}}.Num())"
            self.limit = INT32_MAX if element == "int32" else None
        elif f.kind == "tables" and _is_named_weight(schema, f.ref):
            self.type, self.wire = f"TArray<{NAMED_WEIGHT}>", "ToWire({v})"
        else:
            raise _fail(f, "has no Blueprint form in the generator")
        self.member = ("b" if self.type == "bool" else "") + self.name

    def default(self) -> str | None:
        """The C++ initialiser of the registry default (None: an empty TArray)."""
        value = self.entry["default"]
        if self.enum is not None:
            return f"{self.type}::{_member_of(self.enum, value, self.field)}"
        if self.type == "bool":
            return "true" if value else "false"
        if self.type in ("float", "double"):
            return f"{float(value)!r}" + ("f" if self.type == "float" else "")
        if self.type.startswith("TArray<"):
            if not value or self.type == f"TArray<{NAMED_WEIGHT}>":
                return None
            return "{" + ", ".join(_num_text(v) for v in value) + "}"
        return str(int(value))

    def clamps(self) -> list[str]:
        """ClampMin/ClampMax of the registry range that the Blueprint type holds (uint and ulong: ClampMin 0)."""
        if self.type == f"TArray<{NAMED_WEIGHT}>" or self.enum is not None or self.type == "bool":
            return []
        out = []
        for key, bound, text in (("ClampMin", self.entry["minimum"], self.entry["minimum_text"]),
                                 ("ClampMax", self.entry["maximum"], self.entry["maximum_text"])):
            if bound is not None and (self.limit is None or -self.limit - 1 <= bound <= self.limit):
                out.append(f'{key} = "{text}"')
            elif key == "ClampMin" and self.field.type_name in ("uint", "ulong"):
                out.append('ClampMin = "0"')
        return out

    def doc(self) -> str:
        """The registry doc line, its range, and what the Blueprint type cannot reach."""
        entry, text = self.entry, self.entry["doc"][:1].upper() + self.entry["doc"][1:]
        if self.enum is not None:
            names = [n for n, v in self.enum.members if v != 0]
            text += f"; one of {', '.join(names)}"
        elif entry["range_text"]:
            each = "each weight " if self.type == f"TArray<{NAMED_WEIGHT}>" else (
                "each entry " if self.type.startswith("TArray<") else "")
            text += f"; {each}in {entry['range_text']}"
            if self.limit is not None and entry["maximum"] is not None and entry["maximum"] > self.limit:
                text += f" (Blueprint's {self.type} reaches {self.limit})"
            if self.type == f"TArray<{NAMED_WEIGHT}>":
                text += ", checked before sending"
        return f"/** {text} (Params.{self.field.name}). */"

    def declaration(self) -> list[str]:
        meta = ", ".join([f'EditCondition = "{self.toggle}"', *self.clamps()])
        default = self.default()
        return [
            f"\t{PROP}, meta = (InlineEditConditionToggle))",
            f"\tbool {self.toggle} = false;",
            f"\t{self.doc()}",
            f"\t{PROP}, meta = ({meta}))",
            f"\t{self.type} {self.member}{'' if default is None else ' = ' + default};",
        ]

    def to_wire(self) -> str:
        return f"\tif (In.{self.toggle}) P.{self.field.name} = {self.wire.format(v='In.' + self.member)};"


def _is_named_weight(schema: Schema, table: str) -> bool:
    fields = [(f.name, f.kind, f.type_name) for f in schema.tables[table].fields]
    return fields == [("name", "string", "string"), ("weight", "scalar", "float")]


def _choice_enum(schema: Schema, f: FieldDef) -> EnumDef:
    enum_def = schema.enums[f.type_name]
    if "flags" in enum_def.attributes or not any(v == 0 for _n, v in enum_def.members):
        raise _fail(f, f"is a flag set or has no 0 (Unknown) member in enum {f.type_name}")
    return enum_def


def _member_of(enum_def: EnumDef, choice: str, f: FieldDef) -> str:
    for name, value in enum_def.members:
        if value != 0 and name.lower() == choice:
            return name
    raise SchemaError(f"{TABLE}.{f.name}: the registry default {choice!r} is no member of enum {enum_def.name} "
                      f"({', '.join(n for n, _v in enum_def.members)}); fix the registry entry or the enum")


class _Model:
    """The Params table of one schema, split into Blueprint members, exclusions and fields without an entry."""

    def __init__(self, schema: Schema, registry: Registry) -> None:
        if TABLE not in schema.tables:
            raise SchemaError(f"bridge.fbs has no table {TABLE}: the Unreal Blueprint params need it")
        by_wire = {p["wire_field"]: p for p in registry
                   if p.get("wire_field") and p["field_path"].startswith(TABLE + ".")}
        self.schema = schema
        self.members: list[_Member] = []
        self.excluded: list[tuple[str, str]] = []
        self.unregistered: list[str] = []
        for f in schema.tables[TABLE].fields:
            if f.name == MASK_FIELD:
                continue
            if f.name not in by_wire:
                self.unregistered.append(f.name)
            elif f.name in EXCLUDED:
                self.excluded.append((f.name, EXCLUDED[f.name]))
            else:
                self.members.append(_Member(schema, f, by_wire[f.name]))

    def enums(self) -> list[EnumDef]:
        return list({m.enum.name: m.enum for m in self.members if m.enum is not None}.values())

    def named_weights(self) -> bool:
        return any(m.type == f"TArray<{NAMED_WEIGHT}>" for m in self.members)


def _marker_lines() -> list[str]:
    return [f"// {GENERATED_MARKER}",
            "// (regenerate with `python schemas/codegen.py`; `--check` fails when this file is stale)",
            "// (names, defaults, ranges and docs: python_server/sdbridge/params.py, the parameter registry)"]


# ------------------------------------------------------------------------------------------------ SDBridgeParams.h

def _enum_lines(enum_def: EnumDef, model: _Model) -> list[str]:
    users = ", ".join(f"Params.{m.field.name}" for m in model.members if m.enum is enum_def)
    doc = " ".join(enum_def.doc.split()) or f"The schema's enum {enum_def.name} ({users})."
    lines = textwrap.wrap(f"{doc} The wire's Unknown (0) is not offered. */", 113)
    out = ["/** " + "\n *  ".join(lines), "UENUM(BlueprintType)",
           f"enum class {enum_type(enum_def.name)} : uint8", "{"]
    out += [f"\t{name}," for name, value in enum_def.members if value != 0]
    return [*out, "};", ""]


def _named_weight_lines() -> list[str]:
    return [
        "/** One (name, weight) entry of a Params list (lora_weights, controlnet_scale/start/end, style_blend): the "
        "name of a",
        " *  LoRA adapter, a ControlNet kind or a style image on the server; the weight's range is the list's. */",
        "USTRUCT(BlueprintType)",
        f"struct {API} {NAMED_WEIGHT}",
        "{",
        "\tGENERATED_BODY()",
        "",
        "\t/** The name as the server knows it (exact case: an FString, not an FName). */",
        f"\t{PROP})",
        "\tFString Name;",
        "",
        f"\t{PROP})",
        "\tfloat Weight = 1.0f;",
        "};",
        "",
    ]


def unreal_params_header(schema: Schema, registry: Registry) -> str:
    """The whole SDBridgeParams.h (UHT reads it; StreamDiffusionBridgeTypes.h includes it)."""
    model = _Model(schema, registry)
    out = [*_marker_lines(),
           "// The Blueprint-facing runtime parameters of the StreamDiffusion Bridge plugin: one toggle and one value",
           f"// per field of the schema's {TABLE} table that has a parameter registry entry. Not compiled on the",
           "// build machines (no Unreal Engine there): tests/protocol/test_codegen_unreal_params.py compiles it",
           "// against a stub of the UE names it uses, tests/test_unreal_param_defaults.py checks it against the",
           "// registry.",
           "// Not in Blueprint:"]
    out += [f"//   {name}: {why}" for name, why in model.excluded]
    out += [f"//   {name}: no parameter registry entry (not a stream parameter)" for name in model.unregistered]
    out += ["#pragma once", "", '#include "CoreMinimal.h"', "", '#include "SDBridgeParams.generated.h"', ""]
    for enum_def in model.enums():
        out += _enum_lines(enum_def, model)
    if model.named_weights():
        out += _named_weight_lines()
    out += ["/** Runtime parameters; only the fields whose toggle is on are sent (the others stay as they are on the "
            "server).",
            " *  Initial values, clamps and docs are the server's parameter registry's. ClampMin/ClampMax act in",
            " *  the editor's Details panel only (on a TArray, on each element: the property editor reads an array",
            " *  element's metadata from the array property); a value set from Blueprint or C++ is not clamped: the",
            " *  core checks every range before sending. */",
            "USTRUCT(BlueprintType)", f"struct {API} FSDBridgeParams", "{", "\tGENERATED_BODY()"]
    for member in model.members:
        out += ["", *member.declaration()]
    out += ["};", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------ SDBridgeParamsToWire.inl

def _enum_to_wire(enum_def: EnumDef) -> list[str]:
    bp, core = enum_type(enum_def.name), f"sdbridge::{enum_def.name}"
    out = [f"/** The wire {enum_def.name} of a Blueprint {bp}. */", f"inline {core} ToWire({bp} Value)", "{",
           "\tswitch (Value)", "\t{"]
    out += [f"\tcase {bp}::{name}: return {core}::k{name};" for name, value in enum_def.members if value != 0]
    zero = next(name for name, value in enum_def.members if value == 0)
    return [*out, f"\tdefault: return {core}::k{zero};  // refused before sending, naming the value", "\t}", "}", ""]


def unreal_to_wire(schema: Schema, registry: Registry) -> str:
    """The ToWire functions of SDBridgeParamsToWire.inl (SDBridgeConversions.h includes it in namespace SDBridge)."""
    model = _Model(schema, registry)
    out = [*_marker_lines(),
           "// ToWire() of the Blueprint params (Public/Generated/SDBridgeParams.h) to the core's sdbridge::Params:",
           "// included once by Private/SDBridgeConversions.h inside namespace SDBridge, after its ToUtf8(). Plain C++",
           "// (no reflection). Not compiled on the build machines but by tests/protocol/test_codegen_unreal_params.py",
           "// against a stub of the UE names it uses.", ""]
    for enum_def in model.enums():
        out += _enum_to_wire(enum_def)
    if model.named_weights():
        out += ["/** Named weights as the core's AdapterWeight list (the core checks each weight's range). */",
                f"inline std::vector<sdbridge::AdapterWeight> ToWire(const TArray<{NAMED_WEIGHT}>& In)", "{",
                "\tstd::vector<sdbridge::AdapterWeight> Out;",
                "\tOut.reserve(static_cast<size_t>(In.Num()));",
                f"\tfor (const {NAMED_WEIGHT}& Entry : In)", "\t{",
                "\t\tOut.push_back(sdbridge::AdapterWeight{ToUtf8(Entry.Name), Entry.Weight});", "\t}",
                "\treturn Out;", "}", ""]
    out += ["/** Only fields whose toggle is on are set (sdbridge::Params::SetMask follows). */",
            "inline sdbridge::Params ToWire(const FSDBridgeParams& In)", "{", "\tsdbridge::Params P;"]
    out += [m.to_wire() for m in model.members]
    out += ["\treturn P;", "}", ""]
    return "\n".join(out)


Emit = Callable[[Schema, Registry], str]
#: (target language, file name, emitter(schema, registry)): the files this module writes
OUTPUTS: tuple[tuple[str, str, Emit], ...] = (
    ("unreal", "SDBridgeParams.h", unreal_params_header),
    ("unreal", "SDBridgeParamsToWire.inl", unreal_to_wire),
)
