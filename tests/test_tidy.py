"""The repository stays tidy: no issue-tracker references in its files (say what a thing does, not which ticket
asked for it), benchmark measurement only under sdbridge/bench/ (the `sdbridge bench ...` commands parse arguments),
and percentiles from the one helper (sdbridge/quantiles.py), not a hand-picked middle element.

Each scan first proves it sees the files it is about and that its pattern catches a sample offender."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python_server" / "sdbridge"

#: "issue 17", "issues 4 and 5", "item 7a", "items 5, 7f", "finding 11": a tracker's numbering. An upstream
#: project's issue written as "#1234" (e.g. "flatbuffers issue #7539") names a public page and is allowed.
TRACKER = re.compile(r"\b(issues?|items?|findings?) [0-9]+[a-z]?\b", re.IGNORECASE)
TEXT_SUFFIXES = {".py", ".md", ".cs", ".cpp", ".h", ".hpp", ".usf", ".ush", ".js", ".html", ".css", ".sh", ".toml",
                 ".fbs", ".txt", ".yml", ".yaml", ".json", ".cfg", ".ini", ".uplugin", ".asmdef", ".cmake"}
SKIPPED = ("wheels/", "build/", "out/", ".venv/")

#: A middle element picked by hand (`sorted(x)[len(x) // 2]`) or a second percentile implementation.
HAND_PERCENTILE = re.compile(r"\[\s*len\([^)]*\)\s*//\s*2\s*\]|np\.(percentile|quantile)\(|statistics\.quantiles\(")
#: What a benchmark measures with; the commands (sdbridge/commands/bench*.py) only parse arguments and call it.
MEASURING = re.compile(r"\b(perf_counter|process_time|thread_time|getrusage|statistics|percentile)\b")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    files = []
    for name in listed.stdout.splitlines():
        path = ROOT / name
        if name.startswith(SKIPPED) or "_generated" in name or "/generated/" in name.lower():
            continue
        if path.suffix in TEXT_SUFFIXES and path.is_file() and path != Path(__file__).resolve():  # its samples
            files.append(path)
    return files


def test_the_tracker_pattern_catches_references_and_leaves_upstream_links() -> None:
    for offender in ("see issue 17", "(issue 15, item 2)", "items 5, 7f", "# ---- finding 11: credits", "Issue 4's"):
        assert TRACKER.search(offender), offender
    for fine in ("flatbuffers issue #7539", "an issue with the socket", "item_word", "3 items", "findings"):
        assert not TRACKER.search(fine), fine


def test_no_file_cites_an_issue_tracker() -> None:
    files = _tracked_text_files()
    suffixes = {p.suffix for p in files}
    assert len(files) > 300 and {".py", ".md", ".cs", ".cpp", ".h"} <= suffixes, (len(files), suffixes)
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if TRACKER.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert found == [], "say what the code does instead of citing a ticket:\n" + "\n".join(found)


def test_percentiles_come_from_the_one_helper() -> None:
    assert HAND_PERCENTILE.search("fps = sorted(s.fps for s in samples)[len(samples) // 2]")
    assert HAND_PERCENTILE.search("p99 = np.percentile(times, 99)")
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if "_generated" not in p.parts]
    assert len(modules) > 100 and (PACKAGE / "quantiles.py") in modules
    found = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
             for path in modules if path.name != "quantiles.py"
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if HAND_PERCENTILE.search(line)]
    assert found == [], "use sdbridge.quantiles.percentile:\n" + "\n".join(found)


def test_bench_commands_only_parse_arguments() -> None:
    commands = sorted((PACKAGE / "commands").glob("bench*.py"))
    assert len(commands) >= 5 and MEASURING.search("start = time.perf_counter()")
    found = [f"commands/{path.name}:{number}: {line.strip()}"
             for path in commands
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if MEASURING.search(line) and not line.lstrip().startswith(("#", "from sdbridge.bench", "import"))]
    assert found == [], "measure in sdbridge/bench/, the command only parses arguments:\n" + "\n".join(found)
