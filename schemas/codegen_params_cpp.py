"""Emit the C++ client's typed Params members and their encode/decode from the Params table of bridge.fbs.

Declares its outputs in ``OUTPUTS`` (read by codegen.py's MIRRORS). Every per-field line of the Unreal core's
``sdbridge::Params`` comes from here; the hand files keep what is not per field and include these:

    params_fields.h     the members of ``struct Params`` with their doc comments (messages.h includes it inside the
                        struct, so designated and member assignment work as before)
    params_merge.inc    ``Params::SetMask()`` and ``Params::MergeFrom()`` (messages.cpp; the session replay)
    params_codec.inc    ``BuildParams()`` / ``ReadParams()`` and one write/read helper per element table
                        (codec.cpp, the only file that sees flatc's header)
    params_check.inc    ``CheckParamsFields()``: each field against its registry range before sending
                        (client_messages.cpp, with the generated stream_params.h)

Field shapes (``codegen_model.FieldDef.kind``) and what they become:
    ``set_mask``                                  not a member: ``SetMask()`` computes it from the members set
    scalar with a ``ParamsField`` bit             ``std::optional<T>`` (a number, bool or the core's enum)
    scalar without a bit (``stream_id``)          a plain ``T`` member, always written, read and merged
    vector of numbers (``t_index_list``)          ``std::optional<std::vector<T>>``
    vector of tables (``seed_blend``, ...)        ``std::optional<std::vector<Table>>``: the core's hand struct
                                                  of that table (messages.h), members named as its fields;
                                                  the table's fields must be numbers, bools, enums or strings
Anything else raises ``SchemaError`` naming the field, its type and the fix.

Merging (``MergeFrom``, what a reconnect replays): a field set in the newer Params replaces the older value, except a
vector of tables with a ``name`` string (lora_weights, controlnet_*): there a newer entry replaces the entry of its
name and new names are added, because the server leaves the names not sent unchanged. A field whose registry entry is
a ``selection`` (style_blend: the newer list replaces the whole selection on the server) is replaced here too.

Range checks come from the parameter registry entry whose ``wire_field`` is the field (stream_params.h's struct of
that entry): numbers ``CheckRange``, a list of numbers ``CheckEntries``, named weights ``CheckWeights``; enums are
checked against the schema's members (``CheckEnum``). Fields the client does not check (bools, seed blends, a field
without a registry entry) get a comment line saying so, never silence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from codegen_mirrors import _CPP_INT, CPP_ENUM_NAMES, GENERATED_MARKER, PARAMS_MARKER
from codegen_model import FieldDef, Schema, SchemaError, camel

TABLE = "Params"
MASK_FIELD = "set_mask"  # the ParamsField mask: computed by SetMask(), not a member
BITS_ENUM = "ParamsField"
#: named vectors the server replaces whole (its selection is the newer list), so a merge replaces them too
_REGENERATE = "// (regenerate with `python schemas/codegen.py`; `--check` fails when this file is stale)"
_CPP_SCALAR = {**_CPP_INT, "float": "float", "double": "double", "bool": "bool"}
_ZERO = {"float": "0.0f", "double": "0.0", "bool": "false"}  # every other scalar: 0

Registry = list[dict[str, Any]]


def _fail(field: FieldDef, why: str) -> SchemaError:
    shown = f"[{field.type_name}]" if field.kind in ("vector", "tables") else field.type_name
    return SchemaError(f"{TABLE}.{field.name}: type {shown} ({field.kind}) {why}; schemas/codegen_params_cpp.py "
                       "generates the C++ client's Params from scalars, vectors of numbers and vectors of tables of "
                       "scalars and strings: use one of those shapes, or teach the generator this one")


def _header(marker: str, *lines: str) -> list[str]:
    return [f"// {marker}", _REGENERATE, *lines]


class _Params:
    """The Params table of one schema, checked, with the C++ spelling of each field."""

    def __init__(self, schema: Schema, registry: Registry) -> None:
        if TABLE not in schema.tables or BITS_ENUM not in schema.enums:
            raise SchemaError(f"bridge.fbs has no table {TABLE} or enum {BITS_ENUM}: the C++ Params need both")
        self.schema = schema
        self.bits = dict(schema.enums[BITS_ENUM].members)
        self.fields = tuple(f for f in schema.tables[TABLE].fields if f.name != MASK_FIELD)
        self.registry: Mapping[str, dict[str, Any]] = {
            p["wire_field"]: p for p in registry if p.get("wire_field") and p["field_path"].startswith(TABLE + ".")}
        for f in self.fields:
            self.member_type(f)  # raises on a shape this generator does not know

    # ---------------------------------------------------------------------------------------- spelling
    def bit(self, f: FieldDef) -> str | None:
        """``params_field::kX`` of the field, or None for a plain member (no ParamsField bit)."""
        return f"params_field::k{camel(f.name)}" if camel(f.name) in self.bits else None

    def enum_name(self, name: str) -> str:
        return CPP_ENUM_NAMES.get(name, name)

    def zero(self, type_name: str) -> str:
        """The C++ value of a scalar or enum absent from the buffer (flatc's default, 0)."""
        if type_name in self.schema.enums:
            enum_def = self.schema.enums[type_name]
            zero = [n for n, v in enum_def.members if v == 0]
            if not zero or "flags" in enum_def.attributes:
                raise SchemaError(f"enum {type_name} has no 0 member (schemas/README.md rule 3) or is a flag set: a "
                                  f"Params field of type {type_name} cannot be generated; add `Unknown = 0`")
            return f"{self.enum_name(type_name)}::k{zero[0]}"
        return _ZERO.get(type_name, "0")

    def scalar_type(self, f: FieldDef, type_name: str) -> str:
        if type_name in self.schema.enums:
            self.zero(type_name)
            return self.enum_name(type_name)
        if type_name not in _CPP_SCALAR:
            raise _fail(f, f"has a {type_name} the generator has no C++ type for")
        return _CPP_SCALAR[type_name]

    def element_fields(self, f: FieldDef) -> tuple[FieldDef, ...]:
        """The fields of the table a vector-of-tables field holds (numbers, bools, enums, strings only)."""
        table = self.schema.tables[f.ref]
        for item in table.fields:
            if item.kind not in ("scalar", "string"):
                raise _fail(f, f"holds {f.ref}, whose field {item.name} is a {item.kind}")
            if item.kind == "scalar":
                self.scalar_type(f, item.type_name)
        return table.fields

    def member_type(self, f: FieldDef) -> str:
        """The member's C++ type (std::optional<...> for a field with a bit)."""
        if f.kind == "scalar":
            inner = self.scalar_type(f, f.type_name)
        elif f.kind == "vector":
            if f.type_name in self.schema.enums or f.type_name == "bool":
                raise _fail(f, "is a vector of enums or bools, which the generator does not write yet")
            inner = f"std::vector<{self.scalar_type(f, f.type_name)}>"
        elif f.kind == "tables":
            self.element_fields(f)
            inner = f"std::vector<{f.ref}>"
        else:
            raise _fail(f, "is a shape the generator does not know")
        if self.bit(f) is None:
            if f.kind != "scalar":
                raise _fail(f, f"has no {BITS_ENUM} bit (only a scalar may be a plain member); add the bit "
                               f"{camel(f.name)} to enum {BITS_ENUM}")
            return inner
        return f"std::optional<{inner}>"

    def stream_struct(self, f: FieldDef) -> str | None:
        """``sp::X``: the generated stream_params.h struct of the field's registry entry, or None."""
        entry = self.registry.get(f.name)
        return None if entry is None else "sp::" + camel(entry["name"])

    def enum_choices(self, type_name: str) -> tuple[str, str]:
        """(the largest member, "A, B or C") of an enum field's valid (non-zero) members."""
        members = [(n, v) for n, v in self.schema.enums[type_name].members if v != 0]
        names = [n for n, _ in members]
        text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        last = max(members, key=lambda m: m[1])[0]
        return f"{self.enum_name(type_name)}::k{last}", text

    def doc(self, f: FieldDef) -> str:
        """One doc line: the registry's description and range, or what the field is."""
        entry = self.registry.get(f.name)
        bit = self.bit(f)
        where = f"{TABLE}.{f.name}" + (f", ParamsField {camel(f.name)}" if bit else ", sent with every Params")
        if entry is None:
            return f"/// {where} (no parameter registry entry)."
        text = f"/// {entry['doc'][:1].upper()}{entry['doc'][1:]}"
        if f.type_name in self.schema.enums and f.kind == "scalar":
            text += f"; one of {self.enum_choices(f.type_name)[1]}"
        elif entry.get("range_text"):
            text += f"; {'each entry ' if f.kind != 'scalar' else ''}in {entry['range_text']}"
        return text + f" ({where}; stream_params::{camel(entry['name'])})."


# -------------------------------------------------------------------------------------------- params_fields.h

def cpp_fields(schema: Schema, registry: Registry) -> str:
    """The members of ``struct Params`` (messages.h includes this file inside the struct)."""
    model = _Params(schema, registry)
    out = _header(
        GENERATED_MARKER,
        "// (the doc comments and ranges: python_server/sdbridge/params.py, the parameter registry)",
        f"// The members of sdbridge::{TABLE}, one per field of the schema's {TABLE} table (but {MASK_FIELD}, which",
        "// SetMask() computes): included by sdbridge/messages.h inside the struct, nowhere else (no include guard).",
        "// A field with a ParamsField bit is std::optional: sent (and its bit set) only when it has a value.",
    )
    for f in model.fields:
        default = "" if model.bit(f) else " = " + model.zero(f.type_name)
        out += [model.doc(f), f"{model.member_type(f)} {f.name}{default};"]
    return "\n".join(out) + "\n"


# -------------------------------------------------------------------------------------------- params_merge.inc

def _merge_line(model: _Params, f: FieldDef) -> str:
    if model.bit(f) is None:
        return f"  {f.name} = newer.{f.name};"
    named = f.kind == "tables" and any(i.name == "name" and i.kind == "string" for i in model.element_fields(f))
    if named and not (model.registry.get(f.name) or {}).get("selection", False):
        return f"  MergeNamed({f.name}, newer.{f.name});  // a newer entry replaces the one of its name"
    return f"  TakeIfSet({f.name}, newer.{f.name});"


def cpp_merge(schema: Schema, registry: Registry) -> str:
    """``Params::SetMask()`` and ``Params::MergeFrom()`` (messages.cpp includes this file in namespace sdbridge)."""
    model = _Params(schema, registry)
    out = _header(
        GENERATED_MARKER,
        "// Params::SetMask() and Params::MergeFrom(): included once by src/messages.cpp inside namespace sdbridge,",
        "// after its helpers TakeIfSet (a set field replaces) and MergeNamed (named entries replace by name).",
        "", "uint32_t Params::SetMask() const {", "  uint32_t mask = 0;")
    out += [f"  if ({f.name}.has_value()) mask |= {model.bit(f)};" for f in model.fields if model.bit(f)]
    out += ["  return mask;", "}", "", "void Params::MergeFrom(const Params& newer) {"]
    out += [_merge_line(model, f) for f in model.fields]
    out += ["}", ""]
    return "\n".join(out)


# -------------------------------------------------------------------------------------------- params_codec.inc

def _element_helpers(model: _Params, table: str) -> list[str]:
    items = model.schema.tables[table].fields
    args: list[str] = []
    reads: list[str] = []
    strings: list[str] = []
    for item in items:
        if item.kind == "string":
            strings.append(f"    auto {item.name} = Str(b, item.{item.name});")
            args.append(item.name)
            reads.append(f"w->{item.name}() ? w->{item.name}()->str() : std::string()")
        elif item.type_name in model.schema.enums:
            args.append(f"To<fb::{item.type_name}>(item.{item.name})")
            reads.append(f"static_cast<{model.enum_name(item.type_name)}>(w->{item.name}())")
        else:
            args.append(f"item.{item.name}")
            reads.append(f"w->{item.name}()")
    vec = f"flatbuffers::Vector<Offset<fb::{table}>>"
    return [
        f"// A Params vector of {table} tables: each entry's strings, then its table, then the vector, as flatc's JSON",
        "// parser builds them; none or empty: absent.",
        f"Offset<{vec}> Write{table}List(FlatBufferBuilder& b, const std::optional<std::vector<{table}>>& items) {{",
        "  if (!items || items->empty()) return 0;",
        f"  std::vector<Offset<fb::{table}>> tables;",
        "  tables.reserve(items->size());",
        f"  for (const {table}& item : *items) {{",
        *strings,
        f"    tables.push_back(fb::Create{table}(b{''.join(', ' + a for a in args)}));",
        "  }",
        "  return b.CreateVector(tables);",
        "}",
        "",
        f"// A Params vector of {table} tables whose bit is set; absent: empty (a set, empty list).",
        f"std::vector<{table}> Read{table}List(const {vec}* v) {{",
        f"  std::vector<{table}> out;",
        "  if (!v) return out;",
        "  out.reserve(v->size());",
        f"  for (const fb::{table}* w : *v) out.push_back({table}{{{', '.join(reads)}}});",
        "  return out;",
        "}",
        "",
    ]


def _write_value(model: _Params, f: FieldDef) -> str:
    """The CreateParams argument of one field."""
    if f.kind != "scalar":
        return f.name  # the offset built before
    value = f"m.{f.name}" if model.bit(f) is None else f"m.{f.name}.value_or({model.zero(f.type_name)})"
    return f"To<fb::{f.type_name}>({value})" if f.type_name in model.schema.enums else value


def _build(model: _Params) -> list[str]:
    out = ["// The Params table of `m`: sub-objects first, in field-id order, then flatc's CreateParams (which adds",
           "// the fields as flatc's JSON parser does), so the bytes equal flatc's for the same JSON.",
           "Offset<fb::Params> BuildParams(FlatBufferBuilder& b, const Params& m) {"]
    for f in model.fields:
        if f.kind == "vector":
            out += [f"  Offset<flatbuffers::Vector<{model.scalar_type(f, f.type_name)}>> {f.name} = 0;",
                    f"  if (m.{f.name} && !m.{f.name}->empty()) {f.name} = b.CreateVector(*m.{f.name});"]
        elif f.kind == "tables":
            out.append(f"  auto {f.name} = Write{f.ref}List(b, m.{f.name});")
    args = []
    for f in model.schema.tables[TABLE].fields:
        args.append("m.SetMask()" if f.name == MASK_FIELD else _write_value(model, f))
    out.append("  return fb::Create" + TABLE + "(b,")
    out += [f"      {a}{',' if i < len(args) - 1 else ');'}" for i, a in enumerate(args)]
    out += ["}", ""]
    return out


def _read_lines(model: _Params, f: FieldDef) -> list[str]:
    if f.kind == "scalar":
        value = f"p.{f.name}()"
        if f.type_name in model.schema.enums:
            value = f"static_cast<{model.enum_name(f.type_name)}>({value})"
        if model.bit(f) is None:
            return [f"  m.{f.name} = {value};"]
        return [f"  if ((mask & {model.bit(f)}) != 0) m.{f.name} = {value};"]
    if f.kind == "vector":
        return [f"  if ((mask & {model.bit(f)}) != 0) {{  // set and absent: an empty list",
                f"    m.{f.name}.emplace();",
                f"    if (p.{f.name}()) m.{f.name}->assign(p.{f.name}()->begin(), p.{f.name}()->end());",
                "  }"]
    return [f"  if ((mask & {model.bit(f)}) != 0) m.{f.name} = Read{f.ref}List(p.{f.name}());"]


def cpp_codec(schema: Schema, registry: Registry) -> str:
    """BuildParams / ReadParams (codec.cpp includes this file in its anonymous namespace, after its helpers)."""
    model = _Params(schema, registry)
    out = _header(
        GENERATED_MARKER,
        "// BuildParams() and ReadParams(): included once by src/codec.cpp inside its anonymous namespace, after its",
        "// helpers Same, To and Str and the aliases fb (flatc's sdbridge::protocol), FlatBufferBuilder and Offset.",
        "", "// The core's ParamsField bits (generated/bridge_constants.h) equal flatc's.")
    out += [f"static_assert(Same(fb::{BITS_ENUM}::{name}, params_field::k{name}));"
            for name, value in schema.enums[BITS_ENUM].members if value]
    out.append("")
    for table in dict.fromkeys(f.ref for f in model.fields if f.kind == "tables"):
        out += _element_helpers(model, table)
    out += _build(model)
    out += ["// The Params of a decoded table: a field whose bit is clear stays unset, whatever the buffer holds.",
            "Params ReadParams(const fb::Params& p) {", "  Params m;", f"  const uint32_t mask = p.{MASK_FIELD}();"]
    for f in model.fields:
        out += _read_lines(model, f)
    out += ["  return m;", "}", ""]
    return "\n".join(out)


# -------------------------------------------------------------------------------------------- params_check.inc

def _check_line(model: _Params, f: FieldDef) -> str:
    sp = model.stream_struct(f)
    if model.bit(f) is None:
        return f"// {f.name}: sent with every Params, not a parameter"
    if f.kind == "scalar" and f.type_name in model.schema.enums:
        last, names = model.enum_choices(f.type_name)
        return f'CheckEnum(p.{f.name}, "{TABLE}.{f.name}", {last}, "{names}"),'
    entry = model.registry.get(f.name)
    if sp is None or entry is None:
        return f"// {f.name}: no parameter registry entry, no range to check"
    kind = entry["kind"]
    if f.kind == "scalar" and kind in ("float", "int") and entry["minimum"] is not None:
        return f"CheckRange<{sp}>(p.{f.name}),"
    if f.kind == "vector" and kind == "int_list" and entry["minimum"] is not None:
        return f"CheckEntries<{sp}>(p.{f.name}),"
    if f.kind == "tables" and kind == "weights":
        return f"CheckWeights<{sp}>(p.{f.name}),"
    if kind == "bool":
        return f"// {f.name}: true or false, nothing to check"
    return f"// {f.name}: a {kind}, checked by the server only"


def cpp_check(schema: Schema, registry: Registry) -> str:
    """CheckParamsFields (client_messages.cpp includes this file in its anonymous namespace, after its helpers)."""
    model = _Params(schema, registry)
    out = _header(
        PARAMS_MARKER,
        "// CheckParamsFields(): included once by src/client_messages.cpp inside its anonymous namespace, after its",
        "// helpers CheckRange, CheckEntries, CheckWeights and CheckEnum (stream_params.h holds each registry range).",
        "",
        "// Each field set in `p` against its range, in field-id order; the first refusal, else Ok.",
        "Status CheckParamsFields(const Params& p) {",
        "  namespace sp = stream_params;",
        "  const Status checks[] = {")
    out += [f"      {_check_line(model, f)}" for f in model.fields]
    out += ["      Status::Ok()};", "  for (const Status& s : checks) {", "    if (!s.ok()) return s;", "  }",
            "  return Status::Ok();", "}", ""]
    return "\n".join(out)


Emit = Callable[[Schema, Registry], str]
#: (target language, file name, emitter(schema, registry)): the files this module writes
OUTPUTS: tuple[tuple[str, str, Emit], ...] = (
    ("cpp", "params_fields.h", cpp_fields),
    ("cpp", "params_merge.inc", cpp_merge),
    ("cpp", "params_codec.inc", cpp_codec),
    ("cpp", "params_check.inc", cpp_check),
)
