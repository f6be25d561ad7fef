#!/usr/bin/env bash
# The reference run published in results/reference: one run folder filled by several matrix
# invocations (--resume adds cells to the same folder). Run on a quiet machine; about 80 min
# on 2 cores. Ordered so that the cells the README leans on most come first.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/reference}
cargo build --release
B=target/release/profbench
# profbench beside py-spy on the article's two programs, 6 pairs (axis 7 needs a 95% interval).
$B matrix --workloads single,ray --backends profbench,py-spy --runs 6 --out "$OUT"
# Known CPU split, function bias, actionability and the fixed/running cost split.
$B matrix --workloads calibrated --backends profbench,py-spy,cprofile,pyinstrument,yappi-wall \
  --runs 6 --lengths 1,3 --out "$OUT" --resume
# profbench on every workload under both launchers (a quick look: 2 pairs).
$B matrix --backends profbench --launchers direct,uv --quick --out "$OUT" --resume
# Every backend on the article's single-process program, 6 pairs.
$B matrix --workloads single --runs 6 --out "$OUT" --resume
