#!/usr/bin/env python3
"""Build (or check) the golden wire messages in schemas/golden/ with flatc itself.

Usage:
    python schemas/golden/make_golden.py           # rewrite *.bin, *.pixels.bin and README values
    python schemas/golden/make_golden.py --check   # rebuild in a temp folder; fail on any difference

Each ``<name>.json`` here is the source of one golden message; ``flatc -b bridge.fbs <name>.json``
(Debian's flatc 2.0.8) turns it into ``<name>.bin``. Frame and Result goldens also get
``<name>.pixels.bin``: stride x height bytes where byte k = (k * 37 + 11) mod 256; a Frame with planes gets
``<name>.plane<i>.bin`` per plane, the same pattern over its stride x height bytes. The Python, C# and
C++ codecs must encode the same values to exactly these bytes (see README.md for the order).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA = HERE.parent / "bridge.fbs"
README = HERE / "README.md"
BEGIN = "<!-- BEGIN GENERATED VALUES (make_golden.py) -->"
END = "<!-- END GENERATED VALUES -->"
IMAGE_TYPES = ("Frame", "Result", "StyleImage")  # a pixel part after the header (StyleImage: protocol 1.4)


def _load_codegen():
    spec = importlib.util.spec_from_file_location("sdbridge_codegen", HERE.parent / "codegen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def pixel_bytes(size: int) -> bytes:
    """The golden pixel pattern: byte k = (k * 37 + 11) mod 256."""
    return bytes((k * 37 + 11) & 0xFF for k in range(size))


def build(flatc: str, out: Path) -> dict[str, bytes]:
    """Return {file name: content} of every generated golden file, built in ``out``."""
    files: dict[str, bytes] = {}
    for source in sorted(HERE.glob("*.json")):
        proc = subprocess.run([flatc, "-b", "-o", str(out), str(SCHEMA), str(source)],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise SystemExit(f"flatc -b failed for {source.name}:\n{proc.stdout}{proc.stderr}")
        files[f"{source.stem}.bin"] = (out / f"{source.stem}.sdb").read_bytes()
        doc = json.loads(source.read_text(encoding="utf-8"))
        if doc["body_type"] in IMAGE_TYPES:
            body = doc["body"]
            files[f"{source.stem}.pixels.bin"] = pixel_bytes(int(body["stride"]) * int(body["height"]))
            for i, plane in enumerate(body.get("planes", ())):  # Frame.planes (protocol 1.3): parts 3, 4, ...
                files[f"{source.stem}.plane{i}.bin"] = pixel_bytes(int(plane["stride"]) * int(plane["height"]))
    return files


def values_section() -> str:
    """Markdown listing every golden message's exact field values (from the JSON sources)."""
    lines = [BEGIN, "", "| file | message | fields (absent = default) |", "|---|---|---|"]
    for source in sorted(HERE.glob("*.json")):
        doc = json.loads(source.read_text(encoding="utf-8"))
        fields = json.dumps(doc["body"], separators=(", ", ": "))
        extra = ""
        if doc["body_type"] in IMAGE_TYPES:
            size = int(doc["body"]["stride"]) * int(doc["body"]["height"])
            extra = f" + `{source.stem}.pixels.bin` ({size} bytes)"
            for i, plane in enumerate(doc["body"].get("planes", ())):
                extra += f" + `{source.stem}.plane{i}.bin` ({int(plane['stride']) * int(plane['height'])} bytes)"
        lines.append(f"| `{source.stem}.bin`{extra} | {doc['body_type']} | `{fields}` |")
    lines += ["", END]
    return "\n".join(lines)


def readme_with_values(text: str) -> str:
    """Return README text with the generated section replaced (or appended)."""
    section = values_section()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + section + tail
    return text.rstrip("\n") + "\n\n" + section + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if committed goldens are not up to date")
    parser.add_argument("--flatc", default=None)
    args = parser.parse_args(argv)
    codegen = _load_codegen()
    try:
        flatc = codegen.find_flatc(args.flatc)
    except codegen.CodegenError as exc:
        print(f"make_golden error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="sdbridge-golden-") as tmp:
        files = build(flatc, Path(tmp))
    readme_text = README.read_text(encoding="utf-8") if README.exists() else "# Golden messages\n"
    new_readme = readme_with_values(readme_text)
    if args.check:
        problems = []
        for name, content in files.items():
            path = HERE / name
            if not path.exists():
                problems.append(f"missing: schemas/golden/{name}")
            elif path.read_bytes() != content:
                problems.append(f"differs: schemas/golden/{name} (rerun make_golden.py)")
        expected = set(files)
        for path in sorted(HERE.glob("*.bin")):
            if path.name not in expected:
                problems.append(f"unexpected file: schemas/golden/{path.name} (no .json source)")
        if new_readme != readme_text:
            problems.append("differs: schemas/golden/README.md values section (rerun make_golden.py)")
        for problem in problems:
            print(f"golden check: {problem}", file=sys.stderr)
        if problems:
            print(f"golden check FAILED: {len(problems)} difference(s)", file=sys.stderr)
            return 1
        print(f"golden check OK: {len(files)} files match flatc -b output")
        return 0
    for name, content in files.items():
        (HERE / name).write_bytes(content)
    README.write_text(new_readme, encoding="utf-8")
    print(f"wrote {len(files)} golden files and the README values section")
    return 0


if __name__ == "__main__":
    sys.exit(main())
