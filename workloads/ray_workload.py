"""Distributed workload: the article's eval_multi_process.py, reproduced faithfully.

20 small and 4 heavy parallel_heavy_loop tasks, 4 parallel_io_bound tasks, and a ~80 MB array
put in the object store and read by 4 process_large_data tasks. Added for profbench: each step
the article timed is a small driver function run as a truth.phase, each remote function body
is wrapped in truth.task (one JSON line per task, on the worker, with the sizes of its
arguments and result), and ray.shutdown() at the end.

Two knobs, both off by default (the article's program as is):
    PROFBENCH_RAY_TASKS=K     K times as many tasks of every kind, each doing 1/K of the work
                              (same total work), so a profiler's cost per task can be fitted.
    PROFBENCH_RAY_WORKERS=N   ray.init(num_cpus=N): N worker processes run tasks at once.
"""
# profbench: default
# profbench: quick=status
# profbench: phases=submit_small_tasks,submit_heavy_tasks,submit_io_tasks,create_data,put_data,submit_data_tasks,gather_results
# profbench: uses-ray
# profbench: remote=parallel_heavy_loop,parallel_io_bound,process_large_data
# profbench: heavy-remote=parallel_heavy_loop:24
# profbench: name=ray
import os
import sys

# The file is not named ray.py: its folder is sys.path[0], and `import ray` would import it.
# Ray hands this folder on to its workers (ray.init adds the script's folder to the workers'
# sys.path), which is how they import truth.
import ray

_HERE = os.path.dirname(os.path.realpath(__file__))

import time
import hashlib
import numpy as np
import json

import truth

# Workers import truth from this folder when Ray hands it on: ray.init does so for the folder
# of sys.argv[0] (when on sys.path) and for the cwd. A runner that leaves neither pointing here
# gets truth shipped by value inside the pickled remote functions instead.
if _HERE not in (os.path.dirname(os.path.realpath(sys.argv[0] or os.curdir)),
                 os.path.realpath(os.curdir)):
    ray.cloudpickle.register_pickle_by_value(truth)

_TASKS = int(os.environ.get("PROFBENCH_RAY_TASKS") or 1)
_WORKERS = os.environ.get("PROFBENCH_RAY_WORKERS")
if _TASKS < 1:
    sys.exit(f"PROFBENCH_RAY_TASKS={_TASKS}: give a whole number of at least 1")

# Initialise Ray (simulated on the local machine)
# With the dashboard enabled, the overall profiling picture is easier to see
ray.init(include_dashboard=True, **({"num_cpus": int(_WORKERS)} if _WORKERS else {}))

# --- Point 1: tasks run in parallel (CPU-bound) ---
@ray.remote
def parallel_heavy_loop(iterations=5*10**5):
    """Evaluates CPU time on each worker"""
    with truth.task("parallel_heavy_loop", iterations) as t:
        result = 0
        for i in range(iterations):
            result += hashlib.md5(str(i).encode()).hexdigest().count('a')
        return t.returns(result)

# --- Point 2: waiting on I/O in a distributed setting (idle time) ---
@ray.remote
def parallel_io_bound(duration=1.0):
    """How the profiler treats a worker 'waiting and doing nothing'"""
    with truth.task("parallel_io_bound", duration) as t:
        time.sleep(duration)
        return t.returns("Done")

# --- Point 3: passing huge data (serialisation cost) ---
@ray.remote
def process_large_data(data):
    """
    Evaluates the cost of reading (deserialising) data from the Object Store.
    The function body is light; handing the data over is what takes time.
    """
    with truth.task("process_large_data", data) as t:
        return t.returns(len(data))

# --- Driver steps (one truth phase each; the work is the article's, unchanged) ---
def submit_small_tasks():
    return [parallel_heavy_loop.remote(10**4 // _TASKS) for _ in range(20 * _TASKS)]

def submit_heavy_tasks():
    return [parallel_heavy_loop.remote(5*10**5 // _TASKS) for _ in range(4 * _TASKS)]

def submit_io_tasks():
    return [parallel_io_bound.remote(1.0 / _TASKS) for _ in range(4 * _TASKS)]

def create_data():
    return np.random.rand(10**7)  # about 80 MB

def put_data(large_data):
    return ray.put(large_data)  # place it in the Object Store

def submit_data_tasks(data_id):
    return [process_large_data.remote(data_id) for _ in range(4 * _TASKS)]

def gather_results(futures):
    return ray.get(futures)

def main():
    print("--- Ray Distributed Profiling Test ---")
    start_time = time.time()

    # A. Submit many small tasks (scheduling overhead)
    # Can the profiler capture the cost of creating tasks?
    print("Submitting many small tasks...")
    with truth.phase("submit_small_tasks", submit_small_tasks):
        futures_small = submit_small_tasks()

    # B. Heavy tasks in parallel (parallel efficiency and CPU use)
    print("Running heavy parallel tasks...")
    with truth.phase("submit_heavy_tasks", submit_heavy_tasks):
        futures_heavy = submit_heavy_tasks()

    # C. Tasks that wait on I/O (wall-clock time visualisation)
    print("Running I/O bound tasks...")
    with truth.phase("submit_io_tasks", submit_io_tasks):
        futures_io = submit_io_tasks()

    # D. Transfer of huge data (communication and serialisation cost)
    print("Testing data transfer overhead...")
    with truth.phase("create_data", create_data):
        large_data = create_data()
    with truth.phase("put_data", put_data):
        data_id = put_data(large_data)
    with truth.phase("submit_data_tasks", submit_data_tasks):
        futures_data = submit_data_tasks(data_id)

    # Collect the results of every task
    with truth.phase("gather_results", gather_results):
        results = gather_results(futures_small + futures_heavy + futures_io + futures_data)

    end_time = time.time()
    print(f"Total execution time: {end_time - start_time:.2f}s")
    print("--- End Test ---")

if __name__ == "__main__":
    main()
    ray.shutdown()
