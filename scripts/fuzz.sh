#!/usr/bin/env bash
# Long local fuzzing of the decoder and the server's message handling with atheris (coverage guided, libFuzzer).
# The bounded CI run is tests/reliability/test_fuzz.py (100,000 seeded inputs). Same checks, see
# tests/reliability/fuzz_harness.py. Usage (defaults: one hour, corpus kept in build/fuzz-corpus-TARGET):
#   bash scripts/fuzz.sh                       # -max_total_time=3600
#   bash scripts/fuzz.sh -runs=1000000         # any libFuzzer flags replace the default time limit
#   SDBRIDGE_FUZZ_TARGET=preview bash scripts/fuzz.sh   # preview page commands (default target: wire)
# A finding stops the run and leaves crash-<hash> (the input) in the current folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
"$PY" -c "import atheris" 2>/dev/null || "$PY" -m pip install -q "atheris>=2.3"
CORPUS="$ROOT/build/fuzz-corpus-${SDBRIDGE_FUZZ_TARGET:-wire}"
mkdir -p "$CORPUS"
args=("$@")
(( ${#args[@]} )) || args=(-max_total_time=3600)
exec "$PY" "$ROOT/tests/reliability/fuzz_atheris.py" "${args[@]}" -rss_limit_mb=4096 "$CORPUS"
