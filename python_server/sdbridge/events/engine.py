"""The rules engine of one session: state variables, event matching, layers of timed effects.

Pure and deterministic: it is fed events, state entries and the clock (seconds and the session's frame
count) and returns `Change`s - keyword values for `pipeline.update` plus how to reach a new prompt (a
blend over seconds or frames with an easing curve). No sockets, no torch, no threads.

Conflicts: rules matching one event are applied in ascending priority (file order breaks ties), so a
higher priority wins a conflicting state value, prompt or parameter. Temporary effects (rules with a
`duration`) live on layers, one effect per layer (a new one replaces the old); the prompt shown is the
highest-priority active effect's (the most recent on a tie), else the base prompt; parameters are the
base values overlaid by the active effects in ascending priority. An effect that ends reverts to what
is left, blending with its `revert` timing.

Style images (the IP-Adapter): a rules file's `[styles]` are sent once at the start (`style_images`); its styles
are chosen like a parameter (`style_blend`: a rule's `style`, layered like params), and a new blend is reached over
the rule's `transition` (or an ended effect's `revert`) one frame at a time by `tick` (sdbridge.events.style_fade).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sdbridge.events.rules import Condition, Rule, RuleSet, Scalar, Template, Timing
from sdbridge.events.style_fade import StyleFade
from sdbridge.params import rules_keys

#: The pipeline parameter keys the engine manages (StreamConfig field names), from the parameter registry.
PARAM_KEYS = rules_keys()


@dataclass(frozen=True)
class Change:
    """Values for `pipeline.update` (prompt, negative_prompt, prompt_interpolation, parameters).

    A new "prompt" is reached by a blend over `seconds` or `frames` (both 0: at once) shaped by `easing`;
    every other value applies at once.
    """

    values: Mapping[str, Any]
    seconds: float = 0.0
    frames: int = 0
    easing: str = "linear"
    reason: str = ""


@dataclass
class Outcome:
    """What one input did: the changes to apply, the rules that ran, and problems to report.

    `tested`: how many rules an event's conditions were tested on (its candidates, `RuleSet.for_event`: the
    rules of that event name and the "*" rules, not every rule of the file); 0 for other inputs.
    """

    changes: list[Change] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # State keys that are not declared variables
    tested: int = 0


@dataclass
class _Effect:
    rule: Rule
    seq: int
    until_seconds: float | None
    until_frame: int | None

    def expired(self, now: float, frame: int | None) -> bool:
        return (self.until_seconds is not None and now >= self.until_seconds) or (
            self.until_frame is not None and frame is not None and frame >= self.until_frame)


@dataclass(frozen=True)
class _Effective:
    prompt: str
    negative: str
    params: Mapping[str, Any]


class RuleEngine:
    """One session's rules state. `start` once, then `on_event` / `on_state` / `tick` in time order."""

    def __init__(self, rules: RuleSet, defaults: Mapping[str, Any] | None = None,
                 state: Mapping[str, Scalar] | None = None) -> None:
        """`defaults`: the pipeline's starting parameters (what a reverted effect returns to when no rule
        set that parameter). `state`: initial values of variables (checked; defaults fill the rest)."""
        self.rules = rules
        self._defaults = {k: v for k, v in (defaults or {}).items() if k in PARAM_KEYS}
        self.state: dict[str, Scalar] = rules.defaults()
        for name, value in (state or {}).items():
            var = rules.variables.get(name)
            if var is not None:
                with contextlib.suppress(ValueError):  # a value the rules no longer allow: the default stays
                    self.state[name] = var.check(value)
        self._base_prompt: Template = rules.prompt
        self._base_negative: Template = rules.negative
        self._base_params: dict[str, Any] = {**self._defaults, **dict(rules.params), **_base_style(rules)}
        self._effects: dict[str, _Effect] = {}
        self._seq = itertools.count()
        self._current: _Effective | None = None
        self._fade: StyleFade | None = None  # a timed style blend in progress

    # ------------------------------------------------------------------ inputs

    def start(self) -> Outcome:
        """The initial prompt, negative prompt and the rules file's [params], applied at once."""
        now = self._effective()
        self._current = now
        values: dict[str, Any] = {"prompt": now.prompt, "negative_prompt": now.negative}
        values.update({k: v for k, v in now.params.items() if k in dict(self.rules.params) or k == "style_blend"})
        if self.rules.styles is not None:
            values["style_images"] = self.rules.styles  # set before style_blend chooses among them
        return Outcome(changes=[Change(values, reason="start")])

    def on_event(self, name: str, payload: Mapping[str, Scalar], now: float, frame: int) -> Outcome:
        """Run every rule matching event `name` with `payload` at time `now` (seconds) and `frame`."""
        out = Outcome()
        matched: list[Rule] = []
        for rule in self.rules.for_event(name):
            out.tested += 1
            if self._matches(rule, name, payload):
                matched.append(rule)
        matched.sort(key=lambda r: (r.priority, r.index))  # highest priority last: it wins conflicts
        prompt_timing: Timing | None = None
        prompt_rule: Rule | None = None
        style_timing: Timing | None = None
        for rule in matched:
            problem = self._apply_state(rule, payload)
            if problem:
                out.problems.append(f"rule {rule.name!r} (line {rule.line}): {problem}")
                continue
            out.matched.append(rule.name)
            if rule.temporary:
                assert rule.duration is not None
                d = rule.duration
                self._effects[rule.layer] = _Effect(rule, next(self._seq),
                                                    now + d.seconds if d.seconds else None,
                                                    frame + d.frames if d.frames else None)
            else:
                if rule.prompt is not None:
                    self._base_prompt = rule.prompt
                if rule.negative is not None:
                    self._base_negative = rule.negative
                self._base_params.update(_params(rule))
            if rule.prompt is not None:
                prompt_timing, prompt_rule = rule.transition, rule
            if rule.style is not None:
                style_timing = rule.transition
        clock = (style_timing, now, frame)
        if prompt_rule is not None:
            out.changes.extend(self._emit(prompt_timing, f"event {name!r}: rule {prompt_rule.name!r}", clock))
        else:
            out.changes.extend(self._emit(self.rules.transition, f"event {name!r}", clock))
        return out

    def on_state(self, entries: Mapping[str, Scalar], replace_all: bool = False) -> Outcome:
        """Set declared state variables (others are listed in `ignored`); re-render the prompt.

        `replace_all` resets every declared variable not in `entries` to its default first.
        """
        out = Outcome()
        if replace_all:
            self.state = self.rules.defaults()
        for key, value in entries.items():
            var = self.rules.variables.get(key)
            if var is None:
                out.ignored.append(key)
                continue
            try:
                self.state[key] = var.check(value)
            except ValueError as exc:
                out.problems.append(str(exc))
        out.changes.extend(self._emit(self.rules.transition, "state"))
        return out

    def tick(self, now: float, frame: int | None = None) -> Outcome:
        """End the temporary effects whose duration has passed; the values revert (with `revert` timing).

        `frame` is the index of the frame about to be processed (frames are counted from 0, as in
        `on_event`): an effect of n frames started at frame F covers frames F .. F+n-1. None checks only
        durations in seconds.
        """
        out = Outcome()
        ended = [e for e in self._effects.values() if e.expired(now, frame)]
        if ended:
            for effect in ended:
                del self._effects[effect.rule.layer]
            ended.sort(key=lambda e: (e.rule.priority, e.seq))
            timing = next((e.rule.revert for e in reversed(ended) if e.rule.revert is not None), None)
            names = ", ".join(repr(e.rule.name) for e in ended)
            out.changes.extend(self._emit(timing, f"effect ended: {names}", (timing, now, frame)))
        out.changes.extend(self._fade_step(now, frame))
        return out

    def _fade_step(self, now: float, frame: int | None) -> list[Change]:
        """The running style fade's next blend: one per frame (`frame` given), and the target once reached."""
        fade = self._fade
        if fade is None:
            return []
        done = fade.advance(now, frame)
        if not done and frame is None:
            return []  # between frames (the server's loop turns): nothing to show
        if done:
            self._fade = None
        return [Change(fade.values(), reason="style transition")]

    # ------------------------------------------------------------------ queries

    @property
    def active_layers(self) -> dict[str, str]:
        """Layer -> name of the rule whose temporary effect is active on it."""
        return {layer: e.rule.name for layer, e in self._effects.items()}

    @property
    def current(self) -> dict[str, Any]:
        """The prompt, negative prompt and parameters the engine has sent so far."""
        now = self._current or self._effective()
        return {"prompt": now.prompt, "negative_prompt": now.negative, **now.params}

    def reloaded(self, rules: RuleSet) -> tuple[RuleEngine, Outcome]:
        """An engine for new `rules` that keeps this one's state values (where still valid).

        Temporary effects end. The outcome moves the pipeline from what this engine sent to the new
        rules' values, blending the prompt with the new file's default transition.
        """
        engine = RuleEngine(rules, self._defaults, self.state)
        if self._current is None:
            return engine, engine.start()
        engine._current = self._current  # diff against what the pipeline has now
        # a parameter only the old rules set returns to the server default (see _emit)
        changes = engine._emit(rules.transition, "rules reloaded")
        if rules.styles is not None and rules.styles != self.rules.styles:  # before a blend naming the new ones
            changes.insert(0, Change({"style_images": rules.styles}, reason="rules reloaded: style images"))
        return engine, Outcome(changes=changes)

    # ------------------------------------------------------------------ internals

    def _matches(self, rule: Rule, name: str, payload: Mapping[str, Scalar]) -> bool:
        if rule.event != "*" and rule.event != name:
            return False
        return all(_holds(c, payload) for c in rule.when) and all(_holds(c, self.state) for c in rule.when_state)

    def _apply_state(self, rule: Rule, payload: Mapping[str, Scalar]) -> str:
        """Apply set/copy/add of `rule`; on a bad payload value nothing of the rule applies."""
        updates: dict[str, Scalar] = {}
        for var_name, key in rule.copy:
            if key not in payload:
                return f"copy.{var_name}: the event payload has no key {key!r}"
            try:
                updates[var_name] = self.rules.variables[var_name].check(payload[key])
            except ValueError as exc:
                return f"copy.{var_name} from payload {key!r}: {exc}"
        updates.update(dict(rule.set))
        for var_name, amount in rule.add:
            var = self.rules.variables[var_name]
            base = updates.get(var_name, self.state[var_name])
            updates[var_name] = var.clamp(float(base) + amount)  # type: ignore[arg-type]
        self.state.update(updates)
        return ""

    def _top(self, attr: str) -> Template | None:
        candidates = [e for e in self._effects.values() if getattr(e.rule, attr) is not None]
        if not candidates:
            return None
        best = max(candidates, key=lambda e: (e.rule.priority, e.seq))
        return getattr(best.rule, attr)  # type: ignore[no-any-return]

    def _effective(self) -> _Effective:
        prompt = self._top("prompt") or self._base_prompt
        negative = self._top("negative") or self._base_negative
        params = dict(self._base_params)
        for effect in sorted(self._effects.values(), key=lambda e: (e.rule.priority, e.seq)):
            params.update(_params(effect.rule))
        return _Effective(prompt.render(self.state), negative.render(self.state), params)

    def _emit(self, timing: Timing | None, reason: str,
              clock: tuple[Timing | None, float, int | None] | None = None) -> list[Change]:
        """The difference between what was sent and what the rules say now, as at most one Change. A changed
        style_blend with a timing in `clock` (style timing, seconds, frame) starts a style fade instead."""
        now = self._effective()
        before = self._current
        self._current = now
        values: dict[str, Any] = {}
        if before is None or now.prompt != before.prompt:
            values["prompt"] = now.prompt
            if timing is not None and timing.interpolation is not None:
                values["prompt_interpolation"] = timing.interpolation
        if before is None or now.negative != before.negative:
            values["negative_prompt"] = now.negative
        for key, value in now.params.items():
            if before is None or before.params.get(key) != value:
                values[key] = value
        if before is not None:  # a parameter an ended effect set, with no base value to return to
            for key in before.params.keys() - now.params.keys():
                if key in self._defaults:
                    values[key] = self._defaults[key]
        if "style_blend" in values:
            self._start_fade(values, before, clock)
        if not values:
            return []
        if "prompt" in values and timing is not None:
            return [Change(values, timing.seconds, timing.frames, timing.easing, reason)]
        return [Change(values, reason=reason)]


    def _start_fade(self, values: dict[str, Any], before: _Effective | None,
                    clock: tuple[Timing | None, float, int | None] | None) -> None:
        """A new style_blend in `values`: sent at once (cancelling a running fade), or, with a style timing in
        `clock`, reached by a fade from the blend shown now (`values` then leaves it to `tick`)."""
        target = values["style_blend"]
        running = self._fade
        shown = running.shown() if running is not None else (before.params.get("style_blend")
                                                             if before is not None else None)
        self._fade = None
        if clock is None or clock[0] is None or shown is None:
            return
        ruled = "ip_adapter_scale" in dict(self.rules.params) or any(  # the rules know the scale they want
            "ip_adapter_scale" in dict(r.params) for r in self.rules.rules)
        scale = self._current.params.get("ip_adapter_scale") if ruled and self._current is not None else None
        timing, now, frame = clock
        self._fade = StyleFade(tuple(shown), tuple(target), timing, now, frame, scale,
                               running.shown_scale() if running is not None else None)
        del values["style_blend"]
        if scale is not None:
            values.pop("ip_adapter_scale", None)  # the fade ramps it and ends on it


def _params(rule: Rule) -> dict[str, Any]:
    """A rule's parameter values, its style as `style_blend`."""
    return {**dict(rule.params), **({"style_blend": rule.style} if rule.style is not None else {})}


def _base_style(rules: RuleSet) -> dict[str, Any]:
    """The starting style_blend: [prompt] style, else no style (every declared style at 0), else none managed."""
    if rules.style is not None:
        return {"style_blend": rules.style}
    if rules.styles is not None:
        return {"style_blend": tuple((name, 0.0) for name in rules.styles.names)}
    return {}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return bool(a == b)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _holds(cond: Condition, source: Mapping[str, Scalar]) -> bool:
    """True when `cond` holds on `source`; a missing key fails every test except `exists = false`."""
    if cond.op == "exists":
        return (cond.key in source) == cond.value
    if cond.key not in source:
        return False
    value = source[cond.key]
    op, ref = cond.op, cond.value
    if op == "eq":
        return _same(value, ref)
    if op == "ne":
        return not _same(value, ref)
    if op == "in":
        return any(_same(value, r) for r in ref)
    if op == "not_in":
        return not any(_same(value, r) for r in ref)
    if not _number(value):
        return False
    if op == "lt":
        return value < ref  # type: ignore[operator]
    if op == "le":
        return value <= ref  # type: ignore[operator]
    if op == "gt":
        return value > ref  # type: ignore[operator]
    return value >= ref  # type: ignore[operator]
