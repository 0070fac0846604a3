"""The parameter registry (sdbridge.params): one declaration per live stream parameter, read by every reader.

- the registry and the wire agree: every Params field with a ParamsField bit has exactly one registry entry and
  vice versa (adding a wire field without a registry entry fails here);
- the wire (the server's check of a Params message), the rules file, the preview page, StreamConfig and the
  Python client refuse the same out-of-range values with the same words and range text;
- every range fits its wire type: the edges of each range encode in a Params message;
- the preview page builds its controls from the registry (no parameter control is written in the page).
"""

from __future__ import annotations

import ast
import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

from sdbridge import params
from sdbridge.config import LimitsConfig, PipelineConfig, ServerConfig, parse_config
from sdbridge.errors import ConfigError, InputError, ProtocolError
from sdbridge.events.rules import RulesError, parse_rules
from sdbridge.pipeline.config import StreamConfig
from sdbridge.preview.commands import command_message
from sdbridge.protocol import messages as m
from sdbridge.protocol.codec import decode, encode
from sdbridge.runtime.budgets import check_pipeline_values
from sdbridge.transport.client import BridgeClient

ON_THE_WIRE = [p for p in params.REGISTRY if p.params_bit]
#: the scalars every reader takes (page, rules file, StreamConfig); cfg_mode and the session's txt2img: see
#: test_cfg_mode_and_txt2img_are_refused_on_the_wire_and_by_the_client
SCALARS = [p for p in ON_THE_WIRE if p.kind in (params.Kind.FLOAT, params.Kind.INT, params.Kind.BOOL)
           and p.rules_key and p.preview_control]
RULES_HEAD = 'version = 1\n[prompt]\ntemplate = "a city"\n'
STATIC = Path(params.__file__).parent / "preview" / "static"


def test_every_params_wire_field_with_a_bit_has_exactly_one_registry_entry_and_vice_versa() -> None:
    wire_fields = {f.name for f in dataclasses.fields(m.Params)} - {"stream_id"}
    bits = {b.name for b in m.ParamsField if b.value}
    entries = [p.wire_field for p in ON_THE_WIRE]
    assert sorted(entries) == sorted(wire_fields), "a Params field lacks a registry entry (or an entry lacks a field)"
    assert sorted(p.params_bit for p in ON_THE_WIRE) == sorted(bits)
    assert not [p for p in params.REGISTRY if p.wire_field and not p.params_bit]
    for p in ON_THE_WIRE:  # the entry's bit is the bit the codec sets for its field
        assert m.Params(**{p.wire_field: _inside(p)}).set_mask == m.ParamsField[p.params_bit], p.name
        assert params.by_wire_field(p.wire_field) is p


def test_names_and_keys_are_unique_and_point_at_real_fields() -> None:
    names = [p.name for p in params.REGISTRY]
    assert len(names) == len(set(names)) and set(params.BY_NAME) == set(names)
    config_fields = {f.name for f in dataclasses.fields(StreamConfig)} | {"prompt"}
    for p in params.REGISTRY:
        assert p.key in config_fields or (not p.params_bit and p.wire_path.startswith("Prompt.")), p.name
        assert p.doc and p.kind in params.Kind
        if p.max_items:
            assert hasattr(LimitsConfig(), p.max_items), p.max_items
        if p.kind in (params.Kind.FLOAT, params.Kind.INT) and p.default is not None:
            assert params.check(p.name, p.default, "default") == p.default
    rules_keys = [p.rules_key for p in params.REGISTRY if p.rules_key]
    assert len(rules_keys) == len(set(rules_keys))
    recorder = [p.recorder_key for p in params.REGISTRY if p.recorder_key]
    assert len(recorder) == len(set(recorder))
    with pytest.raises(KeyError, match="no parameter has the Params field 'strength'"):
        params.by_wire_field("strength")


def test_stream_config_defaults_are_the_registry_defaults() -> None:
    config = StreamConfig()
    for p in params.REGISTRY:
        if p.params_bit and p.kind is not params.Kind.BLEND:
            value = getattr(config, p.key)
            assert getattr(value, "value", value) == p.default, p.name


def test_config_defaults_are_read_from_the_registry_not_restated() -> None:
    """The server config's [pipeline] (PipelineConfig) and StreamConfig take each live parameter's default from the
    registry: the same values, and no value written in either class (PipelineConfig's guidance_scale said 1.0
    while the registry and StreamConfig said 1.2)."""
    pipeline, stream = PipelineConfig(), StreamConfig()
    for name in params.BY_NAME.keys() & {f.name for f in dataclasses.fields(PipelineConfig)}:
        default = params.BY_NAME[name].default
        for config in (pipeline, stream):
            value = getattr(config, name)
            assert getattr(value, "value", value) == default, (type(config).__name__, name)
    sources = {"PipelineConfig": Path(params.__file__).parent / "config.py",
               "StreamConfig": Path(params.__file__).parent / "pipeline" / "config.py"}
    checked = []
    for cls, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls).body
        for stmt in body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) \
                    and stmt.target.id in params.BY_NAME and stmt.value is not None:
                written = ast.unparse(stmt.value)
                assert "params.BY_NAME[" in written, f"{cls}.{stmt.target.id} = {written}: take it from params.BY_NAME"
                checked.append(f"{cls}.{stmt.target.id}")
    assert "PipelineConfig.guidance_scale" in checked and "StreamConfig.guidance_scale" in checked
    refused = r"^server\.toml:2: pipeline.guidance_scale: guidance_scale=45.0 must be a number in \[0, 30\]$"
    with pytest.raises(ConfigError, match=refused):
        parse_config("[pipeline]\nguidance_scale = 45.0\n", "server.toml")


def _inside(p: params.Param) -> Any:
    if p.kind is params.Kind.BOOL:
        return True
    if p.kind is params.Kind.ENUM:
        return m.CfgMode.FULL
    if p.kind is params.Kind.INT_LIST:
        return (p.minimum, p.maximum)
    if p.kind is params.Kind.BLEND:
        return (m.SeedWeight(seed=p.maximum, weight=1.0),)
    if p.kind is params.Kind.WEIGHTS:
        return (m.AdapterWeight(name="style", weight=p.maximum),)
    return p.minimum


def _edges(p: params.Param) -> list[Any]:
    if p.kind is params.Kind.BOOL:
        return [True, False]
    if p.kind is params.Kind.ENUM:
        return [getattr(m, p.wire_type)[name.upper()] for name in p.choices]  # CfgMode, AttentionBankBlocks
    if p.kind is params.Kind.INT_LIST:
        return [(p.minimum, p.maximum)]
    if p.kind is params.Kind.BLEND:
        return [(m.SeedWeight(seed=p.minimum, weight=0.0), m.SeedWeight(seed=p.maximum, weight=params.F32_MAX))]
    if p.kind is params.Kind.WEIGHTS:
        return [(m.AdapterWeight(name="a", weight=p.minimum), m.AdapterWeight(name="b", weight=p.maximum))]
    top = p.maximum if not p.maximum_exclusive else math.nextafter(p.maximum, 0.0)
    return [p.minimum, top]


@pytest.mark.parametrize("param", ON_THE_WIRE, ids=[p.name for p in ON_THE_WIRE])
def test_every_range_fits_its_wire_type(param: params.Param) -> None:
    """A value the registry accepts always encodes in Params (and so in the Notice that echoes it)."""
    for value in _edges(param):
        message = m.Params(**{param.wire_field: value})
        back = decode(encode(message))
        assert isinstance(back, m.Params) and back.set_mask == message.set_mask
        if param.kind is params.Kind.BLEND:
            params.check(param.name, [(e.seed, e.weight) for e in value], "test")
        elif param.kind is params.Kind.WEIGHTS:
            params.check(param.name, [(e.name, e.weight) for e in value], "test")
        else:
            params.check(param.name, list(value) if isinstance(value, tuple) else value, "test")


def _outside(p: params.Param) -> list[Any]:
    """Values every reader must refuse: below, above, NaN, a string."""
    if p.kind is params.Kind.BOOL:
        return [1, "yes"]
    below = p.minimum - 1 if p.kind is params.Kind.INT else p.minimum - 0.5
    above = p.maximum if p.maximum_exclusive else (p.maximum + 1 if p.kind is params.Kind.INT else p.maximum * 2)
    return [below, above, float("nan"), "high"]


CASES = [(p, v) for p in SCALARS for v in _outside(p)]


def _problem(p: params.Param, value: Any) -> str:
    with pytest.raises(params.ParamError) as info:
        params.check(p.name, value, "")
    return info.value.problem


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


@pytest.mark.parametrize(("param", "value"), CASES, ids=[f"{p.name}={v!r}" for p, v in CASES])
def test_page_rules_wire_config_and_client_refuse_alike(param: params.Param, value: Any) -> None:
    problem = _problem(param, value)
    assert f"{param.name}={value!r}" in problem and (param.range_text in problem or param.kind is params.Kind.BOOL)
    texts: dict[str, str] = {}
    # the wire: what the server does with a Params message (dispatcher: update_values, then the budget checks)
    with pytest.raises(ProtocolError) as wire:
        check_pipeline_values(params.update_values(m.Params(**{param.wire_field: value})), LimitsConfig())
    texts["wire"] = str(wire.value)
    assert texts["wire"].startswith(param.field_path) and getattr(wire.value, "field_name", "") == param.field_path
    with pytest.raises(InputError) as page:
        command_message({"op": "params", param.name: value})
    texts["page"] = str(page.value)
    assert texts["page"].startswith("preview page: ")
    if isinstance(value, str) or abs(value) < 2**63:  # TOML holds 64-bit integers only
        with pytest.raises(RulesError) as rules:
            parse_rules(f'{RULES_HEAD}[params]\n{param.rules_key} = {_toml(value)}\n', "p.toml")
        texts["rules"] = str(rules.value)
        assert texts["rules"].startswith("p.toml:5: params.")
    with pytest.raises(ConfigError) as config:
        StreamConfig(**{param.key: value})
    texts["StreamConfig"] = str(config.value)
    with pytest.raises(ConfigError) as server:  # the server config's [pipeline]
        ServerConfig(pipeline=PipelineConfig(**{param.key: value}))
    texts["server config"] = str(server.value)
    assert texts["server config"].startswith(f"pipeline.{param.key}: ")
    client = BridgeClient.__new__(BridgeClient)  # set_params checks before it sends: no connection needed
    with pytest.raises(InputError) as sent:
        client.set_params(**{param.name: value})
    texts["client"] = str(sent.value)
    for where, text in texts.items():
        assert text.endswith(problem), (where, text, problem)


def test_lists_and_blends_are_refused_alike_with_entry_and_range() -> None:
    t_index = params.BY_NAME["t_index_list"]
    problem = _problem(t_index, [10, 99])
    assert "t_index_list entry 99 (index 1)" in problem and "[0, 49]" in problem
    with pytest.raises(ProtocolError) as wire:
        check_pipeline_values(params.update_values(m.Params(t_index_list=(10, 99))), LimitsConfig())
    assert str(wire.value) == f"Params.t_index_list[1]: {problem}"
    with pytest.raises(InputError, match=r"preview page: t_index_list entry 99 \(index 1\)"):
        command_message({"op": "params", "t_index_list": [10, 99]})
    with pytest.raises(RulesError, match=r"p.toml:5: params.t_index_list: t_index_list entry 99 \(index 1\)"):
        parse_rules(RULES_HEAD + "[params]\nt_index_list = [10, 99]\n", "p.toml")
    with pytest.raises(ConfigError, match=r"StreamConfig: t_index_list entry 99 \(index 1\)"):
        StreamConfig(t_index_list=(10, 99))
    with pytest.raises(ConfigError, match=r"^pipeline.t_index_list: t_index_list entry 99 \(index 1\)"):
        ServerConfig(pipeline=PipelineConfig(t_index_list=(10, 99)))
    with pytest.raises(ProtocolError, match=r"limits.max_t_index_list=2"):
        check_pipeline_values({"t_index_list": [1, 2, 3]}, LimitsConfig(max_t_index_list=2))
    blend = [(1, 1.0), (2, -0.5)]
    with pytest.raises(ProtocolError, match=r"Params.seed_blend\[1\].weight: seed_blend\[1\].weight=-0.5"):
        check_pipeline_values({"seed": blend}, LimitsConfig())
    with pytest.raises(RulesError, match=r"seed_blend\[1\].weight=-0.5 must be a finite number"):
        parse_rules(RULES_HEAD + "[params]\nseed = [[1, 1.0], [2, -0.5]]\n", "p.toml")
    with pytest.raises(ConfigError, match=r"seed_blend\[1\].weight=-0.5 must be a finite number"):
        StreamConfig(seed=blend)


def test_update_and_recorder_values_come_from_the_registry() -> None:
    message = m.Params(guidance_scale=1.5, similarity_max_skip=4, t_index_list=(20, 40),
                       seed_blend=(m.SeedWeight(1, 0.25), m.SeedWeight(2, 0.75)))
    assert params.update_values(message) == {"guidance_scale": 1.5, "max_skip_frames": 4, "t_index_list": [20, 40],
                                             "seed": [(1, 0.25), (2, 0.75)]}
    assert params.recorder_values(message) == {"guidance_scale": 1.5, "max_skip_frames": 4,
                                               "t_index_list": (20, 40), "seed_blend": [(1, 0.25), (2, 0.75)]}
    assert set(params.live_values(StreamConfig())) == {p.key for p in ON_THE_WIRE if p.kind is not params.Kind.BLEND}
    assert params.live_values(StreamConfig())["cfg_mode"] == "none"  # JSON-ready: the name
    both = params.update_values(m.Params(cfg_mode=m.CfgMode.INITIALIZE, txt2img=True, delta=0.5))
    assert both == {"cfg_mode": "initialize", "txt2img": True, "delta": 0.5}
    assert params.recorder_values(m.Params(cfg_mode=m.CfgMode.FULL)) == {"cfg_mode": "full"}


#: every registry entry StreamConfig carries (a StreamConfig field named by its key), whatever its kind
CARRIED = [p for p in params.REGISTRY if p.key in {f.name for f in dataclasses.fields(StreamConfig)}]


def _refused_by_the_registry(p: params.Param) -> Any:
    """A value of `p`'s StreamConfig field that its registry entry refuses (out of range, or not of its kind)."""
    bad: dict[params.Kind, Any] = {
        params.Kind.BOOL: 1, params.Kind.ENUM: "bogus", params.Kind.BLEND: ((1, -1.0),),
        params.Kind.FLOAT: (p.maximum or 0) + 1, params.Kind.INT: (p.maximum or 0) + 1,
        params.Kind.INT_LIST: ((p.maximum or 0) + 1,), params.Kind.WEIGHTS: (("a", (p.maximum or 0) + 1),),
    }
    return bad[p.kind]


def test_stream_config_carries_every_registry_entry_it_has_a_field_for() -> None:
    # the entries not carried are the Prompt's (text blend, transition): StreamConfig has no prompt field
    assert {p.name for p in params.REGISTRY} - {p.name for p in CARRIED} == {"prompt_blend", "transition_seconds"}


@pytest.mark.parametrize("param", CARRIED, ids=[p.name for p in CARRIED])
def test_stream_config_refuses_every_carried_entrys_bad_value_naming_it(param: params.Param) -> None:
    """StreamConfig checks each registry entry it carries (no hand list of names): a value the entry refuses is
    refused with the registry's words, naming the parameter and StreamConfig as the source."""
    value = _refused_by_the_registry(param)
    with pytest.raises(params.ParamError) as registry:
        params.check(param.name, value, "")
    with pytest.raises(ConfigError) as config:
        StreamConfig(**{param.key: value})
    assert str(config.value) == f"StreamConfig: {registry.value.problem}"
    assert param.name in str(config.value)


def test_cfg_mode_names_are_the_pipeline_modes_and_the_wire_enum() -> None:
    from sdbridge.pipeline.guidance import CfgMode

    choices = params.BY_NAME["cfg_mode"].choices
    assert sorted(choices) == sorted(mode.value for mode in CfgMode)
    assert sorted(choices) == sorted(member.name.lower() for member in m.CfgMode if member.value)
    assert StreamConfig(cfg_mode="initialize").cfg_mode is CfgMode.INITIALIZE


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("cfg_mode", m.CfgMode.UNKNOWN, "0"), ("cfg_mode", 9, "9"), ("txt2img", None, ""),
])
def test_cfg_mode_and_txt2img_are_refused_on_the_wire_and_by_the_client(name: str, value: Any, shown: str) -> None:
    """A bad cfg_mode (Unknown, or a number this build does not know) is refused naming the field, the value and
    the allowed names; the client refuses a name outside them, and a txt2img that is not a bool, before sending."""
    param = params.BY_NAME[name]
    if param.kind is params.Kind.ENUM:
        with pytest.raises(ProtocolError) as wire:
            check_pipeline_values(params.update_values(m.Params(cfg_mode=value)), LimitsConfig())
        assert str(wire.value) == f"Params.cfg_mode: cfg_mode={shown} must be one of none, self, initialize, full"
        assert getattr(wire.value, "field_name", "") == "Params.cfg_mode"
        with pytest.raises(ConfigError, match=r"StreamConfig: cfg_mode='strong' must be one of none, self"):
            StreamConfig(cfg_mode="strong")
    client = BridgeClient.__new__(BridgeClient)  # set_params checks before it sends: no connection needed
    bad = "strong" if param.kind is params.Kind.ENUM else 1
    with pytest.raises(InputError, match=rf"BridgeClient.set_params: {name}={bad!r} must be"):
        client.set_params(**{name: bad})


def test_the_page_writes_no_parameter_control_of_its_own() -> None:
    """The page's parameter controls are built from the registry JSON (hello message), never written in the
    page: no registry parameter with a page control is named in index.html, and app.js names only the two it
    derives a control of its own from (the strength slider sets t_index_list; the prompt's transition)."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    for p in params.REGISTRY:
        if not p.preview_control:
            continue
        assert p.name not in html and (p.wire_field == "" or p.wire_field not in html), p.name
        if p.name not in ("t_index_list", "transition_seconds"):
            assert p.name not in script and (p.wire_field == "" or p.wire_field not in script), p.name
    assert "buildControl" in script and "msg.params" in script


def test_to_json_is_plain_json_with_exact_bounds() -> None:
    import json

    data = params.to_json()
    assert json.loads(json.dumps(data)) == data
    seed = next(d for d in data if d["name"] == "seed")
    assert seed["maximum_text"] == str(2**64 - 1) and seed["range_text"] == f"[0, {2**64 - 1}]"
    threshold = next(d for d in data if d["name"] == "similarity_threshold")
    assert threshold["maximum_exclusive"] and threshold["range_text"] == "[0, 1)"


def test_the_adding_a_parameter_page_shows_a_real_registry_entry() -> None:
    """docs/adding-a-parameter.md quotes an entry of params.py; the quote must stay what the registry says."""
    doc = (Path(__file__).parents[1] / "docs" / "adding-a-parameter.md").read_text(encoding="utf-8")
    blocks = [part.split("```", 1)[0] for part in doc.split("```python\n")[1:]]
    source = Path(params.__file__).read_text(encoding="utf-8")
    assert len(blocks) >= 2  # a wire parameter and one the server sets only
    for block in blocks:
        lines = [line[3:] for line in block.splitlines()]  # each block is indented 3 spaces inside a list item
        assert "\n".join(lines) in source, block
    for p in params.REGISTRY:
        if p.params_bit:
            assert f"`{p.name}`" in doc, p.name  # the page lists every range it explains
