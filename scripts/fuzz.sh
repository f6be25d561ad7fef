#!/usr/bin/env bash
# Fuzzes every output parser: one cargo-fuzz target per parser in fuzz/, each seeded
# with the real fixtures of its backend, run for N minutes one after the other.
#
#   scripts/fuzz.sh N [TARGET...]     N minutes per target (default 1); all targets by default
#
# Not part of `cargo test`. What a run finds lands in fuzz/artifacts/<target>/ (crash-*,
# timeout-*, oom-*); fix the parser, then copy the input to
# tests/fixtures/fuzz-regressions/<target>/ where profilers/tests/fuzz_regressions.rs replays
# it on every `cargo test`.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler (libFuzzer is built from
# source by libfuzzer-sys). cargo-fuzz passes nightly-only flags (-Zsanitizer, -Cpasses=...);
# on a stable toolchain RUSTC_BOOTSTRAP=1 lets stable rustc accept them. Nothing else about
# the build changes; with a nightly toolchain installed the variable is harmless.
#
# Environment:
#   FUZZ_JOBS_ARGS   extra libFuzzer flags, e.g. "-max_len=65536"
#   FUZZ_KEEP_GOING  1: keep fuzzing after a crash/timeout/OOM (libFuzzer fork mode) instead
#                    of stopping at the first one
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$root/fuzz"
fix="$root/tests/fixtures"
minutes=${1:-1}
shift || true
[[ "$minutes" =~ ^[0-9]+$ ]] || { echo "usage: $0 MINUTES [TARGET...]" >&2; exit 2; }

export RUSTC_BOOTSTRAP=1

# Seeds per target: the real fixtures of its backend (globs under tests/fixtures, or paths
# under fuzz/seeds for formats without fixtures there).
seeds() {
    case "$1" in
        cprofile | marshal) echo "$fix/checks/*.pstats $fix/yappi/*.pstat" ;;
        yappi) echo "$fix/yappi/*.pstat" ;;
        pyspy) echo "$fix/py-spy/*.txt $fix/checks/*pyspy*.txt" ;;
        austin_text) echo "$fix/austin3/*.txt" ;;
        austin_mojo) echo "$fix/austin4/*.mojo" ;;
        scalene) echo "$fix/scalene/*.json $fix/checks/single-scalene.json" ;;
        pyinstrument) echo "$fix/pyinstrument/*.json" ;;
        viztracer) echo "$fix/viztracer/*.json $fix/checks/*viztracer*.json" ;;
        memray) echo "$fix/memray/*.csv" ;;
        line_profiler) echo "$fix/line_profiler/*.json" ;;
        cpython_sampling) echo "$fix/cpython_sampling/*.txt" ;;
        profbench) echo "$fuzz/seeds/profbench/*" ;;
        custom) echo "$root/tests/faults/backends.json $fuzz/seeds/profbench/* $fix/checks/ray-cprofile.pstats" ;;
        *) echo "no seeds known for target $1" >&2; return 1 ;;
    esac
}

cd "$fuzz"
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "== building ${#targets[@]} targets (release, debug assertions and overflow checks on)"
cargo fuzz build -O -a

mkdir -p logs
summary=()
for t in "${targets[@]}"; do
    corpus="$fuzz/corpus/$t"
    mkdir -p "$corpus" "$fuzz/artifacts/$t"
    # shellcheck disable=SC2046 # the globs are meant to expand
    for f in $(seeds "$t") "$fix/fuzz-regressions/$t"/*; do
        case "$f" in *.truth.json) continue ;; esac # expected results, not profiler output
        if [ -f "$f" ]; then cp "$f" "$corpus/seed-$(basename "$f")"; fi
    done
    before=$(ls "$fuzz/artifacts/$t" | wc -l)
    flags=(-max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2048
        -malloc_limit_mb=1024 -print_final_stats=1 ${FUZZ_JOBS_ARGS:-})
    if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
        flags+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    fi
    echo "== $t: ${minutes} min, corpus $(ls "$corpus" | wc -l) inputs"
    log="$fuzz/logs/$t.log"
    status=ok
    cargo fuzz run -O -a "$t" "$corpus" -- "${flags[@]}" >"$log" 2>&1 || status=FAILED
    after=$(ls "$fuzz/artifacts/$t" | wc -l)
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    found=$((after - before))
    summary+=("$(printf '%-18s %-6s runs %-10s %-22s new artifacts %s' "$t" "$status" "${runs:-?}" "${cov:-cov: ?}" "$found")")
    echo "${summary[-1]}"
    if [ "$found" -gt 0 ]; then
        ls -t "$fuzz/artifacts/$t" | head -n "$found" | sed "s|^|    fuzz/artifacts/$t/|"
        grep -m1 -E 'panicked at|ERROR: libFuzzer' "$log" | sed 's/^/    /' || true
    fi
done

echo
echo "== summary ($minutes min per target; logs in fuzz/logs/)"
printf '%s\n' "${summary[@]}"
