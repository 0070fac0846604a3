"""Files the server reads (rules files, the server config) mutated line by line: whatever a file says, the parser
answers with its own error (a BridgeError naming the file, the key and the fix), never another exception.

Every `key = value` line of a shipped example gets each hostile TOML literal in turn (wrong type, out of range,
huge, empty, a path the OS cannot look up, ...; one literal of each kind for the server config, whose parser is
slower), and for the rules files seeded random mutants change, blank or repeat two lines at once. Then the parsed
tree: values at any depth replaced by a value of another shape, deleted, or joined by a known key in the wrong
place, written back as TOML. Mutating the examples found a [state] that is no table and an easing that is no
string (TypeError in the rules parser) and a vae too long to be a path (OSError in the config check)."""

from __future__ import annotations

import copy
import json
import math
import random
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdbridge.config import parse_config
from sdbridge.errors import BridgeError
from sdbridge.events.rules import parse_rules

ROOT = Path(__file__).resolve().parents[2]
LITERALS = (
    "0", "-1", "1", "9223372036854775807", "-9223372036854775808", "1e308", "-1e308", "nan", "inf", "-inf", "0.5",
    "true", "false", '""', '"x"', '"{"', '"{a}"', '"{a:>99999}"', '"%s"', '"' + "a" * 5000 + '"', "[]", "[1]",
    '["a"]', "[[1]]", "[{}]", "{}", "{ a = 1 }", "1979-05-27T07:32:00Z", "07:32:00", '"linear"', '"none"',
    '"cuda:1"', '"tiny"', '"../../etc/passwd"', '"/dev/zero"', '[1, "a"]', '{ type = "int" }',
)
ASSIGNMENT = re.compile(r'^(\s*[\w."-]+\s*=\s*)(.+)$')


def single_line_mutants(text: str, literals: tuple[str, ...]) -> Iterator[str]:
    """Every `key = value` line of `text` with its value replaced by each of `literals` in turn."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match is None:
            continue
        for literal in literals:
            yield "\n".join([*lines[:i], match.group(1) + literal, *lines[i + 1:]]) + "\n"


def random_mutants(text: str, rng: random.Random, count: int) -> Iterator[str]:
    """`count` variants of `text`, each with two lines changed, blanked or repeated."""
    lines = text.splitlines()
    assignments = [i for i, line in enumerate(lines) if ASSIGNMENT.match(line)]
    for _ in range(count):
        new = list(lines)
        for _ in range(2):
            i = rng.choice(assignments)
            match = ASSIGNMENT.match(new[i])
            roll = rng.random()
            if match is not None and roll < 0.8:
                new[i] = match.group(1) + rng.choice(LITERALS)
            elif roll < 0.9:
                new[i] = ""
            else:
                new.insert(i, rng.choice(new))
        yield "\n".join(new) + "\n"


# One literal of each kind for the (slower) config parser: every kind reaches every key.
KINDS = ("-1", "1e308", "nan", "true", '""', '"' + "a" * 5000 + '"', "[1]", "{ a = 1 }", "1979-05-27T07:32:00Z")


CASES = [
    ("configs/rules/fantasy_rpg.toml", parse_rules, LITERALS, 500),
    ("configs/rules/survival_horror.toml", parse_rules, LITERALS, 500),
    ("configs/server.toml", parse_config, KINDS, 0),
]


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("path", "parse", "literals", "random_count"), CASES, ids=[c[0] for c in CASES])
def test_a_mutated_file_gets_the_parsers_own_error(path: str, parse: Callable[[str, str], object],
                                                     literals: tuple[str, ...], random_count: int) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    texts = [*single_line_mutants(text, literals), *random_mutants(text, random.Random(20261207), random_count)]
    refused = 0
    escaped: list[str] = []
    for mutant in texts:
        try:
            parse(mutant, "mutant.toml")
        except BridgeError:
            refused += 1
        except Exception as exc:  # the finding: another exception escaped the parser
            escaped.append(f"{type(exc).__name__}: {str(exc)[:120]}")
    assert escaped == [], f"{len(escaped)} of {len(texts)} mutants escaped the parser's errors, e.g. {escaped[:3]}"
    assert refused > len(texts) // 4  # the mutants do reach the checks (most are refused, some are still valid)


# ------------------------------------------------------------------------------ mutations of the parsed tree

TREE_VALUES: tuple[Any, ...] = (
    None, True, 0, -1, 2**63 - 1, -(2**63), 1e308, float("nan"), float("inf"), 0.5, "", "x", "{", "{a}", "a" * 5000,
    [], [1], ["a"], [[1]], [{}], {}, {"a": 1}, "linear", "none",
)


def toml_text(document: dict[str, Any]) -> str:
    """`document` as TOML, every table inline (None values are left out: TOML has no null)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v if x is not None) + "]"
        return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items() if x is not None) + " }"

    return "".join(f"{json.dumps(k)} = {value(v)}\n" for k, v in document.items() if v is not None)


def tree_mutants(document: dict[str, Any], rng: random.Random, count: int) -> Iterator[str]:
    """`count` variants of the parsed `document`: one to three of its values (at any depth) replaced by a hostile
    value, deleted, or given a sibling key that is a known name in the wrong place."""
    for _ in range(count):
        doc = copy.deepcopy(document)
        for _ in range(rng.randrange(1, 4)):
            parent, key = rng.choice(list(_places(doc)))
            roll = rng.random()
            if roll < 0.6:
                parent[key] = copy.deepcopy(rng.choice(TREE_VALUES))
            elif roll < 0.8 or not isinstance(parent, dict):
                del parent[key]
            else:
                parent[rng.choice(("when", "then", "set", "prompt", "seconds", "easing", "state"))] = copy.deepcopy(
                    rng.choice(TREE_VALUES))
        yield toml_text(doc)


def _places(node: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key or index) of every value under `node`."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield node, key
        yield from _places(child)


TREE_CASES = [
    ("configs/rules/fantasy_rpg.toml", parse_rules, 1500),
    ("configs/rules/survival_horror.toml", parse_rules, 1500),
    ("configs/server.toml", parse_config, 300),
]


@pytest.mark.timeout(180)
@pytest.mark.parametrize(("path", "parse", "count"), TREE_CASES, ids=[c[0] for c in TREE_CASES])
def test_a_file_with_values_of_the_wrong_shape_gets_the_parsers_own_error(
        path: str, parse: Callable[[str, str], object], count: int) -> None:
    document = tomllib.loads((ROOT / path).read_text(encoding="utf-8"))
    assert tomllib.loads(toml_text(document)) == document  # the writer round-trips the example
    escaped: list[str] = []
    refused = 0
    for text in tree_mutants(document, random.Random(20261207), count):
        try:
            parse(text, "mutant.toml")
        except BridgeError:
            refused += 1
        except Exception as exc:  # the finding
            escaped.append(f"{type(exc).__name__}: {str(exc)[:120]}")
    assert escaped == [], f"{len(escaped)} of {count} mutants escaped the parser's errors, e.g. {escaped[:3]}"
    assert refused > count // 4
