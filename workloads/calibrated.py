"""Calibrated workload: a known CPU split (50/30/20) and a function-bias pair.

calibrated_a, calibrated_b and calibrated_c run the same pure-Python integer loop (no I/O, no
allocation beyond small ints), for iteration counts in the ratio 50:30:20 sized from a
calibration made at start, outside every phase: the thread CPU of a short run of the same loop
in _calibration_unit(), the minimum of several runs (the machine may be shared), so that the
three take ~2 s together. Because the loop body is identical, their CPU split follows from the
iteration counts whatever the calibration's error; the truth records what they really took.

Function bias (the Scalene paper, OSDI'23, section 6.2): inline_work does the loop's arithmetic
inline, many_calls does the same arithmetic for the same number of iterations as one call of
the tiny function _step() per iteration. The truth tells how much slower call-heavy code really
is (many_calls wall / inline_work wall, same iterations); a tracing profiler that adds cost per
call over-charges many_calls beyond that.

The iteration counts are fixed by default (sized with REFERENCE_NS, the cost per iteration
measured on the reference machine), so a profiled run does exactly the baseline's work and
overhead ratios stay meaningful; the 50/30/20 split holds by construction (one loop body),
and each run's truth measures the real split anyway.

Environment (all optional; unset for ordinary runs):
    PROFBENCH_CALIBRATE=1               size the phases from a calibration on this machine
                                        instead (never under a profiler: it slows the
                                        calibration loop itself and the work would shrink).
    PROFBENCH_CALIBRATION_NS=120.5      use this CPU cost per loop iteration (ns) instead;
                                        the value used is printed.
    PROFBENCH_PERTURB=calibrated_c:0.4  actionability: add that many seconds of loop iterations
                                        (at the calibrated cost) to that phase only.
    PROFBENCH_SCALE=3                   multiply every phase's iterations (the matrix's
                                        --lengths: a profiler's fixed and running cost).
"""
# profbench: phases=calibrated_a,calibrated_b,calibrated_c,inline_work,many_calls
# profbench: scalable
# profbench: perturb=calibrated_c:0.4
# profbench: bias=inline_work,many_calls
import os
import sys
import time

try:
    import truth
except ImportError:  # this script's folder is not on sys.path (e.g. run through runpy.run_path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import truth

TOTAL_S = 2.0                 # CPU seconds of calibrated_a + calibrated_b + calibrated_c
REFERENCE_NS = 120.0          # CPU ns per loop iteration on the reference machine (quiet)
SPLIT = (("calibrated_a", 0.50), ("calibrated_b", 0.30), ("calibrated_c", 0.20))
BIAS_S = 0.3                  # CPU seconds of inline_work; many_calls runs as many iterations
CAL_ITERATIONS = 100_000      # one calibration run: ~10 ms at 100 ns per iteration
CAL_REPEATS = 7


# The same loop body in every function below: x stays below 2**16, no allocation but small ints.

def _calibration_unit(n):
    """Calibration only (outside every phase): the loop the phase functions run."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


def calibrated_a(n):
    """50% of the calibrated CPU."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


def calibrated_b(n):
    """30% of the calibrated CPU."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


def calibrated_c(n):
    """20% of the calibrated CPU."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


def inline_work(n):
    """Function bias, inline: the arithmetic written in the loop."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


def _step(x, i):
    return (x * 31 + i) & 0xFFFF


def many_calls(n):
    """Function bias, call-heavy: the same arithmetic as n calls of _step()."""
    x = 0
    for i in range(n):
        x = _step(x, i)
    return x


def calibrate():
    """CPU ns per loop iteration: the minimum over short runs (least disturbed by neighbours)."""
    pinned = os.environ.get("PROFBENCH_CALIBRATION_NS")
    if pinned:
        return float(pinned), "pinned by PROFBENCH_CALIBRATION_NS"
    if os.environ.get("PROFBENCH_CALIBRATE") != "1":
        return REFERENCE_NS, "fixed reference cost (PROFBENCH_CALIBRATE=1 to calibrate)"
    _calibration_unit(CAL_ITERATIONS)  # warm-up: CPython 3.11 specialises the bytecode
    best = None
    for _ in range(CAL_REPEATS):
        t0 = time.thread_time_ns()
        _calibration_unit(CAL_ITERATIONS)
        dt = time.thread_time_ns() - t0
        best = dt if best is None or dt < best else best
    return best / CAL_ITERATIONS, f"min of {CAL_REPEATS} x {CAL_ITERATIONS} iterations, thread CPU"


def perturbation(names):
    """(phase, seconds) from PROFBENCH_PERTURB=phase:seconds, or (None, 0)."""
    spec = os.environ.get("PROFBENCH_PERTURB")
    if not spec:
        return None, 0.0
    name, _, seconds = spec.partition(":")
    try:
        seconds = float(seconds)
    except ValueError:
        seconds = -1.0
    if name not in names or seconds < 0:
        sys.exit(f"PROFBENCH_PERTURB={spec!r}: expected PHASE:SECONDS with PHASE one of "
                 f"{', '.join(names)}")
    return name, seconds


def scale():
    """The work multiplier from PROFBENCH_SCALE (default 1)."""
    spec = os.environ.get("PROFBENCH_SCALE", "1")
    try:
        value = float(spec)
    except ValueError:
        value = 0.0
    if not value > 0:
        sys.exit(f"PROFBENCH_SCALE={spec!r}: expected a positive number such as 3")
    return value


def main():
    print("--- Start Calibrated Test ---")
    ns_per_iteration, how = calibrate()
    per_second = 1e9 / ns_per_iteration
    work = per_second * scale()
    iterations = {name: round(TOTAL_S * share * work) for name, share in SPLIT}
    iterations["inline_work"] = iterations["many_calls"] = round(BIAS_S * work)
    extra_phase, extra_s = perturbation(list(iterations))
    if extra_phase:
        iterations[extra_phase] += round(extra_s * per_second)
    print(f"calibration: {ns_per_iteration:.2f} ns CPU per iteration ({how})")
    print("iterations: " + ", ".join(f"{k}={v}" for k, v in iterations.items())
          + (f" (perturbed: +{extra_s} s in {extra_phase})" if extra_phase else ""))

    for func in (calibrated_a, calibrated_b, calibrated_c, inline_work, many_calls):
        name = func.__name__
        print(f"Running: {name}...")
        with truth.phase(name, func):
            func(iterations[name])

    print("--- End Calibrated Test ---")


if __name__ == "__main__":
    main()
