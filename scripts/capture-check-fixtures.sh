#!/usr/bin/env bash
# Regenerates tests/fixtures/checks/: REAL outputs of the `single`, `line` and `ray` workloads
# under a few backends, with the truth file of each run, for the capability-check tests
# (harness/checks.rs). Every file comes from a real run; big outputs are trimmed as noted.
#
#   ENV=/root/.cache/profbench/envs/<id> PEERS_A=/tmp/pbpeers-a PEERS_B=/tmp/pbpeers-b \
#     scripts/capture-check-fixtures.sh
#
# ENV      the profbench Python env (numpy, pandas, ray 2.60, py-spy 0.4.3); viztracer 1.1.1
#          is taken from PEERS_B (/tmp/pbpeers-b) through PYTHONPATH when ENV lacks it
# PEERS_A  venv with py-spy==0.4.3 scalene==2.4.0 (and numpy)
# Ray runs get their own RAY_TMPDIR; the script fails if a raylet/gcs_server is left behind.
set -euo pipefail

ENV=${ENV:-$(ls -d /root/.cache/profbench/envs/*/ | head -1)}
PEERS_A=${PEERS_A:-/tmp/pbpeers-a}
PEERS_B=${PEERS_B:-/tmp/pbpeers-b}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WL=$ROOT/workloads
D=$ROOT/tests/fixtures/checks
PY=$ENV/bin/python
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$D"
say() { echo "== $*" >&2; }
now() { date +%s.%N; }
WALLS=$TMP/walls.txt
: > "$WALLS"

# The sources as captured: axis 4 finds its lines by text in them, and the line numbers in
# the outputs below are those of these copies.
mkdir -p "$D/src"
cp "$WL/single.py" "$WL/line.py" "$D/src/"

# ---------------------------------------------------------------- single
say single cProfile
PROFBENCH_TRUTH=$D/single-cprofile.truth.json "$PY" -m cProfile -o "$D/single-cprofile.pstats" "$WL/single.py" > /dev/null
say single py-spy wall
PROFBENCH_TRUTH=$D/single-pyspy.truth.json "$ENV/bin/py-spy" record --format raw --rate 100 \
  --threads --full-filenames --idle -o "$D/single-pyspy.txt" -- "$PY" "$WL/single.py" > /dev/null
say single py-spy cpu
PROFBENCH_TRUTH=$D/single-pyspy-cpu.truth.json "$ENV/bin/py-spy" record --format raw --rate 100 \
  --threads --full-filenames -o "$D/single-pyspy-cpu.txt" -- "$PY" "$WL/single.py" > /dev/null
say single scalene
PROFBENCH_TRUTH=$D/single-scalene.truth.json "$PEERS_A/bin/python" -m scalene run -o "$TMP/scalene.json" \
  "$WL/single.py" > /dev/null 2>&1
# Scalene's JSON is ~2.6 MB: keep the line table of single.py only and drop the native
# combined stacks (the adapter reads `files`, `stacks`, memory fields and elapsed time).
"$PY" - "$TMP/scalene.json" "$D/single-scalene.json" <<'EOF2'
import json, sys
d = json.load(open(sys.argv[1]))
d["files"] = {k: v for k, v in d["files"].items() if k.endswith("single.py")}
for k in ("combined_stacks", "combined_stacks_timeline"):
    d[k] = []
json.dump(d, open(sys.argv[2], "w"))
EOF2
say single memory truth
PROFBENCH_TRUTH=$D/single-memory.truth.json PROFBENCH_MEMORY_TRUTH=1 "$PY" "$WL/single.py" > /dev/null
say line truth
PROFBENCH_TRUTH=$D/line.truth.json "$PY" "$WL/line.py" > /dev/null

# ---------------------------------------------------------------- ray
ray_run() { # name, then the command; records the driver's wall seconds
  local name=$1; shift
  export RAY_TMPDIR
  RAY_TMPDIR=$(mktemp -d /tmp/pbr.XXXX)
  say "ray $name"
  local t0; t0=$(now)
  "$@" > "$TMP/$name.out" 2>&1 || { tail -20 "$TMP/$name.out" >&2; echo "ray $name failed" >&2; exit 1; }
  echo "$name $(echo "$(now) - $t0" | bc)" >> "$WALLS"
  sleep 2
  if pgrep -f "$RAY_TMPDIR" > /dev/null; then echo "ray processes left behind for $RAY_TMPDIR" >&2; exit 1; fi
  rm -rf "$RAY_TMPDIR"
}
rm -f "$D"/ray-*.truth.json*  # task lines are appended: start clean

ray_run baseline env PROFBENCH_TRUTH=$TMP/ray-base.truth.json "$PY" "$WL/ray_workload.py"

# cProfile traces the driver only; its pstats (all of Ray's imports) is trimmed to the
# entries of the workload, Ray's serialization/object-store code, pickle and builtins.
ray_run cprofile env PROFBENCH_TRUTH=$D/ray-cprofile.truth.json "$PY" -m cProfile -o "$TMP/ray.pstats" "$WL/ray_workload.py"
"$PY" - "$TMP/ray.pstats" "$D/ray-cprofile.pstats" <<'EOF'
import marshal, sys
stats = marshal.load(open(sys.argv[1], "rb"))
keep = ("workloads/", "ray/_private/serialization.py", "ray/_private/worker.py", "pickle", "~")
def kept(k):
    return any(s in k[0] for s in keep)
out = {}
for k, (cc, nc, tt, ct, callers) in stats.items():
    if kept(k):
        out[k] = (cc, nc, tt, ct, {c: v for c, v in callers.items() if kept(c)})
marshal.dump(out, open(sys.argv[2], "wb"))
EOF

# py-spy follows the raylet's workers (--subprocesses) at 20 Hz. Its raw file (~8 MB: every
# Ray daemon is sampled too) is trimmed to the samples whose stack holds a remote function
# or Ray's serialization code, less those under SerializationContext.__init__ (workers
# setting up serializers: imports, not data), each process frame's command line cut to 100
# characters (a label; the adapter reads only the pid).
ray_run pyspy env PROFBENCH_TRUTH=$D/ray-pyspy.truth.json "$ENV/bin/py-spy" record --format raw --rate 20 \
  --threads --full-filenames --idle --subprocesses -o "$TMP/ray-pyspy.txt" -- "$PY" "$WL/ray_workload.py"
"$PY" - "$TMP/ray-pyspy.txt" "$D/ray-pyspy.txt" <<'EOF2'
import re, sys
keep = re.compile(r"parallel_heavy_loop|parallel_io_bound|process_large_data|ray/_private/serialization\.py")
out = []
for line in open(sys.argv[1]):
    stack = re.sub(r'process \d+:"[^"]*";?', "", line)
    if keep.search(stack) and "SerializationContext.__init__" not in stack:
        out.append(re.sub(r'(process \d+:")([^"]{0,100})[^"]*"', r'\1\2"', line))
open(sys.argv[2], "w").writelines(out)
EOF2

# VizTracer on the driver, limited to the workloads folder (--include_files, so the trace
# stays small) without C calls. Ray workers are started by the raylet, not by the traced
# driver, so they are not traced: the real shape of what `python -m viztracer` gives on Ray.
# (Tracing the workers through a sitecustomize that starts a VizTracer in default_worker.py
# was tried: the workers end with a quick exit (no atexit), and even saved after each task
# their traces held no events, most likely because tasks run on a thread the tracer started
# at import does not follow.)
# Only viztracer and its dependency objprint go on PYTHONPATH (not PEERS_B's numpy).
mkdir -p "$TMP/vizpath"
ln -s "$PEERS_B/lib/python3.11/site-packages/viztracer" "$PEERS_B/lib/python3.11/site-packages/objprint" "$TMP/vizpath/"
ray_run viztracer env PYTHONPATH=$TMP/vizpath PROFBENCH_TRUTH=$D/ray-viztracer-driver.truth.json \
  "$PY" -m viztracer --quiet --include_files "$WL" --ignore_c_function -o "$D/ray-viztracer-driver.json" \
  -- "$WL/ray_workload.py"

# Driver wall seconds of each run, appended to the rounds already in ray-walls.json (index i
# of every list is capture round i; axis 7 uses each run's ratio to its round's baseline).
# The machine is shared, so rounds differ: the first two gave baselines of 35 s and 55 s.
"$PY" - "$WALLS" "$D/ray-walls.json" <<'EOF'
import json, os, sys
walls = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else {}
for line in open(sys.argv[1]):
    name, s = line.split()
    walls.setdefault(name, []).append(float(s))
json.dump(walls, open(sys.argv[2], "w"), indent=1)
EOF
# Truth files name their tasks file by absolute path; the tests read the .tasks.jsonl beside.
ls -la "$D" >&2
