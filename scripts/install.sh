#!/usr/bin/env bash
# Create (or reuse) a virtualenv and install streamdiffusion-bridge with its dev tools, CPU torch pinned.
# Usage: bash scripts/install.sh   (VENV=path to choose the folder, default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
# torch==2.13.0: the CPU build; an unpinned torch would pull several GB of CUDA wheels.
"$VENV/bin/python" -m pip install -q "torch==2.13.0" -e ".[dev,onnx]" 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -c "import sdbridge, torch; print(f'sdbridge {sdbridge.__version__} with torch {torch.__version__} in $VENV')"
