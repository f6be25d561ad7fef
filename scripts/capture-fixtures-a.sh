#!/usr/bin/env bash
# Regenerates the parser fixtures of the py-spy, Austin 3/4, Scalene and pyinstrument adapters
# from REAL runs of workloads/line.py, plus the real failure texts their classify() tests use.
#
#   PEERS=/tmp/pbpeers-a AUSTIN3=/tmp/pbaustin3 AUSTIN4=/tmp/pbaustin4 scripts/capture-fixtures-a.sh
#
# PEERS    venv with py-spy==0.4.3 scalene==2.4.0 pyinstrument==5.1.3 uv (and numpy pandas)
# AUSTIN3  venv with austin-dist==3.7.0;  AUSTIN4: venv with austin-dist==4.0.0
# AUSTIN4_BIN  austin 4 binary to use instead of $AUSTIN4/bin/austin. The manylinux wheel of
#          austin-dist 4.0.0 is tagged manylinux_2_12 but needs GLIBC_2.38; on an older glibc
#          (Debian 12: 2.36) this script falls back to the musllinux wheel's binary, run
#          through Debian's `musl` package (apt-get install musl), when that loader exists.
# Sampling runs at 100 Hz (10 ms), the rate of the backend rows, which keeps files small.
# Needs root for the permission-denied texts (it drops to `nobody` with setpriv).
set -euo pipefail

PEERS=${PEERS:-/tmp/pbpeers-a}
AUSTIN3=${AUSTIN3:-/tmp/pbaustin3}
AUSTIN4=${AUSTIN4:-/tmp/pbaustin4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$ROOT/workloads/line.py
FX=$ROOT/tests/fixtures
PY=$PEERS/bin/python
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The `uv` launcher exactly as the harness builds it: uv run --project DIR python.
mkdir -p "$TMP/uvproj"
printf '[project]\nname = "profbench-workloads"\nversion = "0.0.0"\nrequires-python = ">=3.8"\ndependencies = []\n' > "$TMP/uvproj/pyproject.toml"
export UV_PROJECT_ENVIRONMENT=$PEERS UV_CACHE_DIR=$TMP/uv-cache UV_NO_SYNC=1 UV_OFFLINE=1
UVPY=("$PEERS/bin/uv" run --project "$TMP/uvproj" python)

# A tiny non-Python target and a non-dumpable Python for the permission texts.
cat > "$TMP/nodump.py" <<'EOF'
import ctypes, time
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: only CAP_SYS_PTRACE may read us
t = time.time()
while time.time() - t < 2:
    pass
EOF
chmod 755 "$TMP"; chmod 644 "$TMP/nodump.py"
mkdir -m 777 "$TMP/nobody"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all "$@"; }
# An idle root-owned python to attach to (attach texts: what a non-root user sees).
sleeper() { "$PY" -c 'import time; time.sleep(8)' > /dev/null 2>&1 & echo $!; }

say() { echo "== $*" >&2; }

# ---------------------------------------------------------------- py-spy
D=$FX/py-spy; mkdir -p "$D/errors"
PS=$PEERS/bin/py-spy
common=(record --format raw --rate 100 --threads --full-filenames)
say py-spy direct;       "$PS" "${common[@]}" --idle --subprocesses -o "$D/line-direct.txt" -- "$PY" "$W" > "$D/line-direct.stdout"
say py-spy cpu;          "$PS" "${common[@]}" --subprocesses -o "$D/line-cpu.txt" -- "$PY" "$W" > /dev/null
say py-spy nonblocking;  "$PS" "${common[@]}" --idle --subprocesses --nonblocking -o "$D/line-nonblocking.txt" -- "$PY" "$W" > /dev/null
# tests/fixtures/py-spy/line-uv-probe-only.{txt,stdout} is NOT regenerated here: it is kept
# from a real run (2026-11-25) where, under `uv run` with a cold uv cache, py-spy
# --subprocesses followed uv's short-lived interpreter probe (`python -I -B -c ...
# get_interpreter_info`) and stopped when it exited: 3 samples, rc 0, workload unseen. It
# happened in 3 of ~15 uv runs on a loaded 2-core machine and cannot be forced.
"${UVPY[@]}" -c pass  # warm the cache
say py-spy uv+sub warm;  "$PS" "${common[@]}" --idle --subprocesses -o "$D/line-uv-subprocesses.txt" -- "${UVPY[@]}" "$W" > /dev/null
say py-spy uv nosub;     "$PS" "${common[@]}" --idle -o "$TMP/x.txt" -- "${UVPY[@]}" "$W" > /dev/null 2> "$D/errors/uv-nosubprocesses.txt" || true
say py-spy non-python;   "$PS" "${common[@]}" -o "$TMP/x.txt" -- /bin/sleep 1 > /dev/null 2> "$D/errors/non-python-target.txt" || true
say py-spy missing exe;  "$PS" "${common[@]}" -o "$TMP/x.txt" -- /nonexistent/python x.py > /dev/null 2> "$D/errors/missing-python.txt" || true
if command -v setpriv > /dev/null && [ -x /usr/bin/python3 ] && [ "$(id -u)" = 0 ]; then
  cp "$PS" "$TMP/py-spy"; chmod 755 "$TMP/py-spy"
  say py-spy permission
  # Launching a non-dumpable python races (py-spy may read it before prctl); attaching to a
  # root-owned python as `nobody` always gives py-spy's permission text.
  pid=$(sleeper); sleep 0.5
  as_nobody "$TMP/py-spy" record --format raw -d 1 -o "$TMP/nobody/x.txt" -p "$pid" > "$D/errors/permission-denied.txt" 2>&1 || true
  kill "$pid" 2>/dev/null || true
  as_nobody "$TMP/py-spy" record --format raw -o "$TMP/nobody/x.txt" -- /usr/bin/python3 "$TMP/nodump.py" > "$D/errors/launch-nondumpable.txt" 2>&1 || true
fi

# ---------------------------------------------------------------- Austin
AUSTIN4_BIN=${AUSTIN4_BIN:-$AUSTIN4/bin/austin}
if ! "$AUSTIN4_BIN" -V > /dev/null 2> "$TMP/a4.err"; then
  mkdir -p "$FX/austin4/errors"; cp "$TMP/a4.err" "$FX/austin4/errors/glibc-too-old.txt"
  if [ -e /lib/ld-musl-x86_64.so.1 ]; then
    say "austin 4 glibc binary does not run here; using the musllinux wheel's binary"
    "$PEERS/bin/pip" download -q --no-deps --only-binary=:all: --platform musllinux_1_1_x86_64 austin-dist==4.0.0 -d "$TMP/a4whl"
    (cd "$TMP/a4whl" && "$PY" -m zipfile -e ./*.whl x)
    AUSTIN4_BIN=$(find "$TMP/a4whl/x" -name austin -type f); chmod 755 "$AUSTIN4_BIN"
  else
    echo "austin 4 cannot run here: install musl (apt-get install musl) or set AUSTIN4_BIN" >&2; exit 1
  fi
fi
for v in 3 4; do
  D=$FX/austin$v; mkdir -p "$D/errors"
  if [ $v = 3 ]; then A=$AUSTIN3/bin/austin; cpu=-s; ext=txt; else A=$AUSTIN4_BIN; cpu=-c; ext=mojo; fi
  say austin $v wall; "$A" -C -i 10000 -o "$D/line-wall.$ext" "$PY" "$W" > /dev/null 2> "$D/line-wall.stderr"
  say austin $v cpu;  "$A" -C -i 10000 $cpu -o "$D/line-cpu.$ext" "$PY" "$W" > /dev/null 2>/dev/null
  # Under the uv launcher with -C (warm cache): Austin finds the python child late or barely;
  # the content varies from run to run.
  say austin $v uv -C; "$A" -C -i 10000 -o "$D/line-uv-children.$ext" "${UVPY[@]}" "$W" > /dev/null 2>&1 || true
  say austin $v uv;   "$A" -i 10000 -o "$TMP/x.$ext" "${UVPY[@]}" "$W" > /dev/null 2> "$D/errors/uv-no-children.txt" || true
  say austin $v non-python; "$A" -i 10000 -o "$TMP/x.$ext" /bin/sleep 1 > /dev/null 2> "$D/errors/non-python-target.txt" || true
  say austin $v missing exe; "$A" -i 10000 -o "$TMP/x.$ext" /nonexistent/python x.py > /dev/null 2> "$D/errors/missing-python.txt" || true
  if command -v setpriv > /dev/null && [ "$(id -u)" = 0 ]; then
    cp "$A" "$TMP/austin$v"; chmod 755 "$TMP/austin$v"
    pid=$(sleeper); sleep 0.5
    say austin $v attach as nobody
    as_nobody "$TMP/austin$v" -x 1 -o "$TMP/nobody/a.out" -p "$pid" > /dev/null 2> "$D/errors/attach-not-permitted.txt" || true
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    as_nobody "$TMP/austin$v" -o "$TMP/unwritable.out" /usr/bin/python3 -c 1 > "$D/errors/output-not-writable.txt" 2>&1 || true
    # austin 4.0.0 exits without a word here: keep the file only when it said something.
    [ -s "$D/errors/output-not-writable.txt" ] || rm -f "$D/errors/output-not-writable.txt"
  fi
done

# ---------------------------------------------------------------- Scalene
D=$FX/scalene; mkdir -p "$D/errors"
# Scalene 2.x writes combined_stacks (native+Python stacks) and combined_stacks_timeline,
# which the adapter does not read; they are dropped from the fixtures only, to stay small.
prune() { "$PY" - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("combined_stacks", "combined_stacks_timeline"):
    d.pop(k, None)
json.dump(d, open(sys.argv[2], "w"))
EOF
}
say scalene full; "$PY" -m scalene run -o "$TMP/sf.json" "$W" > /dev/null; prune "$TMP/sf.json" "$D/line-full.json"
say scalene cpu;  "$PY" -m scalene run --cpu-only -o "$TMP/sc.json" "$W" > /dev/null; prune "$TMP/sc.json" "$D/line-cpu-only.json"
say scalene missing script; "$PY" -m scalene run -o "$TMP/x.json" "$TMP/missing.py" > "$D/errors/missing-script.txt" 2>&1 || true
say scalene not installed; "$AUSTIN3/bin/python" -m scalene run -o "$TMP/x.json" "$W" > "$D/errors/not-installed.txt" 2>&1 || true

# ---------------------------------------------------------------- pyinstrument
D=$FX/pyinstrument; mkdir -p "$D/errors"
say pyinstrument; "$PY" -m pyinstrument -r json -o "$D/line.json" "$W" > /dev/null
say pyinstrument missing script; "$PY" -m pyinstrument -r json -o "$TMP/x.json" "$TMP/missing.py" > "$D/errors/missing-script.txt" 2>&1 || true

du -b "$FX"/{py-spy,austin3,austin4,scalene,pyinstrument}/* | sort -k2 >&2
