#!/usr/bin/env bash
# Download the wheels the GPU check needs beyond torch (scripts/gpu-wheels.lock: exact versions and sha256) for
# CPython 3.12 on manylinux x86_64 into wheels/gpu/ (ignored by git), so that scripts/gpu_check.sh can install them
# on a GPU machine without network: `pip install --no-index --no-deps --find-links wheels/gpu -r scripts/gpu-wheels.lock`.
# Usage: bash scripts/fetch_gpu_wheels.sh [DEST]   (default wheels/gpu; PYTHON picks the pip, default .venv/bin/python)
# Fails when a file's hash differs from the lock or the wheels exceed 60 MiB in all.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-wheels/gpu}"
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
LIMIT_KIB=$((60 * 1024))
mkdir -p "$DEST"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_26_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux_2_5_x86_64 manylinux1_x86_64 any; do
    platforms+=(--platform "$p")
done
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
    --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none "${platforms[@]}" \
    -d "$DEST" -r scripts/gpu-wheels.lock 2>&1 | grep -v "^WARNING: Location" || true
wanted=$(grep -c '^[A-Za-z]' scripts/gpu-wheels.lock)
got=$(find "$DEST" -maxdepth 1 -name '*.whl' | wc -l)
size_kib=$(du -sk "$DEST" | cut -f1)
echo "fetch_gpu_wheels: $got wheel(s) for $wanted lock entries in $DEST, ${size_kib} KiB (limit ${LIMIT_KIB} KiB)"
if [ "$got" -lt "$wanted" ]; then
    echo "fetch_gpu_wheels: missing wheels; pip's messages above name them (no network to PyPI?)" >&2
    exit 1
fi
if [ "$size_kib" -gt "$LIMIT_KIB" ]; then
    echo "fetch_gpu_wheels: ${size_kib} KiB is over the ${LIMIT_KIB} KiB a device run can carry; trim scripts/gpu-wheels.lock" >&2
    exit 1
fi
