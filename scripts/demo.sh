#!/usr/bin/env bash
# Quick start 1: install, then run the demo (writes input|output PNG pairs to out/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --if-needed  # installs only when missing or outdated
exec "${VENV:-.venv}/bin/sdbridge" demo "$@"
