"""The parameter registry: every live stream parameter declared once (name, type, unit, range, default and
where it appears: wire field and ParamsField bit, rules-file key, preview-page control, recorder key).

Every reader takes its facts from here: the server's wire checks (sdbridge.runtime.budgets), the rules file
(sdbridge.events.rules), the preview page (its controls are built from `to_json()`, sent in the page's hello
message), the recorder, `StreamConfig` validation and the Python client; schemas/codegen.py generates the C#
and C++ clients' parameter names and ranges from `to_json()`. Adding a parameter is described in
docs/adding-a-parameter.md.

One range per parameter, inclusive unless `maximum_exclusive`, chosen to fit the wire type of its Params
field (schemas/bridge.fbs): a value the range accepts always encodes. `check` refuses anything else with an
`InputError` (`ParamError`) naming the parameter, the value, the range and where the value came from.

Pure: no torch, no I/O, nothing done at import.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sdbridge.errors import InputError

#: Largest finite float32 (the wire type of float parameters and blend weights).
F32_MAX = 3.4028234663852886e38
U64_MAX = 2**64 - 1


class Kind(enum.Enum):
    """The type of a parameter's value."""

    FLOAT = "float"  # a finite number in [minimum, maximum]
    INT = "int"  # an integer (not a bool) in [minimum, maximum]
    BOOL = "bool"  # true or false
    INT_LIST = "int_list"  # a non-empty list of integers, each in [minimum, maximum], at most limits.<max_items>
    ENUM = "enum"  # one of the names in `choices` (a wire enum member stands for its lower-case name)
    BLEND = "blend"  # a non-empty weighted list [(value, weight), ...]; weights finite, >= 0, positive sum
    WEIGHTS = "weights"  # named weights [(name, weight), ...]: names distinct, each weight in [minimum, maximum]


@dataclass(frozen=True)
class Param:
    """One live stream parameter. `minimum`/`maximum` are inclusive (unless `maximum_exclusive`); for
    INT_LIST and BLEND they bound each entry's value (None: no numeric bound, e.g. a prompt text)."""

    name: str  # the registry name; the StreamConfig field unless `pipeline_key` says otherwise
    kind: Kind
    unit: str
    minimum: int | float | None
    maximum: int | float | None
    default: Any
    wire_field: str  # the Params field (protocol/messages.py), "" when not a Params field
    params_bit: str  # the ParamsField member, e.g. "GUIDANCE_SCALE", or ""
    rules_key: str  # the key under `params` in a rules file, or "" when a rules file cannot set it
    preview_control: str  # "slider", "number", "checkbox", "int_list", "select" (ENUM) or "" (no control)
    recorder_key: str  # the key in a recording's "params" note, or ""
    max_items: str  # INT_LIST/BLEND: the LimitsConfig key bounding the length, e.g. "max_t_index_list"
    doc: str  # one line for the page, the docs and the generated clients
    maximum_exclusive: bool = False
    pipeline_key: str = ""  # StreamConfig field / StreamPipeline.update keyword when it differs from `name`
    wire_path: str = ""  # the message field when not a Params field, e.g. "Prompt.blend"
    wire_type: str = ""  # the schema type of the value (or of one entry), e.g. "float", "ulong"
    step: float = 0.0  # the page control's step (0: any)
    ascending: bool = False  # INT_LIST: entries strictly ascending
    item_word: str = "entries"  # what one entry is called in a length refusal ("steps")
    choices: tuple[str, ...] = ()  # ENUM: the allowed names, e.g. ("none", "self", "initialize", "full")
    # WEIGHTS: True when a message's list is the whole selection (the names it leaves out get no weight, so a
    # replay keeps only the newest list); False when it updates the names it lists and leaves the others as they
    # are (a replay merges the lists by name)
    selection: bool = False

    @property
    def key(self) -> str:
        """The StreamConfig field / pipeline update keyword this parameter sets."""
        return self.pipeline_key or self.name

    @property
    def field_path(self) -> str:
        """The wire field a client sets it with, as named in Error replies (e.g. "Params.seed")."""
        return f"Params.{self.wire_field}" if self.wire_field else self.wire_path

    @property
    def range_text(self) -> str:
        """The range as written in every refusal, e.g. "[0, 30]", "[0, 1)"; "" when unbounded."""
        if self.minimum is None or self.maximum is None:
            return ""
        return f"[{_num(self.minimum)}, {_num(self.maximum)}{')' if self.maximum_exclusive else ']'}"

    def in_range(self, value: Any) -> bool:
        """True when `value` is a number of this parameter's kind inside its range (bool is not a number)."""
        integer = self.kind in (Kind.INT, Kind.INT_LIST) or (self.kind is Kind.BLEND and self.wire_type == "ulong")
        if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        if self.maximum is None:
            return True
        return value < self.maximum if self.maximum_exclusive else value <= self.maximum


def _num(value: int | float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


REGISTRY: tuple[Param, ...] = (
    Param("guidance_scale", Kind.FLOAT, "", 0.0, 30.0, 1.2, "guidance_scale", "GUIDANCE_SCALE",
          "guidance_scale", "slider", "guidance_scale", "",
          "classifier-free guidance scale (used by cfg_mode full/self/initialize; 1.0 = no guidance)",
          wire_type="float", step=0.05),
    Param("delta", Kind.FLOAT, "", 0.0, 2.0, 1.0, "delta", "DELTA", "delta", "slider", "delta", "",
          "RCFG residual noise multiplier (1.0 is the paper's default)", wire_type="float", step=0.05),
    Param("t_index_list", Kind.INT_LIST, "", 0, 49, (32, 45), "t_index_list", "T_INDEX_LIST", "t_index_list",
          "int_list", "t_index_list", "max_t_index_list",
          "denoising steps as indices into the 50-step LCM ladder; lower = stronger change",
          wire_type="int", ascending=True, item_word="steps"),
    Param("seed", Kind.INT, "", 0, U64_MAX, 2, "seed", "SEED", "seed", "number", "seed", "",
          "noise seed (a rules file may give a blend [[seed, weight], ...] here)", wire_type="ulong", step=1),
    Param("similarity_filter", Kind.BOOL, "", None, None, False, "similarity_filter_enabled",
          "SIMILARITY_FILTER_ENABLED", "similarity_filter", "checkbox", "similarity_filter", "",
          "skip frames almost identical to the last processed one", wire_type="bool"),
    Param("similarity_threshold", Kind.FLOAT, "", 0.0, 1.0, 0.98, "similarity_threshold", "SIMILARITY_THRESHOLD",
          "similarity_threshold", "slider", "similarity_threshold", "",
          "cosine similarity above which a frame may be skipped", maximum_exclusive=True, wire_type="float",
          step=0.001),
    Param("max_skip_frames", Kind.INT, "frames", 0, 1000, 10, "similarity_max_skip", "SIMILARITY_MAX_SKIP",
          "max_skip_frames", "slider", "max_skip_frames", "",
          "most frames skipped in a row by the similarity filter", wire_type="uint", step=1),
    Param("cfg_mode", Kind.ENUM, "", None, None, "none", "cfg_mode", "CFG_MODE", "", "select", "cfg_mode", "",
          "classifier-free guidance: none (n UNet evaluations per frame), self (n), initialize (n + 1), full (2n)",
          wire_type="CfgMode", choices=("none", "self", "initialize", "full")),
    Param("txt2img", Kind.BOOL, "", None, None, False, "txt2img", "TXT2IMG", "", "", "txt2img", "",
          "generate from the prompt alone: one Result per credit the client grants (Credit); Frames are refused",
          wire_type="bool"),
    Param("seed_blend", Kind.BLEND, "", 0, U64_MAX, None, "seed_blend", "SEED_BLEND", "", "", "seed_blend",
          "max_seed_blend", "weighted blend of seed noises [(seed, weight), ...] (replaces seed)",
          pipeline_key="seed", wire_type="ulong"),
    Param("prompt_blend", Kind.BLEND, "", None, None, None, "", "", "", "", "", "max_prompt_blend",
          "weighted blend of prompt texts [(text, weight), ...]", pipeline_key="prompt", wire_path="Prompt.blend",
          wire_type="string"),
    Param("lora_weights", Kind.WEIGHTS, "", -2.0, 2.0, (), "lora_weights", "LORA_WEIGHTS", "lora_weights", "",
          "lora_weights", "",
          "weights of the live LoRA adapters [(adapter, weight), ...] (--lora SOURCE=SCALE:live); 0 turns one off",
          wire_type="float", item_word="adapters"),
    Param("transition_seconds", Kind.FLOAT, "s", 0.0, 3600.0, 0.0, "", "", "", "number", "transition_seconds", "",
          "seconds over which a new prompt is blended in", wire_path="Prompt.transition_seconds",
          wire_type="float", step=0.5),
    Param("controlnet_scale", Kind.WEIGHTS, "", 0.0, 2.0, (), "controlnet_scale", "CONTROLNET_SCALE", "", "",
          "controlnet_scale", "",
          "conditioning scale of each ControlNet [(controlnet, scale), ...] (1 when left out; 0 turns one off)",
          wire_type="float", item_word="ControlNets"),
    Param("controlnet_start", Kind.WEIGHTS, "", 0.0, 1.0, (), "controlnet_start", "CONTROLNET_START", "", "",
          "controlnet_start", "",
          "fraction of the denoising steps before each ControlNet acts [(controlnet, fraction), ...] (0 when left out)",
          wire_type="float", item_word="ControlNets"),
    Param("controlnet_end", Kind.WEIGHTS, "", 0.0, 1.0, (), "controlnet_end", "CONTROLNET_END", "", "",
          "controlnet_end", "",
          "fraction of the denoising steps after which each ControlNet stops [(controlnet, fraction), ...] (1 when "
          "left out)", wire_type="float", item_word="ControlNets"),
    Param("latent_feedback", Kind.FLOAT, "", 0.0, 0.5, 0.0, "latent_feedback", "LATENT_FEEDBACK", "latent_feedback",
          "slider", "latent_feedback", "",
          "latent feedback: the newest earlier output latent blended into each input latent (0 = off)",
          wire_type="float", step=0.01),
    Param("motion_warp", Kind.FLOAT, "", 0.0, 1.0, 0.0, "motion_warp", "MOTION_WARP", "motion_warp", "slider",
          "motion_warp", "",
          "motion-guided warping: the previous output warped by the engine's motion vectors and blended into "
          "the visible cells (0 = off)", wire_type="float", step=0.01),
    Param("motion_warp_step", Kind.INT, "", 0, 49, 49, "motion_warp_step", "MOTION_WARP_STEP", "motion_warp_step",
          "slider", "motion_warp_step", "",
          "the denoising step (index into t_index_list; beyond the last, as the default 49: the last, whose source "
          "is the previous output) whose latent gets the warp",
          wire_type="uint", step=1),
    Param("scene_cut_threshold", Kind.FLOAT, "", 0.0, 1.0, 0.5, "scene_cut_threshold", "SCENE_CUT_THRESHOLD",
          "scene_cut_threshold", "slider", "scene_cut_threshold", "",
          "a frame correlating with the previous one below this is a scene cut: temporal state unused (0 = off)",
          wire_type="float", step=0.01),
    Param("attention_bank", Kind.INT, "frames", 0, 8, 0, "attention_bank", "ATTENTION_BANK", "attention_bank",
          "slider", "attention_bank", "",
          "cached attention: self-attention also attends to this many earlier frames' banked keys/values (0 = off)",
          wire_type="uint", step=1),
    Param("attention_bank_interval", Kind.INT, "frames", 1, 120, 1, "attention_bank_interval",
          "ATTENTION_BANK_INTERVAL", "attention_bank_interval", "number", "attention_bank_interval", "",
          "cached attention: bank every k-th frame's features", wire_type="uint", step=1),
    Param("attention_bank_blocks", Kind.ENUM, "", None, None, "all", "attention_bank_blocks", "ATTENTION_BANK_BLOCKS",
          "attention_bank_blocks", "select", "attention_bank_blocks", "",
          "cached attention: the UNet blocks whose self-attention uses the bank (all, down, mid, up)",
          wire_type="AttentionBankBlocks", choices=("all", "down", "mid", "up")),
    Param("feature_injection", Kind.FLOAT, "", 0.0, 1.0, 0.0, "feature_injection", "FEATURE_INJECTION",
          "feature_injection", "slider", "feature_injection", "",
          "cached attention: blend each self-attention output toward its most similar banked one (0 = off)",
          wire_type="float", step=0.01),
    Param("feature_injection_threshold", Kind.FLOAT, "", 0.0, 1.0, 0.9, "feature_injection_threshold",
          "FEATURE_INJECTION_THRESHOLD", "feature_injection_threshold", "slider", "feature_injection_threshold", "",
          "cached attention: the cosine similarity a banked feature needs to be injected",
          wire_type="float", step=0.01),
    Param("attention_bank_warp", Kind.BOOL, "", None, None, False, "attention_bank_warp", "ATTENTION_BANK_WARP",
          "attention_bank_warp", "checkbox", "attention_bank_warp", "",
          "cached attention: warp each banked frame's keys/values with the engine's motion since it was banked and "
          "drop its disoccluded tokens (the client sends Motion planes)", wire_type="bool"),
    Param("ip_adapter_scale", Kind.FLOAT, "", 0.0, 2.0, 1.0, "ip_adapter_scale", "IP_ADAPTER_SCALE",
          "ip_adapter_scale", "", "ip_adapter_scale", "",
          "IP-Adapter: how strongly the style images steer the image (0 = exactly no adapter)",
          wire_type="float", step=0.05),
    Param("style_blend", Kind.WEIGHTS, "", 0.0, 2.0, (), "style_blend", "STYLE_BLEND", "", "", "style_blend", "",
          "weights of the session's named style images [(style, weight), ...] (StyleImage messages); 0 turns one off",
          wire_type="float", item_word="style images", selection=True),
)

BY_NAME: Mapping[str, Param] = MappingProxyType({p.name: p for p in REGISTRY})
_BY_WIRE: Mapping[str, Param] = MappingProxyType({p.wire_field: p for p in REGISTRY if p.wire_field})


def by_wire_field(name: str) -> Param:
    """The parameter set by Params field `name` (KeyError naming the known fields otherwise)."""
    try:
        return _BY_WIRE[name]
    except KeyError:
        raise KeyError(f"no parameter has the Params field {name!r}; known: {sorted(_BY_WIRE)}") from None


def lookup(name: str) -> Param:
    """A parameter by registry name or Params field name (KeyError naming both lists otherwise)."""
    param = BY_NAME.get(name) or _BY_WIRE.get(name)
    if param is None:
        raise KeyError(f"unknown parameter {name!r}; known: {sorted(BY_NAME)} (Params fields: {sorted(_BY_WIRE)})")
    return param


class ParamError(InputError):
    """A refused parameter value. `problem` says what is wrong without the source; `suffix` is the entry path
    within the value (e.g. "[2]", "[0].weight"); `code` is "BAD_PARAM" or "TOO_LARGE" (a length budget)."""

    def __init__(self, param: Param, value: Any, source: str, problem: str, suffix: str = "",
                 code: str = "BAD_PARAM") -> None:
        super().__init__(f"{source}: {problem}" if source else problem)
        self.param, self.value, self.source, self.problem = param, value, source, problem
        self.suffix, self.code = suffix, code


def _kind_text(param: Param) -> str:
    integer = param.kind in (Kind.INT, Kind.INT_LIST) or param.wire_type == "ulong"
    return "an integer" if integer else "a number"


def check(param_name: str, value: Any, source: str, limits: Any = None) -> Any:
    """`value` for `param_name` (registry or Params field name), normalised (ints to float for a FLOAT,
    lists to tuples); ParamError naming the parameter, the value, the range and `source` otherwise.

    `limits` (a LimitsConfig, optional) bounds the length of INT_LIST and BLEND values (`Param.max_items`).
    """
    param = lookup(param_name)
    if param.kind is Kind.BOOL:
        if not isinstance(value, bool):
            raise ParamError(param, value, source, f"{param.name}={value!r} must be true or false")
        return value
    if param.kind in (Kind.FLOAT, Kind.INT):
        if not param.in_range(value):
            raise ParamError(param, value, source,
                             f"{param.name}={value!r} must be {_kind_text(param)} in {param.range_text}"
                             f"{' ' + param.unit if param.unit else ''}")
        return float(value) if param.kind is Kind.FLOAT else value
    if param.kind is Kind.INT_LIST:
        return _check_list(param, value, source, limits)
    if param.kind is Kind.BLEND:
        return _check_blend(param, value, source, limits)
    if param.kind is Kind.WEIGHTS:
        return _check_weights(param, value, source)
    if param.kind is Kind.ENUM:
        return _check_choice(param, value, source)
    raise ParamError(param, value, source, f"{param.name} has kind {param.kind.value}, which check() cannot read")


def choice_name(param: Param, value: Any) -> Any:
    """An ENUM value as its name: a wire enum member (e.g. CfgMode.SELF) whose lower-case name is one of
    `param.choices` becomes that name; anything else (a name, a number this build does not know, Unknown = 0 as
    the number 0) is returned as is, for `check` to accept or refuse."""
    if isinstance(value, enum.Enum):
        name = value.name.lower()
        return name if name in param.choices else value.value
    return value


def _check_choice(param: Param, value: Any, source: str) -> str:
    name = choice_name(param, value)
    if not isinstance(name, str) or name not in param.choices:
        raise ParamError(param, value, source,
                         f"{param.name}={name!r} must be one of {', '.join(param.choices)}")
    return name


def _check_length(param: Param, count: int, value: Any, source: str, limits: Any) -> None:
    budget = getattr(limits, param.max_items, None) if limits is not None and param.max_items else None
    if budget is not None and count > budget:
        raise ParamError(param, value, source,
                         f"{param.name} has {count} {param.item_word}, above limits.{param.max_items}={budget}; "
                         f"send at most {budget} (or raise limits.{param.max_items} in the server config)",
                         code="TOO_LARGE")


def _check_list(param: Param, value: Any, source: str, limits: Any) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ParamError(param, value, source, f"{param.name}={value!r} must be a list of integers in "
                                               f"{param.range_text}, e.g. {list(param.default)}")
    items = list(value)
    if not items:
        raise ParamError(param, value, source,
                         f"{param.name} is empty; give at least one index, e.g. {list(param.default)}")
    _check_length(param, len(items), value, source, limits)
    for i, item in enumerate(items):
        if not param.in_range(item):
            raise ParamError(param, value, source, f"{param.name} entry {item!r} (index {i}) is refused: each "
                                                   f"entry must be an integer in {param.range_text}", f"[{i}]")
    if param.ascending and any(b <= a for a, b in itertools.pairwise(items)):
        raise ParamError(param, value, source,
                         f"{param.name}={items} must be strictly ascending, e.g. {list(param.default)}")
    return tuple(items)


def _check_blend(param: Param, value: Any, source: str, limits: Any) -> tuple[tuple[Any, float], ...]:
    what = "text" if param.wire_type == "string" else "seed"
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ParamError(param, value, source, f"{param.name}={value!r} must be a list of ({what}, weight) pairs")
    items = list(value)
    _check_length(param, len(items), value, source, limits)
    out: list[tuple[Any, float]] = []
    for i, entry in enumerate(items):
        pair = tuple(entry) if isinstance(entry, list | tuple) else ()
        if len(pair) != 2:
            raise ParamError(param, value, source, f"{param.name}[{i}]={entry!r} must be a ({what}, weight) pair",
                             f"[{i}]")
        item, weight = pair
        if what == "seed" and not param.in_range(item):
            raise ParamError(param, value, source, f"{param.name}[{i}].seed={item!r} must be an integer in "
                                                   f"{param.range_text}", f"[{i}].seed")
        if what == "text" and not isinstance(item, str):
            raise ParamError(param, value, source, f"{param.name}[{i}].text={item!r} must be a string",
                             f"[{i}].text")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) \
                or not 0 <= weight <= F32_MAX:
            raise ParamError(param, value, source,
                             f"{param.name}[{i}].weight={weight!r} must be a finite number in [0, {F32_MAX:.8g}] "
                             f"(non-negative weights; send 0 to leave an entry out)", f"[{i}].weight")
        out.append((item, float(weight)))
    if not out or sum(w for _, w in out) <= 0:
        raise ParamError(param, value, source, f"{param.name}={items!r} needs at least one entry and non-negative "
                                               f"weights of positive sum")
    return tuple(out)


def _check_weights(param: Param, value: Any, source: str) -> tuple[tuple[str, float], ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ParamError(param, value, source, f"{param.name}={value!r} must be a list of (name, weight) pairs")
    out: list[tuple[str, float]] = []
    seen: set[str] = set()
    for i, entry in enumerate(value):
        pair = tuple(entry) if isinstance(entry, list | tuple) else ()
        if len(pair) != 2 or not isinstance(pair[0], str) or not pair[0]:
            raise ParamError(param, value, source, f"{param.name}[{i}]={entry!r} must be a (name, weight) pair "
                                                   f"with a non-empty name", f"[{i}]")
        name, weight = pair
        if not param.in_range(weight):
            raise ParamError(param, value, source, f"{param.name}[{i}] {name}={weight!r} must be a number in "
                                                   f"{param.range_text}", f"[{i}].weight")
        if name in seen:
            raise ParamError(param, value, source, f"{param.name} names {name!r} twice; give each name once",
                             f"[{i}]")
        seen.add(name)
        out.append((name, float(weight)))
    return tuple(out)


def update_values(params: Any) -> dict[str, Any]:
    """The StreamPipeline.update keywords a Params message sets (fields left None are left out)."""
    values: dict[str, Any] = {}
    for param in REGISTRY:
        if not param.params_bit:
            continue
        value = getattr(params, param.wire_field)
        if value is None:
            continue
        if param.kind is Kind.BLEND:
            value = [(entry.seed, float(entry.weight)) for entry in value]
        elif param.kind is Kind.WEIGHTS:
            value = [(entry.name, float(entry.weight)) for entry in value]
        elif param.kind is Kind.INT_LIST:
            value = list(value)
        elif param.kind is Kind.ENUM:
            value = choice_name(param, value)
        values[param.key] = value
    return values


def recorder_values(params: Any) -> dict[str, Any]:
    """A Params message as a recording's "params" note: recorder key -> value (JSON-ready)."""
    out: dict[str, Any] = {}
    for param in REGISTRY:
        if not param.params_bit or not param.recorder_key:
            continue
        value = getattr(params, param.wire_field)
        if value is None or (param.kind is Kind.BLEND and not value):
            continue
        if param.kind is Kind.BLEND:
            value = [(entry.seed, entry.weight) for entry in value]
        elif param.kind is Kind.WEIGHTS:
            value = [(entry.name, entry.weight) for entry in value]
        elif param.kind is Kind.ENUM:
            value = choice_name(param, value)
        out[param.recorder_key] = value
    return out


def live_values(config: Any) -> dict[str, Any]:
    """The current value of every Params-settable parameter of `config` (a StreamConfig or the server's
    PipelineConfig), keyed by StreamConfig field; a seed blend is under "seed"; one the server config does not set
    (txt2img) at its default."""
    out = {p.key: getattr(config, p.key, p.default) for p in REGISTRY if p.params_bit and p.kind is not Kind.BLEND}
    for p in REGISTRY:  # an ENUM as its name (JSON-ready; the pipeline's CfgMode value is that name)
        if p.kind is Kind.ENUM and p.key in out:
            out[p.key] = getattr(out[p.key], "value", out[p.key])
    return out


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def rules_keys() -> tuple[str, ...]:
    """The keys a rules file may set under `params` (StreamConfig field names), in registry order."""
    return tuple(p.rules_key for p in REGISTRY if p.rules_key)


def to_json() -> list[dict[str, Any]]:
    """The registry as JSON-ready dicts (the preview page builds its controls from this; codegen reads it).

    `minimum_text`/`maximum_text` are exact decimal strings (a JavaScript number cannot hold 2**64 - 1)."""
    out = []
    for p in REGISTRY:
        out.append({
            "name": p.name, "kind": p.kind.value, "unit": p.unit, "minimum": p.minimum, "maximum": p.maximum,
            "maximum_exclusive": p.maximum_exclusive, "range_text": p.range_text,
            "minimum_text": "" if p.minimum is None else _num(p.minimum),
            "maximum_text": "" if p.maximum is None else _num(p.maximum),
            "default": _plain(p.default), "wire_field": p.wire_field, "params_bit": p.params_bit,
            "field_path": p.field_path, "wire_type": p.wire_type, "rules_key": p.rules_key,
            "preview_control": p.preview_control, "recorder_key": p.recorder_key, "max_items": p.max_items,
            "pipeline_key": p.key, "step": p.step, "ascending": p.ascending, "doc": p.doc,
            "choices": list(p.choices), "selection": p.selection,
        })
    return out
