"""Ground-truth markers for profbench workloads (stdlib only).

Costs a few microseconds per phase or task, never per call: do not wrap hot functions.

    with truth.phase("recursion", pattern_recursion):   # in the workload's main()
        pattern_recursion(25)

    with truth.task("parallel_heavy_loop"):              # inside a Ray remote function body
        ...

Environment:
    PROFBENCH_TRUTH=/path/truth.json   the process that opened phases writes the truth JSON
                                       there at exit; tasks append one JSON line each to
                                       /path/truth.json.tasks.jsonl. Unset: nothing is written.
    PROFBENCH_MEMORY_TRUTH=1           also record tracemalloc peak and OS peak RSS per phase
                                       (tracemalloc is started at import; never in timed runs).
See README.md in this folder for the JSON format.
"""

import atexit
import json
import os
import sys
import threading
import time

SCHEMA = 1

_perf = time.perf_counter_ns
_proc = time.process_time_ns
_thread = time.thread_time_ns

_T0 = _perf()
_T0_UNIX = time.time_ns()
_PATH = os.environ.get("PROFBENCH_TRUTH") or None
_TASKS_PATH = (_PATH + ".tasks.jsonl") if _PATH else None
_MEMORY = os.environ.get("PROFBENCH_MEMORY_TRUTH") == "1"

if _MEMORY:
    import tracemalloc

    tracemalloc.start()

_phases = []  # finished phase records, in order of their end
_notes = {}
_state = {"registered": False, "script": None, "tasks_fd": None, "tasks_pid": None}


def _code_info(func):
    """(qualname, absolute file, first line) of a Python function, or Nones."""
    if func is None:
        return None, None, None
    # Profilers that wrap functions (line_profiler's autoprofile) keep the original on
    # __wrapped__; the wrapper's code lives in the profiler's own files.
    for _ in range(16):
        inner = getattr(func, "__wrapped__", None)
        if inner is None:
            break
        func = inner
    code = getattr(func, "__code__", None)
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if code is None:
        return name, None, None
    return name, os.path.abspath(code.co_filename), code.co_firstlineno


def _read_status_kib(field):
    """A 'VmXXX:   1234 kB' field of /proc/self/status, in bytes, or None."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_hwm():
    """Reset VmHWM (peak RSS) to the current RSS. True on success."""
    try:
        fd = os.open("/proc/self/clear_refs", os.O_WRONLY)
        try:
            os.write(fd, b"5")
        finally:
            os.close(fd)
        return True
    except OSError:
        return False


class phase:
    """Context manager marking one phase of the workload (one pattern of the article)."""

    __slots__ = ("name", "func", "_hwm_ok", "_rss_start", "_s_perf", "_s_proc", "_s_thread")

    def __init__(self, name, func=None):
        self.name = name
        self.func = func

    def __enter__(self):
        if not _state["registered"]:
            _first_phase(self.func)
        if _MEMORY:
            tracemalloc.reset_peak()
            self._hwm_ok = _reset_hwm()
            self._rss_start = _read_status_kib(b"VmRSS:")
        else:
            self._rss_start = None
        # Clocks last, so the bookkeeping above is outside the phase.
        self._s_thread = _thread()
        self._s_proc = _proc()
        self._s_perf = _perf()
        return self

    def __exit__(self, exc_type, exc, tb):
        e_perf = _perf()
        e_proc = _proc()
        e_thread = _thread()
        tm_peak = rss_peak = rss_end = None
        if _MEMORY:
            tm_peak = tracemalloc.get_traced_memory()[1]
            if self._hwm_ok:
                rss_peak = _read_status_kib(b"VmHWM:")
            rss_end = _read_status_kib(b"VmRSS:")
        name, file, line = _code_info(self.func)
        _phases.append({
            "name": self.name,
            "function": name,
            "file": file,
            "line": line,
            "start_ns": self._s_perf,
            "end_ns": e_perf,
            "wall_ns": e_perf - self._s_perf,
            "cpu_process_ns": e_proc - self._s_proc,
            "cpu_thread_ns": e_thread - self._s_thread,
            "tracemalloc_peak_bytes": tm_peak,
            "rss_peak_bytes": rss_peak,
            "rss_start_bytes": self._rss_start,
            "rss_end_bytes": rss_end,
        })
        return False


def calibrated_phase(name, func, wall_ns, cpu_ns, start_ns, end_ns, calls=None):
    """A phase whose time is known by calibration rather than timed around it: the work of
    `func` interleaved with other phases' between start_ns and end_ns (perf_counter_ns), of
    known wall and thread-CPU cost (e.g. calls x per-call cost timed in bulk). See
    finegrained.py."""
    if not _state["registered"]:
        _first_phase(func)
    fname, file, line = _code_info(func)
    _phases.append({
        "name": name,
        "function": fname,
        "file": file,
        "line": line,
        "start_ns": start_ns,
        "end_ns": end_ns,
        "wall_ns": int(wall_ns),
        "cpu_process_ns": int(cpu_ns),
        "cpu_thread_ns": int(cpu_ns),
        "tracemalloc_peak_bytes": None,
        "rss_peak_bytes": None,
        "rss_start_bytes": None,
        "rss_end_bytes": None,
        "calibrated": True,
        "calls": calls,
    })


def note(key, value):
    """A fact about the run kept in the truth file under "notes" (e.g. a calibration check)."""
    _notes[key] = value


def _first_phase(func):
    """This process opens phases: it is the one that writes the truth JSON at exit."""
    _state["registered"] = True
    _, file, _ = _code_info(func)
    if file is None and sys.argv and sys.argv[0]:
        file = os.path.abspath(sys.argv[0])
    _state["script"] = file
    if _PATH:
        # A tasks file older than this process is left over from an earlier run.
        try:
            if os.stat(_TASKS_PATH).st_mtime_ns < _T0_UNIX:
                os.unlink(_TASKS_PATH)
        except OSError:
            pass
        atexit.register(_write_truth)


def _write_truth():
    end = _perf()
    script = _state["script"]
    workload = os.path.splitext(os.path.basename(script))[0] if script else None
    doc = {
        "schema": SCHEMA,
        "workload": workload,
        "script": script,
        "pid": os.getpid(),
        "python": ".".join(str(v) for v in sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "memory_truth": _MEMORY,
        "start_ns": _T0,
        "end_ns": end,
        "phases": _phases,
        "notes": _notes,
        "tasks_file": _TASKS_PATH if os.path.exists(_TASKS_PATH) else None,
    }
    tmp = _PATH + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, _PATH)


def _tasks_fd():
    pid = os.getpid()
    if _state["tasks_pid"] != pid:  # first task in this process (or after a fork)
        _state["tasks_fd"] = os.open(_TASKS_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _state["tasks_pid"] = pid
    return _state["tasks_fd"]


def _size(value):
    """In-memory bytes of a task argument or result: a buffer's length (NumPy's nbytes, even
    for a zero-copy view of the object store), else sys.getsizeof. Not the pickled size:
    pickling an 80 MB array inside the task would itself cost the time being measured."""
    n = getattr(value, "nbytes", None)
    if isinstance(n, int):
        return n
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    try:
        return sys.getsizeof(value)
    except TypeError:
        return None


def _ray_worker_id():
    """The Ray worker this task runs in (hex), when Ray is loaded: timelines name workers so."""
    ray = sys.modules.get("ray")
    if ray is None:
        return None
    try:
        return ray.get_runtime_context().get_worker_id()
    except Exception:
        return None


class task:
    """Context manager around a remote function's body: one JSON line per task.

        with truth.task("process_large_data", data) as t:   # arguments: their sizes are kept
            return t.returns(len(data))                      # the result's size too
    """

    __slots__ = ("function", "_args", "_result_bytes", "_s_perf", "_s_unix", "_s_proc",
                 "_s_thread")

    def __init__(self, function, *args):
        self.function = function
        self._args = args
        self._result_bytes = None

    def returns(self, value):
        """Records the result's size and hands the value back."""
        self._result_bytes = _size(value)
        return value

    def __enter__(self):
        if _MEMORY and not _state["registered"] and tracemalloc.is_tracing():
            tracemalloc.stop()  # a worker: no phases here, so tracing would only slow its tasks
        if _TASKS_PATH is not None:
            self._s_thread = _thread()
            self._s_proc = _proc()
            self._s_unix = time.time_ns()
            self._s_perf = _perf()
        return self

    def __exit__(self, exc_type, exc, tb):
        if _TASKS_PATH is None:
            return False
        e_perf = _perf()
        e_unix = time.time_ns()
        e_proc = _proc()
        e_thread = _thread()
        sizes = [_size(a) for a in self._args]
        line = json.dumps({
            "function": self.function,
            "pid": os.getpid(),
            "tid": threading.get_native_id(),
            "start_ns": self._s_perf,
            "end_ns": e_perf,
            "unix_start_ns": self._s_unix,
            "unix_end_ns": e_unix,
            "cpu_thread_ns": e_thread - self._s_thread,
            "cpu_process_ns": e_proc - self._s_proc,
            "arg_bytes": sum(sizes) if None not in sizes else None,
            "result_bytes": self._result_bytes,
            "ray_worker_id": _ray_worker_id(),
        }, separators=(",", ":")) + "\n"
        try:
            os.write(_tasks_fd(), line.encode())  # one write on an O_APPEND fd: no interleaving
        except OSError:
            pass
        return False
