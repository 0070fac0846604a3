"""A rules file cannot hurt the server: loading is linear in the number of rules, the
file is bounded, a reload runs off the I/O thread, and no template lets a State value choose an allocation size.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from sdbridge.events import host as host_module
from sdbridge.events import rules as rules_module
from sdbridge.events.host import RulesHost
from sdbridge.events.rules import (
    MAX_FORMAT_WIDTH,
    MAX_RULES,
    MAX_TEMPLATE_FIELDS,
    RulesError,
    load_rules,
    parse_rules,
)
from sdbridge.params import BY_NAME

HEAD = """\
version = 1
[state]
style = { type = "string", default = "ink" }
pad = { type = "int", default = 3 }
level = { type = "int", default = 1 }
[prompt]
template = "a {style} city"
"""


def _rules(n: int) -> str:
    return HEAD + "".join(f'[[rules]]\nname = "r{i}"\nevent = "e{i}"\nwhen = {{ damage = {{ ge = 10 }} }}\n'
                          f'set = {{ level = {i} }}\nprompt = "a {{style}} {i}"\n' for i in range(n))


def _best_load_seconds(text: str, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        parsed = parse_rules(text)
        best = min(best, time.perf_counter() - start)
    assert parsed.rules
    return best


def test_loading_is_linear_in_the_number_of_rules() -> None:
    """4x the rules must cost about 4x the time; the old line lookup scanned every entry per rule (~16x)."""
    small, large = _best_load_seconds(_rules(1000)), _best_load_seconds(_rules(4000))
    assert large / small < 8, f"1,000 rules {small:.3f} s, 4,000 rules {large:.3f} s: not linear"
    rules = parse_rules(_rules(4000), "many.toml")
    assert rules.rules[3999].line > rules.rules[3998].line > 0  # line numbers still found


def test_too_many_rules_or_bytes_are_refused_with_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules_module, "MAX_RULES", 10)
    with pytest.raises(RulesError, match=r"many\.toml: 11 rules, above the limit of 10; split the file"):
        parse_rules(_rules(11), "many.toml")
    assert len(parse_rules(_rules(10)).rules) == 10
    monkeypatch.setattr(rules_module, "MAX_FILE_BYTES", 2000)
    path = tmp_path / "big.toml"
    path.write_text(HEAD + "# " + "x" * 3000 + "\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"big\.toml has more than 2000 bytes, the limit for a rules file"):
        load_rules(path)
    assert MAX_RULES >= 4000  # the figure the issue measured still loads


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_a_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "rules.toml"
    os.mkfifo(fifo)
    errors: list[BaseException] = []

    def load() -> None:
        try:
            load_rules(fifo)
        except BaseException as exc:  # checked below
            errors.append(exc)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    loader.join(10)
    if loader.is_alive():  # blocked opening the FIFO: open its other end so the thread can end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("loading a FIFO as a rules file blocked")
    assert len(errors) == 1 and isinstance(errors[0], RulesError) and "not a regular file" in str(errors[0])


@pytest.mark.parametrize("template", ["{style:>{pad}}", "{style:{pad}}", "{level:{pad}d}", "{style:.{pad}}"])
def test_a_format_spec_cannot_nest_a_field(template: str) -> None:
    text = HEAD + f'[[rules]]\nname = "padded"\nevent = "hit"\nprompt = "{template}"\n'
    with pytest.raises(RulesError) as info:
        parse_rules(text, "pad.toml")
    message = str(info.value)
    assert message.startswith("pad.toml:11: rules[0].prompt: rule 'padded': template ")
    assert template in message and "nests a field" in message


def test_format_width_and_precision_are_bounded() -> None:
    widest = f'"{{style:>{MAX_FORMAT_WIDTH}}} {{level:0{MAX_FORMAT_WIDTH}d}}"'
    ok = parse_rules(HEAD.replace('"a {style} city"', widest))
    assert len(ok.prompt.render({"style": "x", "level": 1})) == 2 * MAX_FORMAT_WIDTH + 1
    for spec in (f"style:>{MAX_FORMAT_WIDTH + 1}", "style:x^300000000", f"level:.{MAX_FORMAT_WIDTH + 1}f",
                 "level:0300000000d"):
        with pytest.raises(RulesError, match=r"(width|precision) \d+ .* is above 256; use a smaller"):
            parse_rules(HEAD.replace('"a {style} city"', f'"{{{spec}}}"'), "wide.toml")
    with pytest.raises(RulesError, match="is not a format spec"):
        parse_rules(HEAD.replace('"a {style} city"', '"{style:>>>5}"'), "odd.toml")


def test_templates_are_bounded_in_fields() -> None:
    many = " ".join(["{style}"] * (MAX_TEMPLATE_FIELDS + 1))
    with pytest.raises(RulesError, match=f"has {MAX_TEMPLATE_FIELDS + 1} fields, above the limit"):
        parse_rules(HEAD.replace('"a {style} city"', f'"{many}"'), "fields.toml")


def test_param_ranges_fit_the_wire_types() -> None:
    assert BY_NAME["seed"].maximum < 2**64 and BY_NAME["seed"].minimum == 0  # Params.seed: ulong
    assert BY_NAME["max_skip_frames"].maximum < 2**32 and BY_NAME["max_skip_frames"].minimum == 0  # uint
    assert BY_NAME["t_index_list"].maximum < 2**31  # int
    assert BY_NAME["guidance_scale"].maximum < 3.4e38  # float32
    for key, bad in (("seed", -1), ("seed", 2**64), ("guidance_scale", 1e39), ("max_skip_frames", -5),
                     ("t_index_list", [2**40]), ("guidance_scale", float("nan"))):
        with pytest.raises(RulesError, match=key):
            parse_rules(HEAD + f"[params]\n{key} = {bad!r}\n", "p.toml")


def test_a_reload_runs_off_the_polling_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The I/O thread only stats the file; the re-read and validation run on a thread of their own."""
    path = tmp_path / "rules.toml"
    path.write_text(HEAD, encoding="utf-8")
    host = RulesHost(path, poll_interval=0.0)
    host.open(1)
    stamp = path.stat().st_mtime_ns
    path.write_text(HEAD.replace("a {style} city", "a {style} town"), encoding="utf-8")
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    release = threading.Event()
    loaded_on: list[threading.Thread] = []
    real_load = host_module.load_rules

    def slow_load(p: Path) -> object:
        loaded_on.append(threading.current_thread())
        release.wait(10)
        return real_load(p)

    monkeypatch.setattr(host_module, "load_rules", slow_load)
    start = time.monotonic()
    assert host.poll(1.0) == {}  # the load is blocked, yet the poll returned
    assert host.poll(2.0) == {}
    assert time.monotonic() - start < 5
    assert loaded_on and loaded_on[0] is not threading.current_thread()
    release.set()
    deadline = time.monotonic() + 10
    outcomes: dict[int, object] = {}
    while not outcomes and time.monotonic() < deadline:
        outcomes = host.poll(3.0)
        time.sleep(0.01)
    assert host.reloads == 1 and host.rules.prompt.text == "a {style} town"


def test_an_event_checks_only_its_own_rules() -> None:
    """With thousands of rules, one event must not test every rule (the engine runs on the I/O thread)."""
    from sdbridge.events.engine import RuleEngine

    text = _rules(4000) + '[[rules]]\nname = "any"\nevent = "*"\nset = { level = 7 }\n'
    rules = parse_rules(text)
    engine = RuleEngine(rules)
    assert engine.start().tested == 0
    outcome = engine.on_event("e17", {"damage": 12}, 0.0, 0)
    assert outcome.tested == 2 and outcome.matched == ["r17", "any"]  # of 4,001 rules, r17 and "*" are tested
    assert engine.state["level"] == 7  # file order: "any" comes after r17
    unknown = engine.on_event("unknown", {}, 0.0, 0)
    assert unknown.matched == ["any"] and unknown.tested == 1
    missed = engine.on_event("e17", {"damage": 3}, 0.0, 0)  # tested, whether or not the conditions hold
    assert missed.matched == ["any"] and missed.tested == 2
