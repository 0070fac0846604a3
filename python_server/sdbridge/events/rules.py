"""The rules file: a strict TOML model of state variables, prompt templates and event rules.

`load_rules(path)` / `parse_rules(text)` return a frozen `RuleSet` or raise `RulesError` naming the
file, the line and the problem (unknown key, unknown variable in a template, value out of range, ...).
tomllib gives no line numbers, so `sdbridge.toml_lines.TomlLines` finds the line of a key by scanning the text.
The format is documented in docs/rules.md; examples live in configs/rules/. Pure: no I/O but reading
the file and the style images it names under `[styles]` (sdbridge.events.style_files), no torch, no sockets.
"""

from __future__ import annotations

import difflib
import math
import re
import stat
import string
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeAlias

from sdbridge.config import LimitsConfig
from sdbridge.errors import ConfigError
from sdbridge.events.easing import EASINGS
from sdbridge.events.style_files import StyleImages, load_style_file
from sdbridge.params import BY_NAME, ParamError, check, rules_keys
from sdbridge.toml_lines import KeyPath, TomlLines

#: A state or payload value (as on the wire: bool, int, float or str).
Scalar: TypeAlias = bool | int | float | str
#: A path into the TOML document, e.g. ("rules", 2, "when", "damage").

FORMAT_VERSION = 1
VARIABLE_TYPES = ("string", "int", "float", "bool")
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "exists")
INTERPOLATIONS = ("linear", "slerp")
#: Pipeline parameters a rules file may set (StreamConfig field names; their ranges: sdbridge.params).
PARAMS = rules_keys()
#: Longest timed effect or transition: the registry's transition_seconds maximum (Prompt.transition_seconds).
MAX_SECONDS = float(BY_NAME["transition_seconds"].maximum or 0.0)
MAX_FRAMES = 1_000_000
#: Size bounds of a rules file, so that a load or hot reload (on the server's I/O thread) stays short:
#: loading is linear in the file, ~0.1 ms per rule here.
MAX_RULES = 5000
MAX_FILE_BYTES = 2 * 1024 * 1024
#: Largest width or precision in a template's format spec: a State value must never choose an allocation size.
MAX_FORMAT_WIDTH = 256
#: Longest template and most fields in one, so that rendering (on every event and State change) stays cheap.
MAX_TEMPLATE_CHARS = 4096
MAX_TEMPLATE_FIELDS = 32
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Python's standard format spec: [[fill]align][sign][z][#][0][width][grouping][.precision][type].
_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?"
                          r"[bcdeEfFgGnosxX%]?", re.DOTALL)


class RulesError(ConfigError):
    """A rules file is invalid; the message starts with `file:line:` and says what to change."""


@dataclass(frozen=True)
class Variable:
    """A typed state variable with its default and optional limits."""

    name: str
    type: str  # one of VARIABLE_TYPES
    default: Scalar
    min: float | None = None
    max: float | None = None
    choices: tuple[Scalar, ...] = ()

    def check(self, value: Scalar) -> Scalar:
        """`value` converted to this variable's type (int -> float allowed); ValueError naming the problem."""
        if self.type == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"state variable {self.name!r} is a bool; got {value!r}")
        elif self.type == "string":
            if not isinstance(value, str):
                raise ValueError(f"state variable {self.name!r} is a string; got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"state variable {self.name!r} is {'an int' if self.type == 'int' else 'a float'}; "
                             f"got {value!r}")
        elif self.type == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError(f"state variable {self.name!r} is an int; got {value!r}")
                value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"state variable {self.name!r} must be finite; got {value!r}")
        if self.min is not None and value < self.min:  # type: ignore[operator]
            raise ValueError(f"state variable {self.name!r}={value!r} is below its min={self.min:g}")
        if self.max is not None and value > self.max:  # type: ignore[operator]
            raise ValueError(f"state variable {self.name!r}={value!r} is above its max={self.max:g}")
        if self.choices and value not in self.choices:
            raise ValueError(f"state variable {self.name!r}={value!r} is not one of {list(self.choices)}")
        return value

    def clamp(self, value: float) -> float:
        """A numeric value limited to [min, max] (used by `add`)."""
        if self.min is not None:
            value = max(self.min, value)
        if self.max is not None:
            value = min(self.max, value)
        return round(value) if self.type == "int" else float(value)


@dataclass(frozen=True)
class Condition:
    """`key <op> value` on an event payload (or on a state variable)."""

    key: str
    op: str  # one of OPERATORS
    value: Any  # a Scalar, a tuple of Scalars for in/not_in, a bool for exists


@dataclass(frozen=True)
class Timing:
    """A duration in seconds or frames (exactly one is > 0), with an easing curve and interpolation."""

    seconds: float = 0.0
    frames: int = 0
    easing: str = "linear"
    interpolation: str | None = None  # "linear" / "slerp" for prompt blends; None keeps the pipeline's


@dataclass(frozen=True)
class Template:
    """A prompt template such as "{style}, {biome} at {time_of_day}" and the variables it uses."""

    text: str
    variables: tuple[str, ...]

    def render(self, state: Mapping[str, Scalar]) -> str:
        """The template with each {variable} replaced by its value in `state`."""
        return self.text.format_map(state)


@dataclass(frozen=True)
class Rule:
    """When `event` arrives and every condition holds, run the actions (in file order, by priority)."""

    name: str
    event: str  # an event name, or "*" for every event
    line: int
    index: int  # position in the file (ties of priority keep file order)
    when: tuple[Condition, ...] = ()
    when_state: tuple[Condition, ...] = ()
    priority: int = 0
    layer: str = ""
    set: tuple[tuple[str, Scalar], ...] = ()
    copy: tuple[tuple[str, str], ...] = ()  # (state variable, payload key)
    add: tuple[tuple[str, float], ...] = ()
    prompt: Template | None = None
    negative: Template | None = None
    params: tuple[tuple[str, Any], ...] = ()
    style: tuple[tuple[str, float], ...] | None = None  # the style_blend to reach (over `transition`)
    transition: Timing | None = None
    duration: Timing | None = None  # set: prompt/negative/params/style are a temporary effect that reverts
    revert: Timing | None = None

    @property
    def temporary(self) -> bool:
        """True when the rule's prompt/negative/params/style last only for `duration`."""
        return self.duration is not None


@dataclass(frozen=True)
class RuleSet:
    """A validated rules file."""

    variables: Mapping[str, Variable]
    prompt: Template
    negative: Template
    transition: Timing | None = None  # default blend when a state change re-renders the prompt
    params: tuple[tuple[str, Any], ...] = ()
    rules: tuple[Rule, ...] = ()
    styles: StyleImages | None = None  # [styles]: the style images the file declares, read from their files
    style: tuple[tuple[str, float], ...] | None = None  # [prompt] style: the starting style_blend
    source: str = "<string>"
    text: str = field(default="", repr=False)

    def defaults(self) -> dict[str, Scalar]:
        """Every state variable at its default value."""
        return {name: var.default for name, var in self.variables.items()}

    def for_event(self, name: str) -> tuple[Rule, ...]:
        """The rules an event named `name` may run (its own and the "*" rules), in file order.

        Built once per rules file, so an event costs its candidate rules, not every rule of the file.
        """
        index, wildcard = self._by_event
        return index.get(name, wildcard)

    def event_names(self) -> tuple[str, ...]:
        """The event names the rules listen for by name (not "*"), sorted."""
        return tuple(sorted(self._by_event[0]))

    def listens_for(self, name: str) -> bool:
        """True when some rule may run on an event named `name` (a rule of that name, or a "*" rule)."""
        index, wildcard = self._by_event
        return bool(wildcard) or name in index

    @cached_property
    def _by_event(self) -> tuple[dict[str, tuple[Rule, ...]], tuple[Rule, ...]]:
        wildcard = tuple(r for r in self.rules if r.event == "*")
        named: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.event != "*":
                named.setdefault(rule.event, []).append(rule)
        index = {event: tuple(sorted([*rules, *wildcard], key=lambda r: r.index)) for event, rules in named.items()}
        return index, wildcard


# ---------------------------------------------------------------------- parsing


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.text, self.source = text, source
        self.locator = TomlLines(text)
        self.variables: dict[str, Variable] = {}
        self._defaults: dict[str, Scalar] | None = None  # set once every variable is declared
        self.styles: dict[str, Any] = {}  # [styles]: name -> (H, W, 3) uint8 RGB

    def fail(self, path: KeyPath, problem: str) -> RulesError:
        line = self.locator.line(path)
        where = f"{self.source}:{line}" if line else self.source
        dotted = ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")
        return RulesError(f"{where}: {dotted}: {problem}" if dotted else f"{where}: {problem}")

    def keys(self, table: Any, path: KeyPath, allowed: Sequence[str]) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(path, f"must be a table, got {_kind(table)}")
        for key in table:
            if key not in allowed:
                raise self.fail((*path, key), f"unknown key {key!r}{_guess(key, allowed)}; allowed here: "
                                              f"{', '.join(allowed)}")
        return table

    # -- whole file
    def parse(self) -> RuleSet:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(f"{self.source}: invalid TOML: {exc}") from exc
        self.keys(data, (), ("version", "state", "prompt", "params", "styles", "rules"))
        version = data.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise self.fail(("version",), f"version={version!r} is not supported; this server reads version "
                                          f"{FORMAT_VERSION}")
        raw_state = data.get("state", {})
        state = self.keys(raw_state, ("state",), list(raw_state) if isinstance(raw_state, dict) else [])
        for name, spec in state.items():
            self.variables[name] = self.variable(name, spec)
        if "prompt" not in data:
            raise RulesError(f"{self.source}: missing [prompt] table with template = \"...\" (the base prompt)")
        self.styles = self.style_files(data.get("styles", {}), ("styles",))
        prompt = self.keys(data["prompt"], ("prompt",), ("template", "negative", "transition", "style"))
        if "template" not in prompt:
            raise self.fail(("prompt",), "missing template = \"...\" (the base prompt)")
        template = self.template(prompt["template"], ("prompt", "template"))
        negative = self.template(prompt.get("negative", ""), ("prompt", "negative"))
        transition = self.timing(prompt["transition"], ("prompt", "transition"), blend=True) \
            if "transition" in prompt else None
        params = self.params(data.get("params", {}), ("params",))
        style = self.style(prompt["style"], ("prompt", "style")) if "style" in prompt else None
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise self.fail(("rules",), "must be an array of tables: write each rule as [[rules]]")
        if len(raw_rules) > MAX_RULES:
            raise RulesError(f"{self.source}: {len(raw_rules)} rules, above the limit of {MAX_RULES}; split the "
                             f"file or merge rules (a rule may match any event with event = \"*\")")
        rules = tuple(self.rule(i, r) for i, r in enumerate(raw_rules))
        return RuleSet(variables=dict(self.variables), prompt=template, negative=negative, transition=transition,
                       params=params, rules=rules, source=self.source, text=self.text,
                       styles=StyleImages.of(self.styles) if self.styles else None, style=style)

    # -- pieces
    def variable(self, name: str, spec: Any) -> Variable:
        path: KeyPath = ("state", name)
        if not _NAME.match(name):
            raise self.fail(path, f"variable name {name!r} must be letters, digits and _ (not starting with a digit)")
        spec = self.keys(spec, path, ("type", "default", "min", "max", "choices", "description"))
        kind = spec.get("type")
        if kind not in VARIABLE_TYPES:
            raise self.fail((*path, "type"), f"type={kind!r} must be one of {list(VARIABLE_TYPES)}")
        if "description" in spec and not isinstance(spec["description"], str):
            raise self.fail((*path, "description"), "must be a string")
        lo, hi = spec.get("min"), spec.get("max")
        for key, bound in (("min", lo), ("max", hi)):
            if bound is None:
                continue
            if kind not in ("int", "float"):
                raise self.fail((*path, key), f"{key} applies only to int and float variables, not {kind}")
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise self.fail((*path, key), f"{key}={bound!r} must be a number")
        if lo is not None and hi is not None and lo > hi:
            raise self.fail((*path, "max"), f"max={hi} is below min={lo}")
        probe = Variable(name, kind, _ZERO[kind], lo, hi)
        choices: tuple[Scalar, ...] = ()
        if "choices" in spec:
            raw = spec["choices"]
            if not isinstance(raw, list) or not raw:
                raise self.fail((*path, "choices"), "must be a non-empty array of values")
            try:
                choices = tuple(probe.check(c) for c in raw)
            except ValueError as exc:
                raise self.fail((*path, "choices"), str(exc)) from exc
        var = Variable(name, kind, _ZERO[kind], lo, hi, choices)
        default = spec.get("default", choices[0] if choices else _ZERO[kind])
        try:
            default = var.check(default)
        except ValueError as exc:
            hint = "" if "default" in spec else " (no default given: add default = ...)"
            raise self.fail((*path, "default"), f"default: {exc}{hint}") from exc
        return Variable(name, kind, default, lo, hi, choices)

    def template(self, text: Any, path: KeyPath, owner: str = "") -> Template:
        """A checked template; `owner` (e.g. "rule 'boss'") starts the messages about its format specs."""
        if not isinstance(text, str):
            raise self.fail(path, f"must be a string, got {_kind(text)}")
        if len(text) > MAX_TEMPLATE_CHARS:
            raise self.fail(path, f"template of {len(text)} characters, above the limit of {MAX_TEMPLATE_CHARS}; "
                                  f"shorten it")
        names: list[str] = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise self.fail(path, f"bad template {text!r}: {exc} (write {{{{ and }}}} for literal braces)") from exc
        fields = sum(1 for _, name, _, _ in parsed if name is not None)
        if fields > MAX_TEMPLATE_FIELDS:
            raise self.fail(path, f"template {text[:60]!r}... has {fields} fields, above the limit of "
                                  f"{MAX_TEMPLATE_FIELDS}; use fewer {{variables}}")
        for _, name, spec, _ in parsed:
            if name is None:
                continue
            if name == "" or not _NAME.match(name):
                raise self.fail(path, f"template field {{{name}}} must name a state variable, e.g. {{biome}}")
            if name not in self.variables:
                known = ", ".join(sorted(self.variables)) or "none declared"
                raise self.fail(path, f"unknown variable {{{name}}}{_guess(name, self.variables)} in template "
                                      f"{text!r}; declare it under [state] (known: {known})")
            if spec:
                self.format_spec(name, spec, f"{owner}: template {text!r}" if owner else f"template {text!r}", path)
            if name not in names:
                names.append(name)
        try:
            text.format_map(self.defaults())
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise self.fail(path, f"template {text!r} cannot be rendered with the defaults: {exc}") from exc
        return Template(text, tuple(names))

    def format_spec(self, name: str, spec: str, where: str, path: KeyPath) -> None:
        """Refuse a nested field (`{style:>{pad}}`: a State value would choose the width) and a width or
        precision above MAX_FORMAT_WIDTH."""
        if "{" in spec or "}" in spec:
            raise self.fail(path, f"{where}: the format spec {spec!r} of {{{name}}} nests a field; a "
                                  f"format spec must be literal (e.g. {{{name}:>12}}), so that no State value "
                                  f"chooses a width")
        match = _FORMAT_SPEC.fullmatch(spec)
        if match is None:
            raise self.fail(path, f"{where}: {spec!r} in {{{name}:{spec}}} is not a format spec "
                                  f"([[fill]align][sign][#][0][width][,][.precision][type], e.g. >12 or .2f)")
        for part in ("width", "precision"):
            digits = match.group(part)
            if digits and int(digits) > MAX_FORMAT_WIDTH:
                raise self.fail(path, f"{where}: {part} {int(digits)} in {{{name}:{spec}}} is above "
                                      f"{MAX_FORMAT_WIDTH}; use a smaller {part}")

    def defaults(self) -> dict[str, Scalar]:
        """Every variable declared so far at its default (built once: templates are checked per rule)."""
        if self._defaults is None:
            self._defaults = {n: v.default for n, v in self.variables.items()}
        return self._defaults

    def timing(self, spec: Any, path: KeyPath, blend: bool) -> Timing:
        allowed = ("seconds", "frames", "easing", "interpolation") if blend else ("seconds", "frames")
        spec = self.keys(spec, path, allowed)
        if ("seconds" in spec) == ("frames" in spec):
            raise self.fail(path, "give exactly one of seconds = ... or frames = ...")
        seconds, frames = 0.0, 0
        if "seconds" in spec:
            seconds = spec["seconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= MAX_SECONDS:
                raise self.fail((*path, "seconds"), f"seconds={seconds!r} must be a number in (0, {MAX_SECONDS:g}]")
            seconds = float(seconds)
        else:
            frames = spec["frames"]
            if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= MAX_FRAMES:
                raise self.fail((*path, "frames"), f"frames={frames!r} must be an integer in [1, {MAX_FRAMES}]")
        easing = spec.get("easing", "linear")
        if not isinstance(easing, str) or easing not in EASINGS:
            raise self.fail((*path, "easing"), f"easing={easing!r} must be one of {list(EASINGS)}")
        interpolation = spec.get("interpolation")
        if interpolation is not None and interpolation not in INTERPOLATIONS:
            raise self.fail((*path, "interpolation"),
                            f"interpolation={interpolation!r} must be one of {list(INTERPOLATIONS)}")
        return Timing(seconds, frames, easing, interpolation)

    def params(self, spec: Any, path: KeyPath) -> tuple[tuple[str, Any], ...]:
        spec = self.keys(spec, path, PARAMS)
        out: list[tuple[str, Any]] = []
        for key, value in spec.items():
            out.append((key, self.param(key, value, (*path, key))))
        return tuple(out)

    def param(self, key: str, value: Any, path: KeyPath) -> Any:
        """A `params` value checked against its registry entry (sdbridge.params); a seed may be a blend."""
        name = "seed_blend" if key == "seed" and isinstance(value, list) else key
        try:
            return check(name, value, f"rules file {self.source}")
        except ParamError as exc:
            raise self.fail(path, exc.problem) from None

    def style_files(self, spec: Any, path: KeyPath) -> dict[str, Any]:
        """[styles]: style name -> image file (relative to the rules file), each read now."""
        spec = self.keys(spec, path, list(spec) if isinstance(spec, dict) else [])
        limit = LimitsConfig().max_style_images
        if len(spec) > limit:
            raise self.fail(path, f"{len(spec)} style images, above limits.max_style_images={limit}; declare fewer")
        base = Path(self.source).parent
        images: dict[str, Any] = {}
        for name, file in spec.items():
            if not isinstance(file, str) or not file:
                raise self.fail((*path, name), f"must name an image file (a path relative to the rules file), got "
                                               f"{_kind(file)}")
            try:
                images[name] = load_style_file(base / file)
            except ValueError as exc:
                raise self.fail((*path, name), f"style image file {str(base / file)!r} {exc}") from None
        return images

    def style(self, spec: Any, path: KeyPath) -> tuple[tuple[str, float], ...]:
        """A style blend { name = weight, ... } naming styles declared under [styles] (weights: the registry's)."""
        spec = self.keys(spec, path, list(spec) if isinstance(spec, dict) else [])
        for name in spec:
            if name not in self.styles:
                raise self.fail((*path, name), f"style {name!r} is not declared under [styles] (declared: "
                                               f"{', '.join(self.styles) or 'none'}); add {name} = \"FILE\" there")
        if not spec and not self.styles:
            raise self.fail(path, "names no style; declare style images under [styles] and give { name = weight }")
        blend = tuple(spec.items())
        try:
            check("style_blend", list(blend), f"rules file {self.source}")
        except ParamError as exc:
            raise self.fail(path, exc.problem) from None
        return tuple((str(n), float(w)) for n, w in blend)

    def conditions(self, spec: Any, path: KeyPath, on_state: bool) -> tuple[Condition, ...]:
        if not isinstance(spec, dict):
            raise self.fail(path, f"must be a table such as {{ damage = {{ ge = 10 }}, kind = \"fire\" }}, "
                                  f"got {_kind(spec)}")
        out: list[Condition] = []
        for key, test in spec.items():
            where = (*path, key)
            var = self.variables.get(key)
            if on_state and var is None:
                raise self.fail(where, f"unknown state variable {key!r}{_guess(key, self.variables)}; declared: "
                                       f"{sorted(self.variables)}")
            tests = test if isinstance(test, dict) else {"eq": test}
            self.keys(tests, where, OPERATORS)
            for op, value in tests.items():
                out.append(self.condition(key, op, value, (*where, op), var))
        return tuple(out)

    def condition(self, key: str, op: str, value: Any, path: KeyPath, var: Variable | None) -> Condition:
        if op == "exists":
            if not isinstance(value, bool):
                raise self.fail(path, f"exists={value!r} must be true or false")
            return Condition(key, op, value)
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value):
                raise self.fail(path, f"{op}={value!r} must be a non-empty array of values")
            values = tuple(value)
            if var is not None:
                for v in values:
                    self.state_value(var, v, path)
            return Condition(key, op, values)
        if not _is_scalar(value):
            raise self.fail(path, f"{op}={value!r} must be a bool, number or string")
        if op in ("lt", "le", "gt", "ge") and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise self.fail(path, f"{op} compares numbers; {value!r} is not a number")
        if var is not None:
            if op in ("lt", "le", "gt", "ge"):
                if var.type not in ("int", "float"):
                    raise self.fail(path, f"{op} needs a numeric variable; {var.name!r} is a {var.type}")
            else:
                self.state_value(var, value, path)
        return Condition(key, op, value)

    def state_value(self, var: Variable, value: Any, path: KeyPath) -> Scalar:
        try:
            return var.check(value)
        except ValueError as exc:
            raise self.fail(path, str(exc)) from exc

    def rule(self, index: int, spec: Any) -> Rule:
        path: KeyPath = ("rules", index)
        spec = self.keys(spec, path, ("name", "event", "when", "when_state", "priority", "layer", "set", "copy",
                                      "add", "prompt", "negative", "params", "style", "transition", "duration",
                                      "revert"))
        line = self.locator.line(path) or 0
        name = spec.get("name", f"rule {index + 1}")
        if not isinstance(name, str) or not name:
            raise self.fail((*path, "name"), "must be a non-empty string")
        event = spec.get("event")
        if not isinstance(event, str) or not event:
            raise self.fail((*path, "event") if "event" in spec else path,
                            f"rule {name!r} needs event = \"<event name>\" (or \"*\" for every event)")
        priority = spec.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int) or not -1000 <= priority <= 1000:
            raise self.fail((*path, "priority"), f"priority={priority!r} must be an integer in [-1000, 1000]")
        sets, copies, adds = self.state_actions(spec, path)
        owner = f"rule {name!r}"
        prompt = self.template(spec["prompt"], (*path, "prompt"), owner) if "prompt" in spec else None
        negative = self.template(spec["negative"], (*path, "negative"), owner) if "negative" in spec else None
        params = self.params(spec["params"], (*path, "params")) if "params" in spec else ()
        style = self.style(spec["style"], (*path, "style")) if "style" in spec else None
        transition = self.timing(spec["transition"], (*path, "transition"), blend=True) \
            if "transition" in spec else None
        duration = self.timing(spec["duration"], (*path, "duration"), blend=False) if "duration" in spec else None
        revert = self.timing(spec["revert"], (*path, "revert"), blend=True) if "revert" in spec else None
        layer = spec.get("layer", "")
        if not isinstance(layer, str):
            raise self.fail((*path, "layer"), "must be a string")
        self.check_actions(spec, path, name, has_prompt_change=prompt is not None or negative is not None or
                           bool(params) or style is not None, has_state_change=bool(sets or copies or adds))
        if transition is not None and prompt is None and style is None and duration is None:
            raise self.fail((*path, "transition"), "transition blends to a new prompt or style; this rule sets "
                                                   "neither")
        return Rule(name=name, event=event, line=line, index=index,
                    when=self.conditions(spec.get("when", {}), (*path, "when"), on_state=False),
                    when_state=self.conditions(spec.get("when_state", {}), (*path, "when_state"), on_state=True),
                    priority=priority, layer=layer or name, set=tuple(sets), copy=tuple(copies), add=tuple(adds),
                    prompt=prompt, negative=negative, params=params, style=style, transition=transition,
                    duration=duration, revert=revert)

    def state_actions(self, spec: dict[str, Any], path: KeyPath) -> tuple[
            list[tuple[str, Scalar]], list[tuple[str, str]], list[tuple[str, float]]]:
        """A rule's set / copy / add actions, each checked against the declared variables."""
        sets: list[tuple[str, Scalar]] = []
        for var_name, value in self.table(spec, "set", path).items():
            sets.append((var_name, self.state_value(self.declared(var_name, (*path, "set", var_name)), value,
                                                    (*path, "set", var_name))))
        copies: list[tuple[str, str]] = []
        for var_name, key in self.table(spec, "copy", path).items():
            self.declared(var_name, (*path, "copy", var_name))
            if not isinstance(key, str) or not key:
                raise self.fail((*path, "copy", var_name), f"copy.{var_name} must name a payload key (a string)")
            copies.append((var_name, key))
        adds: list[tuple[str, float]] = []
        for var_name, amount in self.table(spec, "add", path).items():
            var = self.declared(var_name, (*path, "add", var_name))
            if var.type not in ("int", "float"):
                raise self.fail((*path, "add", var_name), f"add needs a numeric variable; {var_name!r} is a {var.type}")
            if isinstance(amount, bool) or not isinstance(amount, int | float):
                raise self.fail((*path, "add", var_name), f"add.{var_name}={amount!r} must be a number")
            adds.append((var_name, float(amount)))
        return sets, copies, adds

    def check_actions(self, spec: dict[str, Any], path: KeyPath, name: str, has_prompt_change: bool,
                      has_state_change: bool) -> None:
        """A rule has an action; duration, revert and layer only with a temporary prompt/params change."""
        if "duration" not in spec:
            for key in ("revert", "layer"):
                if key in spec:
                    raise self.fail((*path, key), f"{key} applies only to temporary effects: add duration = "
                                                   f"{{ seconds = ... }} or remove {key}")
        elif not has_prompt_change:
            raise self.fail((*path, "duration"), "a duration makes prompt, negative, params and style temporary, "
                                                  "but this rule sets none of them")
        if not (has_state_change or has_prompt_change):
            raise self.fail(path, f"rule {name!r} has no action: give set, copy, add, prompt, negative, params or "
                                  "style")

    def table(self, spec: dict[str, Any], key: str, path: KeyPath) -> dict[str, Any]:
        value = spec.get(key, {})
        if not isinstance(value, dict):
            raise self.fail((*path, key), f"must be a table such as {{ name = value }}, got {_kind(value)}")
        return value

    def declared(self, name: str, path: KeyPath) -> Variable:
        var = self.variables.get(name)
        if var is None:
            raise self.fail(path, f"unknown state variable {name!r}{_guess(name, self.variables)}; declare it "
                                  f"under [state] (declared: {sorted(self.variables)})")
        return var


_ZERO: dict[str, Scalar] = {"string": "", "int": 0, "float": 0.0, "bool": False}


def _guess(name: object, known: Iterable[str]) -> str:
    """" (did you mean 'x'?)" naming the known name closest to a misspelt `name`, or ""."""
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_scalar(value: Any) -> bool:
    return isinstance(value, bool | int | float | str)


def _kind(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a bool"}.get(type(value),
                                                                                     type(value).__name__)


def parse_rules(text: str, source: str = "<string>") -> RuleSet:
    """Parse and validate rules-file text; raises RulesError naming `source`, the line and the problem."""
    if len(text) > MAX_FILE_BYTES:
        raise RulesError(f"{source}: {len(text)} characters, above the limit of {MAX_FILE_BYTES} for a rules file; "
                         f"split it or shorten its templates")
    return _Parser(text, source).parse()


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rules file (see docs/rules.md); a file above MAX_FILE_BYTES is refused unread."""
    p = Path(path)
    try:
        if not stat.S_ISREG(p.stat().st_mode):  # a FIFO or a device would block or never end
            raise RulesError(f"rules file {p} is not a regular file; pass a TOML file to --rules")
        with p.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise RulesError(f"rules file {p} has more than {MAX_FILE_BYTES} bytes, the limit for a rules file; "
                             f"split it or shorten its templates")
        text = data.decode("utf-8")
    except OSError as exc:
        raise RulesError(f"cannot read rules file {p}: {exc.strerror}; pass an existing file to --rules") from exc
    except UnicodeDecodeError as exc:
        raise RulesError(f"rules file {p} is not UTF-8 text: {exc}") from exc
    return parse_rules(text, str(p))
