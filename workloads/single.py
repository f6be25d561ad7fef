"""Single-process workload: the article's eval_single_process.py, reproduced faithfully.

Five patterns, one phase each: recursion (call count and depth), heavy loop (CPU-bound,
line-level hot spot), I/O bound (sleep: wall vs CPU), library call (json + NumPy),
memory allocation (a huge list). Only the truth.phase markers in main() are added.
"""
# profbench: memory-truth
# profbench: default
# profbench: quick=overhead
# profbench: phases=recursion,heavy_loop,io_bound,library_call,memory_allocation
# profbench: calls=pattern_recursion:242785
# profbench: sleep=pattern_io_bound
# profbench: library=pattern_library_call:json.dumps,numpy.random.rand,numpy.dot
# profbench: heavy-line=pattern_heavy_loop:result += hashlib.md5
# profbench: memory=pattern_memory_allocation
import time
import json
import hashlib
import numpy as np  # pip install numpy if it is missing

try:
    import truth
except ImportError:  # this script's folder is not on sys.path (e.g. run through runpy.run_path)
    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import truth

# --- 1. Recursive calls (depth and count) ---
def pattern_recursion(n):
    """Evaluates function-call overhead; the profiler's own cost tends to show here."""
    if n <= 1:
        return n
    return pattern_recursion(n - 1) + pattern_recursion(n - 2)

# --- 2. Heavy loop (CPU-bound) ---
def pattern_heavy_loop(iterations=10**6):
    """Evaluates the accumulated time of a simple loop; checks line-level precision."""
    result = 0
    for i in range(iterations):
        # this one line should be detected as the bottleneck
        result += hashlib.md5(str(i).encode()).hexdigest().count('a')
    return result

# --- 3. Waiting on I/O (wall time vs CPU time) ---
def pattern_io_bound():
    """Evaluates time spent stopped without using the CPU."""
    print("I/O bound task started...")
    time.sleep(1.5)  # for 1.5 s the CPU does nothing
    return "Finished"

# --- 4. Library calls (transparency) ---
def pattern_library_call():
    """Evaluates how far inside standard and external libraries one can see."""
    data = {f"key_{i}": i for i in range(10000)}
    json_str = json.dumps(data)
    # heavy library work such as NumPy
    array = np.random.rand(1000, 1000)
    return np.dot(array, array)

# --- 5. Memory allocation (resource correlation) ---
def pattern_memory_allocation():
    """Evaluates the delay caused by allocating memory."""
    # build a huge list to consume memory
    large_list = [list(range(100)) for _ in range(100000)]
    return len(large_list)

def main():
    print("--- Start Profiling Test ---")

    print("Running: Recursion...")
    with truth.phase("recursion", pattern_recursion):
        pattern_recursion(25)  # adjust the number to the machine

    print("Running: Heavy Loop...")
    with truth.phase("heavy_loop", pattern_heavy_loop):
        pattern_heavy_loop()

    print("Running: I/O Bound...")
    with truth.phase("io_bound", pattern_io_bound):
        pattern_io_bound()

    print("Running: Library Call...")
    with truth.phase("library_call", pattern_library_call):
        pattern_library_call()

    print("Running: Memory Allocation...")
    with truth.phase("memory_allocation", pattern_memory_allocation):
        pattern_memory_allocation()

    print("--- End Profiling Test ---")

if __name__ == "__main__":
    main()
