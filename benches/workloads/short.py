"""Short bench workload for `cargo bench --bench overhead` (~0.5 s without a profiler).

The matrix's workloads run for 2-10 s each; criterion wants ~12 runs per backend and there are
~24 backends, so `cargo bench` measures this short program instead (the arithmetic is in
benches/overhead.rs). Three phases, each a different kind of cost for a profiler:

- compute: a pure-Python loop with no calls (cheap for tracers, the base rate for samplers);
- calls:   recursive fib(25), 242,785 Python calls (what tracers pay per call for);
- sleep:   0.1 s of waiting (wall vs CPU clocks).

Fixed amounts of work (never calibrated), so a profiled run does exactly the baseline's work.
Truth markers as in workloads/ (PROFBENCH_TRUTH=/path/truth.json writes the truth there).
"""
# profbench: phases=compute,calls,sleep
import os
import sys
import time

try:
    import truth
except ImportError:
    # truth.py lives in the repository's workloads/ folder, two levels up from this script.
    # Some profilers run the script in their own globals (yappi: __file__ is yappi.py), so
    # sys.argv[0] and sys.path[0] (the script's folder) are tried too.
    for _start in (globals().get("__file__"), sys.argv[0], sys.path[0] + "/x"):
        if not _start:
            continue
        _dir = os.path.join(os.path.dirname(os.path.abspath(_start)), "..", "..", "workloads")
        if os.path.exists(os.path.join(_dir, "truth.py")):
            sys.path.insert(0, os.path.normpath(_dir))
            break
    import truth

COMPUTE_ITERATIONS = 1_000_000
FIB_N = 25
SLEEP_S = 0.1


def compute(n=COMPUTE_ITERATIONS):
    """The calibrated workload's loop body: small ints only, no calls."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


def fib(n):
    """One Python call per node: fib(25) makes 242,785 calls (as in single.py)."""
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def sleep(seconds=SLEEP_S):
    time.sleep(seconds)


def main():
    with truth.phase("compute", compute):
        compute()
    with truth.phase("calls", fib):
        fib(FIB_N)
    with truth.phase("sleep", sleep):
        sleep()


if __name__ == "__main__":
    main()
