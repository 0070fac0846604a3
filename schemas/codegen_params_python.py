"""Emit the Python Params message's fields from the Params table of bridge.fbs.

    Python  python_server/sdbridge/protocol/_generated/params_fields.py: the frozen dataclass ``ParamsFields``, one
            field per Params field in field-id order (``set_mask`` aside: ``Params.set_mask`` derives it), each
            ``None`` by default ("unchanged", its ParamsField bit clear) except a field without a bit (``stream_id``),
            which takes the schema's default. ``sdbridge.protocol.messages.Params`` subclasses it and adds the mask.
Types: float -> float, bool -> bool, integers -> int, an enum -> the enum or the raw wire number (``CfgMode | int``:
the codec keeps a number this build does not know, so the refusal can name it), ``[number]`` -> ``tuple[...]``, a
vector of tables -> a tuple of the table's dataclass in messages.py (``AdapterWeight``, ``SeedWeight``). A field of
another shape raises SchemaError naming it. The comment of each field is its registry entry's doc line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from codegen_mirrors import GENERATED_MARKER
from codegen_model import FieldDef, Schema, SchemaError, camel

TABLE = "Params"
MASK = "set_mask"
#: vector-of-tables element -> the dataclass of messages.py that carries one entry
ELEMENTS = ("AdapterWeight", "SeedWeight")
_NUMBERS = {"float": "float", "double": "float", "bool": "bool"}


def _annotation(f: FieldDef, schema: Schema) -> str:
    if f.kind == "scalar":
        if f.ref:
            return f"{f.ref} | int"
        return _NUMBERS.get(f.type_name, "int")
    if f.kind == "vector" and f.ref == "":
        return f"tuple[{_NUMBERS.get(f.type_name, 'int')}, ...]"
    if f.kind == "tables" and f.ref in ELEMENTS:
        return f"tuple[{f.ref}, ...]"
    raise SchemaError(f"{TABLE}.{f.name}: type {f.type_name} ({f.kind}) has no Python form in "
                      "schemas/codegen_params_python.py; use a number, bool, enum, [number] or a vector of "
                      f"{' / '.join(ELEMENTS)}, or extend the emitter")


def _bits(schema: Schema) -> set[str]:
    return {name for name, _value in schema.enums["ParamsField"].members}


def python_fields(schema: Schema, registry: Sequence[Mapping[str, Any]]) -> str:
    """The whole params_fields.py text."""
    docs = {str(p["wire_field"]): str(p["doc"]) for p in registry if p.get("wire_field")}
    bits = _bits(schema)
    fields = [f for f in schema.tables[TABLE].fields if f.name != MASK]
    enums = sorted({f.ref for f in fields if f.kind == "scalar" and f.ref})
    out = [f"# {GENERATED_MARKER}",
           "# (regenerate with `python schemas/codegen.py`; `--check` fails when this file is stale)",
           '"""The fields of the Params message (sdbridge.protocol.messages.Params subclasses ParamsFields), from the',
           'Params table of schemas/bridge.fbs in field-id order; None = unchanged (its ParamsField bit clear)."""',
           "", "from __future__ import annotations", "", "import dataclasses", "from typing import TYPE_CHECKING", "",
           "if TYPE_CHECKING:",
           f"    from sdbridge.protocol._generated.bridge_schema import {', '.join(enums)}",
           f"    from sdbridge.protocol.messages import {', '.join(ELEMENTS)}", "", "",
           "@dataclasses.dataclass(frozen=True, slots=True)", "class ParamsFields:",
           '    """One attribute per Params field (set_mask aside: Params.set_mask derives it from these)."""', ""]
    for f in fields:
        annotation = _annotation(f, schema)
        if camel(f.name) in bits:
            line = f"    {f.name}: {annotation} | None = None"
        else:
            default = "False" if annotation == "bool" else "0"  # the schema's default of a scalar without one
            line = f"    {f.name}: {annotation} = {default}"
        doc = docs.get(f.name)
        out.append(f"{line}  # {doc}" if doc and len(line) + len(doc) + 4 <= 120 else line)
        if doc and len(line) + len(doc) + 4 > 120:
            out[-1:] = [f"    # {doc}", line]
    return "\n".join(out) + "\n"


#: (target language, file name, emitter(schema, registry)): the files this module writes
OUTPUTS = (("python", "params_fields.py", python_fields),)
