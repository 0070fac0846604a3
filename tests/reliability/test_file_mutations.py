"""Files the server reads (rules files, the server config) mutated line by line: whatever a file says, the parser
answers with its own error (a BridgeError naming the file, the key and the fix), never another exception.

Every `key = value` line of a shipped example gets each hostile TOML literal in turn (wrong type, out of range,
huge, empty, a path the OS cannot look up, ...; one literal of each kind for the server config, whose parser is
slower), and for the rules files seeded random mutants change, blank or repeat two lines at once. Mutating the
examples found a [state] that is no table and an easing that is no string (TypeError in the rules parser) and a
vae too long to be a path (OSError in the config check)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

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
