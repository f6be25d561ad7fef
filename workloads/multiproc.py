"""Multiprocessing workload: a multiprocessing.Pool of 2 child processes (not Ray).

pool_map() maps pool_work, a pure-Python integer loop (~0.2 s of CPU on the reference
machine), over 8 items on the pool; each call writes one task line of truth in its child (pid,
tid, wall, CPU). parent_work() is the same loop, longer, in the parent only, so that the
phases' shares mean something. The pool is started before the pool_map phase and closed and
joined after it: with fork, the children inherit the parent's Python stack at the fork, so a
pool forked inside pool_map would put the children's whole life under pool_map; started in
main(), the children's frames sit under main(), not under a phase function. pool_map's truth is
the parent's: its wall is the map's, its CPU the parent's alone (it mostly waits).

Works with the fork, spawn and forkserver start methods (spawned children import this file as
__mp_main__, and truth from the parent's sys.path), and under profilers that exec the script in
their own namespace (python -m cProfile), see _main_module_for_pickling().

Environment (optional): PROFBENCH_MP_START=fork|spawn|forkserver picks the start method
(default: the platform's, fork on Linux with Python 3.11).
"""
# profbench: phases=pool_map,parent_work
import contextlib
import multiprocessing
import os
import sys
import types

try:
    import truth
except ImportError:  # this script's folder is not on sys.path (e.g. run through runpy.run_path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import truth

PROCESSES = 2
ITEMS = 8
POOL_ITERATIONS = 1_700_000     # ~0.2 s of CPU per item on the reference machine
PARENT_ITERATIONS = 4_000_000   # ~0.5 s of CPU in the parent


def _spin(n):
    """The CPU work: a pure-Python integer loop."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


def pool_work(n):
    """Runs in a child: one task line of truth per call."""
    with truth.task("pool_work"):
        return _spin(n)


def pool_map(pool, n=POOL_ITERATIONS):
    """Map pool_work over ITEMS items on the pool, one item per task."""
    return pool.map(pool_work, [n] * ITEMS, chunksize=1)


def parent_work(n=PARENT_ITERATIONS):
    """CPU work in the parent only."""
    return _spin(n)


@contextlib.contextmanager
def _main_module_for_pickling():
    """Make __main__.pool_work findable while the pool runs.

    The pool pickles pool_work by reference, as __main__.pool_work. Profilers that exec the
    script in a namespace of their own (python -m cProfile) leave their own module in
    sys.modules["__main__"], where pickle cannot find it, and spawn would start children from
    the profiler's file. A stand-in module with this script's names and __file__ fixes both.
    """
    current = sys.modules.get("__main__")
    if getattr(current, "pool_work", None) is pool_work:
        yield
        return
    stand_in = types.ModuleType("__main__")
    stand_in.__dict__.update(globals())
    sys.modules["__main__"] = stand_in
    try:
        yield
    finally:
        sys.modules["__main__"] = current


def main():
    print("--- Start Multiprocessing Test ---")
    ctx = multiprocessing.get_context(os.environ.get("PROFBENCH_MP_START") or None)

    with _main_module_for_pickling():
        pool = ctx.Pool(PROCESSES)
        try:
            print(f"Running: pool.map over {ITEMS} items on {PROCESSES} processes "
                  f"({ctx.get_start_method()})...")
            with truth.phase("pool_map", pool_map):
                pool_map(pool)
        finally:
            pool.close()
            pool.join()

    print("Running: parent work...")
    with truth.phase("parent_work", parent_work):
        parent_work()

    print("--- End Multiprocessing Test ---")


if __name__ == "__main__":
    main()
