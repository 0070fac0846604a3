#!/usr/bin/env bash
# Create (or reuse) a virtualenv and install streamdiffusion-bridge with its dev tools, torch pinned to 2.13.0.
# Usage: bash scripts/install.sh [--if-needed]   (VENV=path to choose the folder, default .venv)
#   --if-needed: do nothing when this venv was installed from the same pyproject.toml and install.sh and still
#   imports sdbridge and torch (scripts/demo.sh: a second run starts at once instead of asking pip again).
#
# torch==2.13.0 comes from wherever pip is configured to look (pip.conf, PIP_INDEX_URL, PIP_FIND_LINKS, ...).
# On Linux, PyPI's torch wheel is the CUDA build (several GB of CUDA libraries); the CPU-only build comes
# from https://download.pytorch.org/whl/cpu (PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu) or a
# local wheel. The last lines say which file pip took and whether torch is a CPU or CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
STAMP="$VENV/.sdbridge-install"  # what the last successful install was made from
WANT="$(cat pyproject.toml scripts/install.sh | sha256sum | cut -d' ' -f1)"
if [ "${1:-}" = "--if-needed" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ] \
    && "$VENV/bin/python" -c "import sdbridge, torch" 2>/dev/null; then
    echo "sdbridge is installed and up to date in $VENV (bash scripts/install.sh reinstalls)"
    exit 0
fi
rm -f "$STAMP"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
REPORT="$(mktemp)"
trap 'rm -f "$REPORT"' EXIT
"$VENV/bin/python" -m pip install -q --report "$REPORT" "torch==2.13.0" -e ".[dev,onnx]" 2>&1 \
    | grep -v "^WARNING: Location" || true
"$VENV/bin/python" - "$REPORT" "$VENV" <<'EOF'
"""Say where torch came from (pip's install report) and which build it is (torch itself)."""
import json
import sys
from urllib.parse import unquote, urlparse

import sdbridge
import torch

report_file, venv = sys.argv[1], sys.argv[2]
try:
    items = json.load(open(report_file, encoding="utf-8")).get("install", [])
except (OSError, ValueError):
    items = []
url = next((i.get("download_info", {}).get("url", "") for i in items
            if i.get("metadata", {}).get("name", "").lower() == "torch"), "")
if not url:
    source = "already installed in the venv (pip kept it)"
elif url.startswith("file:"):
    source = f"a local file: {unquote(urlparse(url).path)}"
elif urlparse(url).hostname == "files.pythonhosted.org":
    source = "PyPI"
else:
    source = f"the index at {urlparse(url).hostname}: {url}"
if torch.version.cuda:
    build = f"CUDA {torch.version.cuda} build"
elif getattr(torch.version, "hip", None):
    build = f"ROCm {torch.version.hip} build"
else:
    build = "CPU-only build"
print(f"torch {torch.__version__} ({build}) from {source}")
print(f"sdbridge {sdbridge.__version__} with torch {torch.__version__} in {venv}")
EOF
echo "$WANT" > "$STAMP"
