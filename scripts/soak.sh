#!/usr/bin/env bash
# Soak run, outside CI (about 12 minutes with the defaults): 10 minutes of 8 clients streaming 256x256 frames
# with a fault injected every 5 s (client killed mid-multipart, fuzz burst, a client that never reads, event
# burst, session churn), then 10 server restarts (SIGTERM/SIGKILL) under streaming clients. Prints a summary,
# writes build/reliability/soak.json, exits 1 when a check fails. What it found: RELIABILITY.md.
#   bash scripts/soak.sh                         # defaults
#   bash scripts/soak.sh --minutes 60 --model tiny --restarts 20
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"
exec "$PY" tests/reliability/soak.py "$@"
