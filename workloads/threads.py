"""Threads workload: four CPU-bound threads contending for the GIL (the article's
"parallelisation ceiling").

threads_cpu() starts four threads running thread_worker(), each a pure-Python integer loop
(~0.3 s of CPU on the reference machine), and joins them. Under the GIL only one runs at a
time, so the phase's wall is about the sum of the four threads' CPU, not a quarter of it.
serial_cpu() runs the same four loops one after the other in the main thread: the ceiling is
threads_cpu wall ~= serial_cpu wall, and it gives the accuracy check a second phase.

Truth: the phases in the main thread, and one task line per thread from truth.task inside
thread_worker (its native tid, wall and thread CPU). Note for attribution: the workers' frames
are on their own threads' stacks, not under threads_cpu, which only waits in join(); the
phase's cpu_thread_ns is the main thread's, near zero, and its wall is the threads' lifetime.
"""
# profbench: phases=threads_cpu,serial_cpu
import os
import sys
import threading

try:
    import truth
except ImportError:  # this script's folder is not on sys.path (e.g. run through runpy.run_path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import truth

THREADS = 4
ITERATIONS = 2_500_000     # ~0.3 s of CPU per loop on the reference machine


def _spin(n):
    """The CPU work: a pure-Python integer loop."""
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


def thread_worker(n):
    """Body of each thread: one task line of truth per thread."""
    with truth.task("thread_worker"):
        _spin(n)


def threads_cpu(n=ITERATIONS):
    """Start THREADS CPU-bound threads and wait for all of them."""
    threads = [threading.Thread(target=thread_worker, args=(n,), name=f"worker-{k}")
               for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def serial_cpu(n=ITERATIONS):
    """The same work in the main thread, one loop after the other."""
    for _ in range(THREADS):
        _spin(n)


def main():
    print("--- Start Threads Test ---")

    print(f"Running: {THREADS} threads...")
    with truth.phase("threads_cpu", threads_cpu):
        threads_cpu()

    print("Running: the same work serially...")
    with truth.phase("serial_cpu", serial_cpu):
        serial_cpu()

    print("--- End Threads Test ---")


if __name__ == "__main__":
    main()
