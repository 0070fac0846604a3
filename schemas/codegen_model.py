"""Read schemas/bridge.fbs into a small model for schemas/codegen.py's mirror generators.

Covers the subset of the FlatBuffers schema language bridge.fbs uses (namespace, attribute, enum, table,
union, root_type, file_identifier, file_extension; `//` comments, `///` doc comments; field metadata
`id` and `deprecated`; enum and table attributes). flatc itself still parses the schema first (codegen runs
it before this), and :func:`cross_check` compares this model with flatc's Python output (every enum value,
every field's slot id and storage type), so this reader cannot silently disagree with flatc.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

#: FlatBuffers scalar type -> (size in bytes, struct format character)
SCALARS: Mapping[str, tuple[int, str]] = {
    "bool": (1, "?"), "byte": (1, "b"), "ubyte": (1, "B"), "short": (2, "h"), "ushort": (2, "H"),
    "int": (4, "i"), "uint": (4, "I"), "long": (8, "q"), "ulong": (8, "Q"), "float": (4, "f"),
    "double": (8, "d"),
}  # fmt: skip

#: struct format character -> the flatc Python builder's Prepend<X>Slot name
_PREPEND: Mapping[str, str] = {
    "?": "Bool", "b": "Int8", "B": "Uint8", "h": "Int16", "H": "Uint16", "i": "Int32", "I": "Uint32",
    "q": "Int64", "Q": "Uint64", "f": "Float32", "d": "Float64",
}  # fmt: skip


class SchemaError(Exception):
    """bridge.fbs uses something this reader does not understand, or disagrees with flatc's output."""


@dataclasses.dataclass(frozen=True)
class EnumDef:
    """One enum: its members in declaration order and its attributes."""

    name: str
    underlying: str
    members: tuple[tuple[str, int], ...]
    attributes: Mapping[str, str]
    doc: str


@dataclasses.dataclass(frozen=True)
class FieldDef:
    """One table field. ``kind``: scalar, string, vector (of scalars), tables (vector of tables), table, union."""

    name: str
    fid: int
    type_name: str
    kind: str
    size: int  # scalar: its size; vector: element size; otherwise 4 (an offset)
    fmt: str  # scalar: struct format character; otherwise ""
    ref: str  # tables/table/union: the referenced table or union name; a scalar of an enum type: the enum; else ""


@dataclasses.dataclass(frozen=True)
class TableDef:
    """One table: its fields in id order and its attributes."""

    name: str
    fields: tuple[FieldDef, ...]
    attributes: Mapping[str, str]

    @property
    def scalar_only(self) -> bool:
        """True when every field is an inline scalar (the codec's struct fast path applies)."""
        return all(f.kind == "scalar" for f in self.fields)


@dataclasses.dataclass(frozen=True)
class Schema:
    """What the mirror generators need from bridge.fbs."""

    namespace: str
    enums: Mapping[str, EnumDef]
    tables: Mapping[str, TableDef]
    union_name: str
    union_members: tuple[str, ...]  # tag 1, 2, ... in order
    root_type: str
    file_identifier: str

    def version(self) -> tuple[int, int]:
        """(major, minor) from the root table's protocol_major / protocol_minor attributes."""
        attrs = self.tables[self.root_type].attributes
        try:
            return int(attrs["protocol_major"]), int(attrs["protocol_minor"])
        except (KeyError, ValueError) as exc:
            raise SchemaError(
                f"table {self.root_type} needs integer attributes protocol_major and protocol_minor, "
                f"e.g. `table {self.root_type} (protocol_major: 1, protocol_minor: 0)`; got {dict(attrs)}"
            ) from exc

    def value_sets(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(enum name, set name, member names) for every ``set_<name>`` enum attribute, checked."""
        out = []
        for enum_def in self.enums.values():
            names = {n for n, _ in enum_def.members}
            for key, value in enum_def.attributes.items():
                if not key.startswith("set_"):
                    continue
                members = tuple(value.split())
                unknown = [n for n in members if n not in names]
                if unknown or not members:
                    raise SchemaError(f"enum {enum_def.name} attribute {key}: {unknown or 'empty'} not members of "
                                      f"{enum_def.name} ({sorted(names)})")
                out.append((enum_def.name, key[4:], members))
        return out


_TOKEN = re.compile(r'"[^"]*"|[A-Za-z_][A-Za-z0-9_.]*|-?\d+|[{}()\[\]:;,=]')


def _strip_comments(text: str) -> tuple[str, dict[int, str]]:
    """Text without comments; doc comments (///) keyed by the offset of the code that follows them."""
    out: list[str] = []
    docs: dict[int, str] = {}
    pending: list[str] = []
    length = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("///"):
            pending.append(stripped[3:].strip())
            continue
        code = line.split("//", 1)[0]  # bridge.fbs has no "//" inside a string
        if code.strip() and pending:
            docs[length] = " ".join(pending)
            pending = []
        out.append(code if code.endswith("\n") else code + "\n")
        length += len(out[-1])
    return "".join(out), docs


class _Tokens:
    def __init__(self, text: str) -> None:
        self.items = [(m.group(0), m.start()) for m in _TOKEN.finditer(text)]
        self.pos = 0

    def peek(self) -> str:
        return self.items[self.pos][0] if self.pos < len(self.items) else ""

    def take(self, expected: str | None = None) -> str:
        if self.pos >= len(self.items):
            raise SchemaError(f"bridge.fbs ended early (expected {expected or 'more'})")
        tok = self.items[self.pos][0]
        if expected is not None and tok != expected:
            raise SchemaError(f"bridge.fbs: expected {expected!r}, got {tok!r} near token {self.pos}")
        self.pos += 1
        return tok

    def offset(self) -> int:
        return self.items[self.pos][1] if self.pos < len(self.items) else -1


def _attributes(tok: _Tokens) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if tok.peek() != "(":
        return attrs
    tok.take("(")
    while tok.peek() != ")":
        key = tok.take()
        value = ""
        if tok.peek() == ":":
            tok.take(":")
            value = tok.take().strip('"')
        attrs[key] = value
        if tok.peek() == ",":
            tok.take(",")
    tok.take(")")
    return attrs


def _doc_before(docs: Mapping[int, str], start: int, text: str) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    return docs.get(line_start, "")


RawField = tuple[str, str, bool, int]  # (name, type name, is a vector, id)


def _enum(tok: _Tokens, doc: str) -> EnumDef:
    name = tok.take()
    tok.take(":")
    underlying = tok.take()
    attrs = _attributes(tok)
    tok.take("{")
    members: list[tuple[str, int]] = []
    while tok.peek() != "}":
        member = tok.take()
        tok.take("=")  # bridge.fbs gives every value explicitly
        members.append((member, int(tok.take())))
        if tok.peek() == ",":
            tok.take(",")
    tok.take("}")
    return EnumDef(name, underlying, tuple(members), attrs, doc)


def _table_fields(tok: _Tokens) -> tuple[str, list[RawField], dict[str, str]]:
    name = tok.take()
    attrs = _attributes(tok)
    tok.take("{")
    fields: list[RawField] = []
    while tok.peek() != "}":
        fname = tok.take()
        tok.take(":")
        vector = tok.peek() == "["
        if vector:
            tok.take("[")
        type_name = tok.take()
        if vector:
            tok.take("]")
        meta = _attributes(tok)
        tok.take(";")
        if "id" not in meta:
            raise SchemaError(f"{name}.{fname} has no explicit (id: N) (schemas/README.md rule 1)")
        fields.append((fname, type_name, vector, int(meta["id"])))
    tok.take("}")
    return name, fields, attrs


def _union(tok: _Tokens) -> tuple[str, tuple[str, ...]]:
    name = tok.take()
    tok.take("{")
    members: list[str] = []
    while tok.peek() != "}":
        members.append(tok.take())
        if tok.peek() == ",":
            tok.take(",")
    tok.take("}")
    return name, tuple(members)


def parse(text: str) -> Schema:
    """Parse bridge.fbs text into a :class:`Schema` (raises :class:`SchemaError`)."""
    code, docs = _strip_comments(text)
    tok = _Tokens(code)
    decl: dict[str, str] = {}  # namespace, root_type, file_identifier, ...
    union_name, union = "", ()
    enums: dict[str, EnumDef] = {}
    raw_tables: list[tuple[str, list[RawField], dict[str, str]]] = []
    while tok.peek():
        start = tok.offset()
        word = tok.take()
        if word in ("namespace", "root_type", "file_extension", "attribute", "file_identifier"):
            decl[word] = tok.take().strip('"')
            tok.take(";")
        elif word == "enum":
            enum_def = _enum(tok, _doc_before(docs, start, code))
            enums[enum_def.name] = enum_def
        elif word == "table":
            raw_tables.append(_table_fields(tok))
        elif word == "union":
            union_name, union = _union(tok)
        else:
            raise SchemaError(f"bridge.fbs: {word!r} is not a construct schemas/codegen_model.py understands")
    table_names = {name for name, _, _ in raw_tables}
    tables = {name: TableDef(name, tuple(sorted((_field(name, f, enums, table_names, union_name)
                                                 for f in fields), key=lambda f: f.fid)), attrs)
              for name, fields, attrs in raw_tables}
    return Schema(decl.get("namespace", ""), enums, tables, union_name, union, decl.get("root_type", ""),
                  decl.get("file_identifier", ""))


def _field(table: str, raw: RawField, enums: Mapping[str, EnumDef], tables: set[str],
           union_name: str) -> FieldDef:
    name, type_name, vector, fid = raw
    scalar = enums[type_name].underlying if type_name in enums else type_name
    if vector:
        if scalar in SCALARS:
            return FieldDef(name, fid, type_name, "vector", SCALARS[scalar][0], "", "")
        if type_name in tables:
            return FieldDef(name, fid, type_name, "tables", 4, "", type_name)
    elif scalar in SCALARS:
        size, fmt = SCALARS[scalar]
        return FieldDef(name, fid, type_name, "scalar", size, fmt, type_name if type_name in enums else "")
    elif type_name == "string":
        return FieldDef(name, fid, type_name, "string", 4, "", "")
    elif type_name in tables:
        return FieldDef(name, fid, type_name, "table", 4, "", type_name)
    elif type_name == union_name:
        return FieldDef(name, fid, type_name, "union", 4, "", type_name)
    raise SchemaError(f"{table}.{name}: type {'[' + type_name + ']' if vector else type_name} is not supported "
                      "by schemas/codegen_model.py")


def camel(name: str) -> str:
    """flatc's accessor spelling of a snake_case field name: t_index_list -> TIndexList."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def upper_snake(name: str) -> str:
    """Python enum member spelling of a schema name: TIndexList -> T_INDEX_LIST, RGBA8 -> RGBA8."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", text).upper()


def cross_check(schema: Schema, flatc_python: str) -> None:
    """Compare the model with flatc's Python output (enum values, slot ids, storage types); raise on a difference."""
    problems: list[str] = []
    for enum_def in schema.enums.values():
        block = re.search(rf"^class {enum_def.name}\(object\):\n((?:    \w+ = -?\d+\n)+)", flatc_python, re.M)
        got = [] if block is None else re.findall(r"^    (\w+) = (-?\d+)$", block.group(1), re.M)
        want = [("None_" if n == "None" else n, str(v)) for n, v in enum_def.members]
        if got != want:
            problems.append(f"enum {enum_def.name}: flatc has {got}, the model has {want}")
    slots = {(t, f): (int(i), kind) for t, f, kind, i in
             re.findall(r"^def (\w+?)Add(\w+)\(builder, \w+\): builder\.Prepend(\w+)Slot\((\d+),", flatc_python, re.M)}
    for table in schema.tables.values():
        for f in table.fields:
            if f.kind == "union":
                want_slots = {(table.name, camel(f.name) + "Type"): (f.fid - 1, "Uint8"),
                              (table.name, camel(f.name)): (f.fid, "UOffsetTRelative")}
            else:
                storage = _PREPEND[f.fmt] if f.kind == "scalar" else "UOffsetTRelative"
                want_slots = {(table.name, camel(f.name)): (f.fid, storage)}
            for key, want_slot in want_slots.items():
                if slots.get(key) != want_slot:
                    problems.append(f"{key[0]}.{key[1]}: flatc has {slots.get(key)}, the model has {want_slot}")
    if problems:
        raise SchemaError("schemas/codegen_model.py disagrees with flatc:\n  " + "\n  ".join(problems))
