#!/usr/bin/env bash
# Regenerates the parser fixtures of the viztracer, yappi, memray and line_profiler adapters
# from real runs on workloads/line.py (memray also on single.py, whose allocation phase is the
# memory check), plus the failure texts their classify() tests read.
#
#   VENV=/tmp/pbpeers-b scripts/capture-fixtures-b.sh
#
# The venv needs: viztracer==1.1.1 yappi==1.7.6 memray==1.20.0 line-profiler==5.1.0 numpy.
# cpython-sampling has no real fixture: it needs Python >= 3.15 (its fixture is hand-made,
# derived from CPython's documentation and source; see tests/fixtures/cpython_sampling/).
set -euo pipefail

VENV=${VENV:-/tmp/pbpeers-b}
PY="$VENV/bin/python"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIX="$ROOT/tests/fixtures"
LINE="$ROOT/workloads/line.py"
SINGLE="$ROOT/workloads/single.py"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$FIX"/{viztracer,yappi,memray,line_profiler}/errors
cd "$WORK"

echo "viztracer (line)"
"$PY" -m viztracer --quiet -o "$WORK/viztracer.json" -- "$LINE" > /dev/null
cp "$WORK/viztracer.json" "$FIX/viztracer/line.json"

echo "yappi wall + cpu (line)"
for clock in wall cpu; do
  "$PY" -m yappi -c "$clock" -f pstat -o "$WORK/yappi-$clock.pstat" "$LINE" > /dev/null
  cp "$WORK/yappi-$clock.pstat" "$FIX/yappi/line-$clock.pstat"
done

echo "memray (line, single)"
for w in line single; do
  "$PY" -m memray run -q -f -o "$WORK/$w.bin" "$ROOT/workloads/$w.py" > /dev/null
  "$PY" -m memray transform csv -f -o "$WORK/$w-peak.csv" "$WORK/$w.bin" > /dev/null
  if [ "$w" = single ]; then
    # single's full csv is ~1.2 MB (deep import stacks): keep the header and the 40 largest
    # rows, which hold >99% of the peak bytes (labelled by the file name).
    { head -1 "$WORK/$w-peak.csv"; tail -n +2 "$WORK/$w-peak.csv" | sort -t, -k3,3nr | awk 'NR <= 40'; } > "$FIX/memray/single-peak-top40.csv"
  else
    cp "$WORK/$w-peak.csv" "$FIX/memray/$w-peak.csv"
  fi
  # memray's own peak, to check that the csv rows add up to it.
  "$PY" -m memray stats --json -f -o "$FIX/memray/$w-stats.json" "$WORK/$w.bin" > /dev/null
done

echo "line_profiler (line)"
"$PY" -m kernprof -l -p "$LINE" -o "$WORK/lp.lprof" "$LINE" > /dev/null
cp "$WORK/lp.lprof" "$FIX/line_profiler/line.lprof"
# The adapter's post-processing step (line_profiler.rs, DUMP_SCRIPT), verbatim.
DUMP_SCRIPT=$(sed -n '/^pub const DUMP_SCRIPT/,/";$/p' "$ROOT/profilers/line_profiler.rs" \
  | sed -e '1s/^pub const DUMP_SCRIPT: &str = "//' -e '$s/";$//' -e 's/\\n\\$//' -e 's/\\n$//')
"$PY" -c "$DUMP_SCRIPT" "$WORK/lp.lprof" "$FIX/line_profiler/line.json"
# The report a user reads, kept beside it for reference.
"$PY" -m line_profiler "$WORK/lp.lprof" > "$FIX/line_profiler/line.txt"

echo "failure texts"
printf 'def f():\n    raise ValueError("boom")\nf()\n' > crash.py
printf 'print("ok")\n' > ok.py
MISSING="$WORK/no-such-workload.py"
NODIR="$WORK/no-such-dir"
cap() { # cap FILE CMD...: stdout+stderr of a failing command
  local out=$1; shift
  # Some tools exit 0 even then (viztracer when it cannot write its trace): say so.
  if "$@" > "$out" 2>&1; then echo "  note: exit status 0: ${out#$FIX/}"; fi
  # temp paths differ per run; keep the fixtures stable
  sed -i "s#$WORK#/tmp/work#g" "$out"
}
cap "$FIX/viztracer/errors/missing-script.txt" "$PY" -m viztracer --quiet -o "$WORK/v.json" -- "$MISSING"
cap "$FIX/viztracer/errors/output-dir-missing.txt" "$PY" -m viztracer --quiet -o "$NODIR/v.json" -- ok.py
cap "$FIX/viztracer/errors/workload-crash.txt" "$PY" -m viztracer --quiet -o "$WORK/v.json" -- crash.py
cap "$FIX/yappi/errors/missing-script.txt" "$PY" -m yappi -c wall -f pstat -o "$WORK/y.pstat" "$MISSING"
cap "$FIX/yappi/errors/output-dir-missing.txt" "$PY" -m yappi -c wall -f pstat -o "$NODIR/y.pstat" ok.py
cap "$FIX/yappi/errors/workload-crash.txt" "$PY" -m yappi -c wall -f pstat -o "$WORK/y.pstat" crash.py
cap "$FIX/yappi/errors/not-installed.txt" python3 -I -c 'import runpy; runpy.run_module("yappi_not_here", run_name="__main__")'
cap "$FIX/memray/errors/missing-script.txt" "$PY" -m memray run -q -f -o "$WORK/m.bin" "$MISSING"
cap "$FIX/memray/errors/output-dir-missing.txt" "$PY" -m memray run -q -f -o "$NODIR/m.bin" ok.py
cap "$FIX/memray/errors/transform-no-capture.txt" "$PY" -m memray transform csv -f -o "$WORK/m.csv" "$WORK/none.bin"
cap "$FIX/memray/errors/workload-crash.txt" "$PY" -m memray run -q -f -o "$WORK/m.bin" crash.py
cap "$FIX/line_profiler/errors/missing-script.txt" "$PY" -m kernprof -l -p "$MISSING" -o "$WORK/l.lprof" "$MISSING"
cap "$FIX/line_profiler/errors/output-dir-missing.txt" "$PY" -m kernprof -l -p ok.py -o "$NODIR/l.lprof" ok.py
cap "$FIX/line_profiler/errors/dump-no-lprof.txt" "$PY" -c "$DUMP_SCRIPT" "$WORK/none.lprof" "$WORK/none.json"
cap "$FIX/line_profiler/errors/workload-crash.txt" "$PY" -m kernprof -l -p crash.py -o "$WORK/l.lprof" crash.py
mkdir -p "$FIX/cpython_sampling/errors"
cap "$FIX/cpython_sampling/errors/python-3.11.txt" "$PY" -m profiling.sampling run --collapsed -o "$WORK/c.txt" crash.py

du -sh "$FIX"/{viztracer,yappi,memray,line_profiler}/* | sort -h | tail -20
