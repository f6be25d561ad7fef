"""Fine-grained workload: many short calls, interleaved, whose self-time split is known.

Four tiny functions (a few microseconds per call each, far shorter than any sampling interval)
are called interleaved in a fixed mix by one driver loop: the shape of real code made of many
short calls, where a profiler's self time (what users rank functions by) is hardest to get
right. No timer can sit around each call (it would cost more than the call), so the truth is
known by calibration instead:

1. Each function's per-call cost is timed in bulk in this same process, right before the mix:
   CAL_CALLS calls in a row, the median of CAL_REPEATS such runs taken in turn over all the
   functions (the machine may be shared: a change of load hits them alike), minus the same
   loop calling an empty function (the loop and the call itself), in wall and thread-CPU time. The bulk calls go to copies of the functions (same bytecode, names prefixed
   `_bulk_`), so a profiler does not charge the calibration to the functions it is judged on.
2. The mix calls each function a known number of times (MIX per cycle, CYCLES cycles).
3. Each function's truth = its calls × its per-call cost: a phase of its own in the truth file
   (`truth.calibrated_phase`), so every backend gets an accuracy MAE on the split.

The calibration is made under the profiler being measured (truth in the profiler's own clock,
like every other workload's truth): a tracer that slows every call is judged on how it splits
the time it made, not on its overhead. The thread CPU of the whole mix against the sum of the
predicted costs is printed and kept in the truth (`mix_predicted_share`, the loop's own part
aside) as a check of the calibration.

CYCLES is fixed, so a profiled run does the baseline's work. Environment (optional):
    PROFBENCH_SCALE=3   multiply the cycles (the matrix's --lengths).
"""
# profbench: phases=tiny_arith,tiny_text,tiny_list,tiny_dict
# profbench: scalable
import os
import sys
import time
import types

try:
    import truth
except ImportError:  # this script's folder is not on sys.path (e.g. run through runpy.run_path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import truth

CYCLES = 60_000          # ~3 s on the reference machine (quiet, CPython 3.11)
CAL_CALLS = 5_000        # one bulk calibration run per function: ~10-20 ms
CAL_REPEATS = 9


def tiny_arith():
    x = 0
    for i in range(40):
        x = (x * 31 + i) & 0xFFFF
    return x


def tiny_text():
    return "-".join(str(i) for i in range(12)).upper()


def tiny_list():
    return sorted([(i * 7919) % 101 for i in range(60)])


def tiny_dict():
    d = {}
    for i in range(25):
        d[i] = i * i
    return sum(d.values())


def _empty():
    return None


# Calls per cycle, interleaved (the cheapest function is called most, so call counts and
# time shares do not simply follow each other).
MIX = (tiny_arith, tiny_list, tiny_arith, tiny_text, tiny_arith, tiny_dict, tiny_arith, tiny_list)


def _bulk_copy(func):
    """The same code under another name, so that bulk timing is not charged to `func`."""
    name = "_bulk_" + func.__name__
    code = func.__code__.replace(co_name=name)
    if hasattr(code, "co_qualname"):
        code = code.replace(co_qualname=name)
    return types.FunctionType(code, func.__globals__, name)


def _bulk(func, calls):
    """(wall ns, thread CPU ns) of `calls` calls in a row."""
    c0 = time.thread_time_ns()
    w0 = time.perf_counter_ns()
    for _ in range(calls):
        func()
    w1 = time.perf_counter_ns()
    c1 = time.thread_time_ns()
    return w1 - w0, c1 - c0


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


def per_call_costs(funcs):
    """Per function: (wall ns, CPU ns) per call, the empty call's cost taken off. The repeats
    go round the functions (a change of load on the machine hits them all alike) and each
    function's median is kept."""
    copies = [(f, _bulk_copy(f)) for f in [_empty] + list(funcs)]
    runs = {f: [] for f, _ in copies}
    for _ in range(CAL_REPEATS):
        for f, copy in copies:
            runs[f].append(_bulk(copy, CAL_CALLS))
    med = {f: (_median([w for w, _ in r]), _median([c for _, c in r])) for f, r in runs.items()}
    empty_wall, empty_cpu = med.pop(_empty)
    return {f: (max(w - empty_wall, 0) / CAL_CALLS, max(c - empty_cpu, 0) / CAL_CALLS)
            for f, (w, c) in med.items()}


def run_mix(cycles):
    """The interleaved calls: every function of MIX, in order, `cycles` times."""
    mix = MIX
    for _ in range(cycles):
        for f in mix:
            f()


def main():
    scale = float(os.environ.get("PROFBENCH_SCALE") or 1)
    cycles = max(1, int(CYCLES * scale))
    funcs = list(dict.fromkeys(MIX))
    costs = per_call_costs(funcs)
    cpu_start = time.thread_time_ns()
    start = time.perf_counter_ns()
    run_mix(cycles)
    end = time.perf_counter_ns()
    cpu_end = time.thread_time_ns()
    predicted = 0.0
    for f in funcs:
        calls = cycles * MIX.count(f)
        wall_ns, cpu_ns = costs[f]
        predicted += calls * cpu_ns
        truth.calibrated_phase(f.__name__, f, round(calls * wall_ns), round(calls * cpu_ns),
                               start, end, calls=calls)
    share = predicted / max(cpu_end - cpu_start, 1)
    truth.note("mix_predicted_share", share)
    print("finegrained: %d cycles in %.2f s (%.2f s CPU); calibrated calls account for %.0f%% "
          "of its CPU, the driver loop for the rest" % (cycles, (end - start) / 1e9,
                                                         (cpu_end - cpu_start) / 1e9, share * 100))


if __name__ == "__main__":
    main()
