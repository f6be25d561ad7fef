#!/usr/bin/env bash
# Regenerates tests/fixtures/cprofile/ from a real cProfile run of workloads/line.py.
# PYTHON: an interpreter (the harness's env works: ~/.cache/profbench/envs/*/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
out=tests/fixtures/cprofile
mkdir -p "$out"
PROFBENCH_TRUTH="$PWD/$out/line.truth.json" "$PYTHON" -m cProfile -o "$out/line.pstats" workloads/line.py >/dev/null
