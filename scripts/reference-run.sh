#!/usr/bin/env bash
# The complete reference run: every backend on the article's two programs (single, ray) and on
# line and library, under both launchers, 6 pairs each where the budget allows; then the
# calibrated cost split and actionability; then the reports (comparison.md, readme-table.md).
#
#   scripts/reference-run.sh [FOLDER]      (default: results/<today>-reference)
#   BUDGET=3h scripts/reference-run.sh     (default budget: 6h; `none` for no limit)
#
# Run it on a quiet machine. Every backend at 6 pairs is about six times the default matrix
# (about 6 h on 2 cores). Run it again with the same FOLDER to go on where a budget or Ctrl-C
# stopped it: finished cells are kept, cut-short cells get their missing pairs.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/$(date +%F)-reference}
BUDGET=${BUDGET:-6h}
cargo build --release
B=target/release/profbench
resume=()
if [ -d "$OUT/cells" ]; then
  resume=(--resume)
fi
$B matrix --workloads single,line,library,ray --runs 6 --budget "$BUDGET" --out "$OUT" "${resume[@]}"
# Known CPU split, function bias, actionability and the fixed/running cost split.
$B matrix --workloads calibrated --launchers direct --runs 6 --lengths 1,3 --budget none \
  --backends profbench,py-spy,cprofile,pyinstrument,yappi-wall --out "$OUT" --resume
$B report "$OUT"
