"""schemas/codegen_params_python.py: the Python Params message's fields come from the Params table of bridge.fbs, so a
field added to the schema (docs/adding-a-parameter.md step 1) reaches `sdbridge.protocol.messages.Params` with no hand
edit; a shape the emitter does not know is refused naming the field."""

from __future__ import annotations

import dataclasses
import sys
from types import ModuleType

import pytest

from sdbridge import params
from sdbridge.protocol import messages as m

from .extend_params import extended


def _fields_class(codegen: ModuleType, schema_text: str) -> type:
    """The ParamsFields class the emitter writes for `schema_text`, executed as the generated module would be."""
    text = codegen.codegen_params_python.python_fields(codegen.codegen_model.parse(schema_text), params.to_json())
    module = ModuleType("params_fields_under_test")
    sys.modules[module.__name__] = module  # dataclasses looks the module up while it reads the annotations
    try:
        exec(compile(text, "params_fields.py", "exec"), module.__dict__)  # the generated module text
    finally:
        del sys.modules[module.__name__]
    cls = module.ParamsFields
    assert isinstance(cls, type)
    return cls


def test_the_message_has_one_field_per_schema_field_in_id_order(codegen: ModuleType) -> None:
    schema = codegen.codegen_model.parse((codegen.SCHEMA).read_text(encoding="utf-8"))
    expected = [f.name for f in schema.tables["Params"].fields if f.name != "set_mask"]
    assert [f.name for f in dataclasses.fields(m.Params)] == expected
    assert m.Params().set_mask == m.ParamsField.NONE and m.Params().stream_id == 0


def test_a_field_added_to_the_schema_reaches_the_params_class(codegen: ModuleType) -> None:
    text = extended("  NoiseGain = {bit0},\n  TextureWeights = {bit1},\n",
                    "  noise_gain: float (id: {id0});\n  texture_weights: [AdapterWeight] (id: {id1});\n")
    cls = _fields_class(codegen, text)
    names = [f.name for f in dataclasses.fields(cls)]
    assert names[-2:] == ["noise_gain", "texture_weights"]
    assert names[:-2] == [f.name for f in dataclasses.fields(m.Params)]
    new = {f.name: f for f in dataclasses.fields(cls)}
    assert new["noise_gain"].default is None and new["noise_gain"].type == "float | None"
    assert new["texture_weights"].type == "tuple[AdapterWeight, ...] | None"
    assert cls(noise_gain=0.5).noise_gain == 0.5  # type: ignore[call-arg]
    assert "noise_gain" not in [f.name for f in dataclasses.fields(_fields_class(codegen, codegen.SCHEMA.read_text()))]


def test_a_shape_without_a_python_form_is_refused_naming_the_field(codegen: ModuleType) -> None:
    text = extended("  Notes = {bit0},\n", "  notes: [KeyValue] (id: {id0});\n")
    with pytest.raises(codegen.codegen_model.SchemaError, match=r"Params\.notes: type KeyValue"):
        _fields_class(codegen, text)
