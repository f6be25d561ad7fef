"""Asyncio workload: coroutines that mix CPU work with awaits, against plain CPU work.

async_main() gathers 4 coroutines; each runs a pure-Python integer loop (~0.15 s of CPU on the
reference machine), awaits asyncio.sleep(0.8), then runs the loop again. The first halves run
back to back (~0.6 s), then the loop idles until the first sleep ends, then the second halves
run back to back: the phase's wall (~1.55 s) exceeds its CPU (~1.2 s) by the idle wait, so a
wall-clock profiler and a CPU profiler must give it different shares. sync_cpu() runs the same
loop 4 times with no event loop (~0.6 s, wall ~= CPU).

The async_main phase's function is run_async_main(), the plain function that calls
asyncio.run(async_main()): once gathered, each coroutine runs as its own Task, stepped by the
event loop, so its frames sit under asyncio.run's loop, never under async_main's frame, which
only appears while async_main itself is stepped. The plain caller holds the whole event loop
on its stack (CPU, idle wait in the selector, the coroutines), so its inclusive time is the
phase's.

The file is not named asyncio.py: its folder is sys.path[0] for every workload run from it,
and a file of that name would shadow the asyncio module. `# profbench: name=asyncio` names it.
"""
# profbench: phases=async_main,sync_cpu
# profbench: name=asyncio
import asyncio
import os
import sys

try:
    import truth
except ImportError:  # this script's folder is not on sys.path (e.g. run through runpy.run_path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import truth

COROUTINES = 4
ITERATIONS = 1_250_000   # ~0.15 s of CPU per loop on the reference machine
SLEEP_S = 0.8


def _spin(n):
    """The CPU work: a pure-Python integer loop."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


async def cpu_then_sleep(n, sleep_s):
    """CPU, an await that lets the other coroutines run, CPU again."""
    _spin(n)
    await asyncio.sleep(sleep_s)
    _spin(n)


async def async_main(n=ITERATIONS, sleep_s=SLEEP_S):
    """The coroutine asyncio.run runs: COROUTINES coroutines at once."""
    await asyncio.gather(*(cpu_then_sleep(n, sleep_s) for _ in range(COROUTINES)))


def run_async_main():
    """The async_main phase: the event loop, from start to close."""
    asyncio.run(async_main())


def sync_cpu(n=ITERATIONS):
    """The same loop COROUTINES times, without an event loop."""
    for _ in range(COROUTINES):
        _spin(n)


def main():
    print("--- Start Asyncio Test ---")

    print(f"Running: {COROUTINES} coroutines (CPU, sleep {SLEEP_S} s, CPU)...")
    with truth.phase("async_main", run_async_main):
        run_async_main()

    print("Running: plain CPU work...")
    with truth.phase("sync_cpu", sync_cpu):
        sync_cpu()

    print("--- End Asyncio Test ---")


if __name__ == "__main__":
    main()
