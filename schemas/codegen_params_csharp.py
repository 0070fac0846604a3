"""Emit the C# client's typed Params members and their encode/decode from the Params table of bridge.fbs.

Declares its outputs in ``OUTPUTS`` (read by codegen.py's MIRRORS), both in unity_package/Runtime/Core/Generated/:
    ParamsMessage.g.cs  the public members of ``ParamsMessage`` (one per Params field, documented from the parameter
                        registry python_server/sdbridge/params.py) and its ``SetMask`` (the ParamsField bits)
    ParamsFields.g.cs   the per-field lines of the client core: ``MessageWriters.BuildParams`` (the FlatBuffers
                        write), ``ParamsReader.ReadParams`` (the read: Params messages and a Notice's params),
                        ``ControlMessages.Merge`` (the merge of session replay) and ``ParamsCheck.CheckFields`` (each
                        value against its registry range before sending)
The hand-written halves of those ``partial`` classes (Protocol/Messages.cs, MessageWriters.cs, ParamsReader.cs,
Client/ControlMessages.cs, ParamsCheck.cs) keep only what is not per field.

Field shapes, read from the schema model (codegen_model), each with the registry entry whose ``wire_field`` names it:
    set_mask                   the bits: computed (``SetMask``), never a member
    a scalar with a bit        ``T?`` (bool, numbers, enums); null = unchanged, its ParamsField bit clear
    a scalar without a bit     a plain ``T`` member, always written (stream_id)
    [scalar]                   ``T[]``; null = unchanged (t_index_list)
    [Table] of ELEMENT_TABLES  ``List<TableData>`` (the hand-written value type of Messages.cs, whose constructor
                               takes the table's fields in id order); null = unchanged (seed_blend, lora_weights, ...)
Anything else raises ``codegen_model.SchemaError`` naming the field, its type and what to do.
Generated C# stays within C# 7.2 (mono's mcs -langversion:7.2, the CI build).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from codegen_mirrors import PARAMS_MARKER
from codegen_model import EnumDef, FieldDef, Schema, SchemaError, TableDef, camel

TABLE = "Params"
MASK_FIELD = "set_mask"
MASK_ENUM = "ParamsField"
_REGENERATE = "(regenerate with `python schemas/codegen.py`; `--check` fails when this file is stale)"
_HOW = ("see schemas/codegen_params_csharp.py (field shapes) and docs/adding-a-parameter.md")

#: schema scalar -> C# type
CS_SCALARS: Mapping[str, str] = {
    "bool": "bool", "byte": "sbyte", "ubyte": "byte", "short": "short", "ushort": "ushort", "int": "int",
    "uint": "uint", "long": "long", "ulong": "ulong", "float": "float", "double": "double",
}  # fmt: skip

#: tables a Params vector may hold: each has a hand-written C# value type ``<Table>Data`` in Protocol/Messages.cs
#: with one public field per table field (same PascalCase name) and a constructor taking them in id order
ELEMENT_TABLES = ("SeedWeight", "AdapterWeight")
#: element table -> the hand-written merge (ControlMessages.cs) that keeps the names a newer list does not send
#: (a newer weight replaces its own name's, new names are added): the server leaves the names not sent unchanged
NAMED_MERGE = {"AdapterWeight": "MergeNamed"}
#: registry kind -> the schema shapes it may take (a disagreement is an error, not a guess)
_KIND_SHAPES = {"float": ("scalar",), "int": ("scalar",), "bool": ("scalar",), "enum": ("scalar",),
                "int_list": ("vector",), "blend": ("tables",), "weights": ("tables",)}


@dataclasses.dataclass(frozen=True)
class CsField:
    """One Params field as the C# client sees it."""

    field: FieldDef
    member: str  # the ParamsMessage member (flatc's accessor spelling: PascalCase)
    cs_type: str  # the member's C# type
    bit: str  # the ParamsField member, "" for a plain member (no bit: always written)
    param: Mapping[str, Any] | None  # the registry entry (None for a plain member)

    @property
    def optional(self) -> bool:
        """True for a member that may be unset (a bit); a nullable value type or a reference type."""
        return bool(self.bit)

    @property
    def is_value(self) -> bool:
        """True for a scalar (its member is ``T?`` or ``T``), False for a vector (an array or a List)."""
        return self.field.kind == "scalar"

    @property
    def registry_class(self) -> str:
        """The generated StreamParams class of its registry entry, e.g. ``StreamParams.MaxSkipFrames``."""
        assert self.param is not None
        return "StreamParams." + camel(str(self.param["name"]))


def _scalar_type(schema: Schema, f: FieldDef) -> str:
    if f.type_name in schema.enums:
        return f.type_name
    return CS_SCALARS[f.type_name]


def _element_table(schema: Schema, f: FieldDef) -> TableDef:
    """The element table of a [Table] field, checked to be one the client has a value type for."""
    table = schema.tables[f.ref]
    if f.ref not in ELEMENT_TABLES:
        raise SchemaError(
            f"{TABLE}.{f.name}: type [{f.type_name}] is a vector of a table the C# client has no value type for; add "
            f"a public struct {f.ref}Data (one field per {f.ref} field, a constructor in id order) to "
            f"unity_package/Runtime/Core/Protocol/Messages.cs and {f.ref!r} to ELEMENT_TABLES in {_HOW}")
    for e in table.fields:
        if not (e.kind == "string" or (e.kind == "scalar" and e.type_name in CS_SCALARS)):
            raise SchemaError(f"{TABLE}.{f.name}: element table {f.ref} has field {e.name} of type {e.type_name}; "
                              f"only numbers, bools and strings are generated ({_HOW})")
    return table


def _bits(schema: Schema) -> Mapping[str, int]:
    if MASK_ENUM not in schema.enums:
        raise SchemaError(f"bridge.fbs has no enum {MASK_ENUM}; the {TABLE} table's set_mask needs it")
    return dict(schema.enums[MASK_ENUM].members)


def _check_param(f: FieldDef, param: Mapping[str, Any] | None, bit: str) -> None:
    if param is None:
        raise SchemaError(
            f"{TABLE}.{f.name} (type {f.type_name}) has the {MASK_ENUM} bit {bit} but no entry in the parameter "
            "registry python_server/sdbridge/params.py whose wire_field is it; add one (docs/adding-a-parameter.md "
            "step 2): the C# client takes its documentation and range from it")
    kind = str(param["kind"])
    if f.kind not in _KIND_SHAPES.get(kind, ()):
        raise SchemaError(
            f"{TABLE}.{f.name}: the registry entry {param['name']!r} is of kind {kind!r} but the field's type "
            f"{f.type_name} is a {f.kind}; make them agree ({_HOW})")


def fields(schema: Schema, registry: Sequence[Mapping[str, Any]]) -> list[CsField]:
    """The Params fields in id order with their C# shape; SchemaError for a shape this generator does not know."""
    if TABLE not in schema.tables:
        raise SchemaError(f"bridge.fbs has no table {TABLE}")
    bits = _bits(schema)
    by_wire = {str(p["wire_field"]): p for p in registry if p.get("wire_field")}
    out: list[CsField] = []
    for f in schema.tables[TABLE].fields:
        if f.name == MASK_FIELD:
            continue
        member = camel(f.name)
        bit = member if member in bits else ""
        shown = f"[{f.type_name}]" if f.kind in ("vector", "tables") else f.type_name
        if f.kind == "scalar":
            cs_type = _scalar_type(schema, f)
        elif f.kind == "vector" and f.type_name in CS_SCALARS:
            cs_type = CS_SCALARS[f.type_name] + "[]"
        elif f.kind == "tables":
            cs_type = f"List<{_element_table(schema, f).name}Data>"
        else:
            raise SchemaError(
                f"{TABLE}.{f.name}: type {shown} (a {f.kind}) is not a shape the C# client's typed Params is "
                f"generated for (numbers, bools, enums, [number], [SeedWeight], [AdapterWeight]); teach "
                f"schemas/codegen_params_csharp.py its member, write, read, merge and check ({_HOW})")
        if not bit and f.kind != "scalar":
            raise SchemaError(f"{TABLE}.{f.name}: type {shown} has no {MASK_ENUM} bit {member}; add the bit "
                              "(only a scalar may be a plain member that is always sent, like stream_id)")
        param = by_wire.get(f.name)
        if bit:
            _check_param(f, param, bit)
        out.append(CsField(f, member, cs_type, bit, param if bit else None))
    return out


# ------------------------------------------------------------------------------------------------ the message type

def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _member_doc(schema: Schema, c: CsField) -> str:
    if c.param is None:
        return f"{TABLE}.{c.field.name}: always sent (no {MASK_ENUM} bit)."
    p = c.param
    doc = str(p["doc"])
    doc = doc[:1].upper() + doc[1:]
    extra = [f"{TABLE}.{c.field.name}", f"{MASK_ENUM}.{c.bit}"]
    if p.get("range_text"):
        each = {"weights": "each weight in ", "int_list": "each entry in ", "blend": "each entry in "}
        extra.append(each.get(str(p["kind"]), "in ") + str(p["range_text"]))
    if c.field.ref in schema.enums:
        extra.append("one of " + ", ".join(_choices(schema.enums[c.field.ref])))
    extra.append("null: unchanged")
    return f"{doc} ({'; '.join(extra)})."


def _wrap_doc(text: str, indent: str, width: int = 118) -> list[str]:
    """A /// <summary> block wrapped at ``width`` columns."""
    words = ("<summary>" + _xml(text) + "</summary>").split(" ")
    lines: list[str] = []
    line = ""
    for word in words:
        if line and len(indent) + 4 + len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return [f"{indent}/// {text_line}" for text_line in lines]


def _header(usings: Sequence[str]) -> list[str]:
    return [f"// {PARAMS_MARKER}", f"// {_REGENERATE}",
            "// (the per-field lines of the C# client's typed Params, from the Params table of schemas/bridge.fbs)",
            *usings, ""]


def message_file(schema: Schema, registry: Sequence[Mapping[str, Any]]) -> str:
    """ParamsMessage.g.cs: ParamsMessage's members (one per Params field) and SetMask."""
    cs = fields(schema, registry)
    out = _header(["using System.Collections.Generic;", "using sdbridge.protocol;"])
    out += ["namespace StreamDiffusion.Bridge.Core.Protocol", "{",
            "    public sealed partial class ParamsMessage", "    {"]
    for c in cs:
        nullable = "?" if c.optional and c.is_value else ""
        out += _wrap_doc(_member_doc(schema, c), "        ")
        out.append(f"        public {c.cs_type}{nullable} {c.member};")
    out += ["", f"        /// <summary>OR of the {MASK_ENUM} bits of the fields that are set.</summary>",
            "        public uint SetMask", "        {", "            get", "            {",
            "                uint m = 0;"]
    for c in (c for c in cs if c.bit):
        cond = f"{c.member}.HasValue" if c.is_value else f"{c.member} != null"
        out.append(f"                if ({cond}) m |= (uint){MASK_ENUM}.{c.bit};")
    out += ["                return m;", "            }", "        }", "    }", "}", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ write, read

def _element_args(table: TableDef, item: str) -> tuple[list[str], list[str]]:
    """(lines creating the strings of one element, the Create<Table> arguments) for ``item``."""
    strings: list[str] = []
    args = ["b"]
    for e in table.fields:
        if e.kind == "string":
            strings.append(f"StringOffset {e.name} = Str(b, {item}.{camel(e.name)});")
            args.append(e.name)
        else:
            args.append(f"{item}.{camel(e.name)}")
    return strings, args


def _element_helpers(schema: Schema, tables: Sequence[str]) -> tuple[list[str], list[str]]:
    """(MessageWriters helpers, ParamsReader helpers) per element table used by Params."""
    write: list[str] = []
    read: list[str] = []
    for name in tables:
        table = schema.tables[name]
        strings, args = _element_args(table, "items[i]")
        write += ["", f"        // The {name} tables of a list, each one's strings first (null or empty: null, the "
                      "field absent).",
                  f"        internal static Offset<{name}>[] {name}Tables(FlatBufferBuilder b, List<{name}Data> items)",
                  "        {", "            if (items == null || items.Count == 0) return null;",
                  f"            var tables = new Offset<{name}>[items.Count];",
                  "            for (int i = 0; i < tables.Length; i++)", "            {"]
        write += [f"                {line}" for line in strings]
        write += [f"                tables[i] = {name}.Create{name}({', '.join(args)});", "            }",
                  "            return tables;", "        }"]
        ctor = ", ".join(f"e.{camel(e.name)}" + (' ?? ""' if e.kind == "string" else "") for e in table.fields)
        read += ["", f"        internal static List<{name}Data> Read{name}s(int length, Func<int, {name}?> get)",
                 "        {", f"            var items = new List<{name}Data>(length);",
                 "            for (int i = 0; i < length; i++)", "            {",
                 f"                {name} e = get(i).Value;", f"                items.Add(new {name}Data({ctor}));",
                 "            }", "            return items;", "        }"]
    return write, read


def _local(c: CsField) -> str:
    return c.member[:1].lower() + c.member[1:] + "Offset"


def _writer(schema: Schema, cs: Sequence[CsField]) -> list[str]:
    out = ["    internal static partial class MessageWriters", "    {",
           "        // Vectors (and their tables) in field-id order, then Create" + TABLE + ": the bytes of flatc -b.",
           f"        internal static Offset<{TABLE}> Build{TABLE}(FlatBufferBuilder b, {TABLE}Message m)", "        {"]
    args = ["b"]
    for f in schema.tables[TABLE].fields:
        c = next((c for c in cs if c.field is f), None)
        if c is None:  # set_mask
            args.append("m.SetMask")
        elif f.kind == "vector":
            out += [f"            VectorOffset {_local(c)} = m.{c.member} != null && m.{c.member}.Length > 0",
                    f"                ? {TABLE}.Create{c.member}Vector(b, m.{c.member}) : default(VectorOffset);"]
            args.append(_local(c))
        elif f.kind == "tables":
            tables = _local(c).replace("Offset", "Tables")
            out += [f"            Offset<{f.ref}>[] {tables} = {f.ref}Tables(b, m.{c.member});",
                    f"            VectorOffset {_local(c)} = {tables} != null ? {TABLE}.Create{c.member}Vector(b, "
                    f"{tables}) : default(VectorOffset);"]
            args.append(_local(c))
        else:
            args.append(f"m.{c.member}.GetValueOrDefault()" if c.optional else f"m.{c.member}")
    out.append(f"            return {TABLE}.Create{TABLE}(")
    out += [f"                {a}{',' if i < len(args) - 1 else ');'}" for i, a in enumerate(args)]
    out.append("        }")
    return out


def _reader(cs: Sequence[CsField]) -> list[str]:
    out = ["    /// <summary>Params body reader (Params messages and the params a Notice carries).</summary>",
           "    internal static class ParamsReader", "    {",
           "        /// <summary>Only the fields the set_mask names are set; the rest stay null (unchanged).</summary>",
           f"        internal static {TABLE}Message Read{TABLE}({TABLE} p)", "        {",
           "            uint mask = p.SetMask;", f"            var m = new {TABLE}Message();"]
    for c in cs:
        f = c.field
        if f.kind == "scalar":
            value = f"m.{c.member} = p.{c.member};"
        elif f.kind == "vector":
            value = (f"{{ m.{c.member} = new {c.cs_type[:-2]}[p.{c.member}Length]; "
                     f"for (int i = 0; i < m.{c.member}.Length; i++) m.{c.member}[i] = p.{c.member}(i); }}")
        else:
            value = f"m.{c.member} = Read{f.ref}s(p.{c.member}Length, p.{c.member});"
        test = f"if ((mask & (uint){MASK_ENUM}.{c.bit}) != 0) " if c.bit else ""
        out.append(f"            {test}{value}")
    out += ["            return m;", "        }"]
    return out


# ------------------------------------------------------------------------------------------------ merge, check

def _merger(cs: Sequence[CsField]) -> list[str]:
    out = ["    internal static partial class ControlMessages", "    {",
           "        /// <summary><paramref name=\"b\"/> applied over <paramref name=\"a\"/> (null fields of b keep a's "
           "value; named", "        /// weights merge by name).</summary>",
           f"        internal static {TABLE}Message Merge({TABLE}Message a, {TABLE}Message b)", "        {",
           f"            var m = new {TABLE}Message();"]
    for c in cs:
        older = f"(a != null ? a.{c.member} : null)"
        merge = NAMED_MERGE.get(c.field.ref) if c.field.kind == "tables" else None
        if not c.optional:
            out.append(f"            m.{c.member} = b.{c.member};")
        elif merge and not (c.param or {}).get("selection", False):  # a registry `selection` is replayed whole
            out.append(f"            m.{c.member} = {merge}(a != null ? a.{c.member} : null, b.{c.member});")
        else:
            out.append(f"            m.{c.member} = b.{c.member} ?? {older};")
    out += ["            return m;", "        }"]
    return out


def _choices(enum_def: EnumDef) -> list[str]:
    return [n for n, v in enum_def.members if v != 0]


def _check_line(schema: Schema, c: CsField) -> list[str]:
    assert c.param is not None
    kind, sp, v = str(c.param["kind"]), c.registry_class, f"p.{c.member}"
    where = f"{sp}.FieldPath, {sp}.RangeText"
    if kind == "float":
        return [f"            Float({v}, {sp}.InRange, {where});"]
    if kind == "int":
        return [f"            if ({v}.HasValue) Range({sp}.InRange({v}.Value), {sp}.FieldPath, {v}.Value, "
                f"{sp}.RangeText);"]
    if kind == "int_list":
        return [f"            if ({v} != null) foreach (var x in {v}) Range({sp}.InRange(x), {sp}.FieldPath, x, "
                f"{sp}.RangeText);"]
    if kind == "weights":
        return [f"            Weights({v}, {sp}.InRange, {where});"]
    if kind == "enum":
        enum_def = schema.enums[c.field.ref]
        zero = next((n for n, val in enum_def.members if val == 0), None)
        last = max(enum_def.members, key=lambda m: m[1])[0]
        if zero is None:
            raise SchemaError(f"enum {enum_def.name} (of {TABLE}.{c.field.name}) has no 0 = Unknown member "
                              "(schemas/README.md rule 3)")
        names = _choices(enum_def)
        listed = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
        return [f"            if ({v}.HasValue && ({v}.Value == {enum_def.name}.{zero} || {v}.Value > "
                f"{enum_def.name}.{last}))",
                f"                throw new ArgumentException({sp}.FieldPath + \" = \" + {v}.Value + "
                f"\"; use {listed}\", \"parameters\");"]
    return []  # bool: any value; blend: no per-entry range check on the client (the server checks the weights)


def _checker(schema: Schema, cs: Sequence[CsField]) -> list[str]:
    out = ["    internal static partial class ParamsCheck", "    {",
           "        /// <summary>Each set value against its parameter registry range (StreamParams); throws naming the "
           "field,", "        /// the value, the range and the fix.</summary>",
           f"        internal static void CheckFields({TABLE}Message p)", "        {"]
    for c in cs:
        if c.param is not None:
            out += _check_line(schema, c)
    out.append("        }")
    return out


def fields_file(schema: Schema, registry: Sequence[Mapping[str, Any]]) -> str:
    """ParamsFields.g.cs: the write, read, merge and check lines of every Params field."""
    cs = fields(schema, registry)
    tables = list(dict.fromkeys(c.field.ref for c in cs if c.field.kind == "tables"))
    write_helpers, read_helpers = _element_helpers(schema, tables)
    out = _header(["using System;", "using System.Collections.Generic;", "#if SDBRIDGE_FLATBUFFERS_NUGET",
                   "using Google.FlatBuffers;", "#else", "using FlatBuffers;", "#endif", "using sdbridge.protocol;",
                   "using StreamDiffusion.Bridge.Core.Protocol;"])
    out += ["namespace StreamDiffusion.Bridge.Core.Protocol", "{"]
    out += _writer(schema, cs) + write_helpers + ["    }", ""]
    out += _reader(cs) + read_helpers + ["    }", "}", ""]
    out += ["namespace StreamDiffusion.Bridge.Core.Client", "{"]
    out += [*_merger(cs), "    }", "", *_checker(schema, cs), "    }", "}", ""]
    return "\n".join(out)


Emit = Callable[[Schema, list[dict[str, Any]]], str]
#: (target language, file name, emitter(schema, registry)): the files this module writes
OUTPUTS: tuple[tuple[str, str, Emit], ...] = (
    ("csharp", "ParamsMessage.g.cs", message_file),
    ("csharp", "ParamsFields.g.cs", fields_file),
)
