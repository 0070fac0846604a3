#!/usr/bin/env bash
# The prepared GPU check: one run on a machine with one NVIDIA GPU, a CUDA build of torch and no network, in at
# most 8 minutes, writing ONE report file. Not run on a GPU yet (no GPU was lent to this project so far).
#
#   bash scripts/gpu_check.sh [--report FILE]   # on the GPU machine (after: bash scripts/fetch_gpu_wheels.sh here)
#   bash scripts/gpu_check.sh --cpu             # tiny shapes on the CPU, a few frames: CI runs this so it cannot rot
#
# Parts, in this order, each in its own process under a timeout cut to what is left of the budget (GPU_CHECK_BUDGET_S,
# default 470 s): installing wheels/gpu (scripts/gpu-wheels.lock: pip --no-index --no-deps --target, a folder put
# first on PYTHONPATH), the package's imports,
# every GPU-marked test (pytest -m gpu), sd-turbo-shaped at 512x512 in float16 (1-step img2img and Stream Batch 4 steps
# with RCFG self) on eager, then the bridge end to end (sdbridge serve + BridgeClient over loopback, 200 frames),
# then CUDA graphs and torch.compile (the [accel] choices), then TensorRT and ONNX Runtime CUDA when installed (each
# skipped with the reason when not). The measuring code is sdbridge/bench/gpu_check.py. The report goes to FILE,
# else $OUT/gpu-check-<date>.md when OUT is set, else docs/gpu/report-<date>.md (--cpu: out/gpu-check-cpu.md).
# Prints "N passed, N failed" (parts) last; exits non-zero when a part failed.
set -uo pipefail
cd "$(dirname "$0")/.."

CPU=0
REPORT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu) CPU=1 ;;
        --report) REPORT="$2"; shift ;;
        *) echo "gpu_check: unknown argument $1 (use --cpu, --report FILE)" >&2; exit 2 ;;
    esac
    shift
done

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    if [ "$CPU" = 1 ] && [ -x .venv/bin/python ]; then PYTHON="$PWD/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi
export PYTHONPATH="$PWD/python_server${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
if [ -z "$REPORT" ]; then
    if [ "$CPU" = 1 ]; then REPORT="out/gpu-check-cpu.md"
    elif [ -n "${OUT:-}" ]; then REPORT="$OUT/gpu-check-$STAMP.md"
    else REPORT="docs/gpu/report-$STAMP.md"; fi
fi
mkdir -p "$(dirname "$REPORT")"
LOGDIR="$(mktemp -d)"
trap 'rm -rf "$LOGDIR"' EXIT
# the pinned wheels go to a folder of their own, first on PYTHONPATH: nothing of the machine's Python is changed
# (and an externally managed system Python, PEP 668, is no obstacle)
SITE="$LOGDIR/site"
[ "$CPU" = 0 ] && [ -d wheels/gpu ] && export PYTHONPATH="$SITE:$PYTHONPATH"
BUDGET="${GPU_CHECK_BUDGET_S:-470}"
[ "$CPU" = 1 ] && BUDGET="${GPU_CHECK_BUDGET_S:-1500}"
CPU_ARG=""
[ "$CPU" = 1 ] && CPU_ARG="--cpu"
export PYTHON REPORT LOGDIR CPU_ARG SITE
passed=0
failed=0

{
    echo "# GPU check, $STAMP"
    echo
    [ "$CPU" = 1 ] && echo "**CPU run (--cpu): tiny shapes, a few frames. It checks the script; these are not GPU figures.**" && echo
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo none)"
    echo "- $("$PYTHON" -c 'import sys, torch; print(f"python {sys.version.split()[0]}, torch {torch.__version__}, CUDA {torch.version.cuda}, cuda available: {torch.cuda.is_available()}")' 2>&1)"
    echo
} > "$REPORT"

# part NAME CAP_S CMD...: run CMD under min(CAP_S, what is left of the budget); its output goes to the log and,
# for a failure, its tail to the report.
part() {
    local name="$1" cap="$2"
    shift 2
    local left=$((BUDGET - SECONDS))
    local limit=$((cap < left ? cap : left))
    if [ "$limit" -lt 20 ]; then
        printf '## %s\n\nnot run: %s s of the %s s budget left\n\n' "$name" "$left" "$BUDGET" >> "$REPORT"
        echo "== $name: not run (budget spent)"; failed=$((failed + 1)); return
    fi
    echo "== $name (at most ${limit} s)"
    local log="$LOGDIR/part.log" start=$SECONDS rc
    # timeout signals its whole process group: the part's python children too
    timeout --kill-after=15 "$limit" bash -c '"$@"' part "$@" > "$log" 2>&1
    rc=$?
    tail -n 40 "$log"
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        local why="exit code $rc"
        [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && why="did not finish within $limit s"
        printf '## %s: FAILED (%s, after %s s)\n\n```\n%s\n```\n\n' "$name" "$why" "$((SECONDS - start))" \
            "$(tail -n 25 "$log")" >> "$REPORT"
        echo "FAILED: $name ($why)"
    fi
}

install_wheels() {
    if [ ! -d wheels/gpu ]; then
        echo "no wheels/gpu folder (bash scripts/fetch_gpu_wheels.sh fetches it): using what is installed"
        return 0
    fi
    "$PYTHON" -m pip install --quiet --no-index --no-deps --target "$SITE" --find-links wheels/gpu \
        -r scripts/gpu-wheels.lock
}

imports() {
    "$PYTHON" - "$REPORT" <<'EOF'
"""The package's imports with this machine's own torch, transformers and huggingface_hub: versions to the report."""
import importlib
import sys

import sdbridge.server  # noqa: F401  (the server and everything it imports)
import sdbridge.transport.client  # noqa: F401
from sdbridge.pipeline import shaped_presets  # noqa: F401

names = ["torch", "transformers", "huggingface_hub", "diffusers", "zmq", "flatbuffers", "numpy", "safetensors"]
found = ", ".join(f"{n} {getattr(importlib.import_module(n), '__version__', '?')}" for n in names)
with open(sys.argv[1], "a", encoding="utf-8") as report:
    report.write(f"## imports\n\n{found}\n\n")
print(found)
EOF
}

gpu_tests() {
    local files
    files=$(grep -rl --include='*.py' 'pytest.mark.gpu' tests)
    "$PYTHON" -m pytest -q -p no:cacheprovider -m gpu $files > "$LOGDIR/pytest.log" 2>&1
    local rc=$?
    printf '## pytest -m gpu\n\n`%s`\n\n' "$(tail -n 1 "$LOGDIR/pytest.log")" >> "$REPORT"
    cat "$LOGDIR/pytest.log"
    return $rc
}

measure() {
    # shellcheck disable=SC2086  # CPU_ARG is empty or one word
    "$PYTHON" -m sdbridge.bench.gpu_check $CPU_ARG --out "$REPORT" "$@"
}
export -f install_wheels imports gpu_tests measure

[ "$CPU" = 0 ] && part "install wheels/gpu" 90 install_wheels
part "imports" 60 imports
part "pytest -m gpu" 150 gpu_tests
part "eager" 120 measure --part accel --backend eager
part "the bridge end to end" 120 measure --part e2e
part "CUDA graphs" 150 measure --part accel --backend "cuda graphs"
part "torch.compile" 150 measure --part accel --backend torch.compile
part "TensorRT, ONNX Runtime CUDA" 600 measure --part engines

echo "report: $REPORT"
echo "${passed} passed, ${failed} failed"
printf -- '---\n%s passed, %s failed (parts); %s s in all\n' "$passed" "$failed" "$SECONDS" >> "$REPORT"
[ "$failed" -eq 0 ]
