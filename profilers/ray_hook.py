"""Runs a Ray program and, when it calls ray.shutdown(), saves what Ray's own tools know.

    python -c "<this file>" MODE OUT_DIR script.py [args...]

MODE `timeline`: ray.timeline() (Chrome trace events) into OUT_DIR/ray-timeline.json.
MODE `state`: ray.util.state.list_tasks(detail=True) and summarize_tasks() into
OUT_DIR/ray-state.json (needs the dashboard, which the program's ray.init starts).

The program itself is unchanged: it runs as __main__ with its own argv and folder first on
sys.path, as `python script.py` would; only ray.shutdown is wrapped. Task events reach the
GCS from each worker about once a second, so the hook asks again until two answers a report
interval apart agree, and records how long that took (`settle_s`) and whether it gave up.
"""

import json
import os
import runpy
import sys
import time

# Longer than Ray's task event report interval (1 s by default), so a stable count means
# no report was still on its way.
_SETTLE_S = 1.5
_POLL_S = 0.5
_GIVE_UP_S = 30.0


def _settle(read, size):
    """Calls read() until size(answer) stays the same for _SETTLE_S; returns (answer, info)."""
    t0 = time.monotonic()
    answer = read()
    stable_since = time.monotonic()
    polls = 1
    while True:
        now = time.monotonic()
        if now - stable_since >= _SETTLE_S:
            return answer, {"settle_s": now - t0, "polls": polls, "complete": True}
        if now - t0 >= _GIVE_UP_S:
            return answer, {"settle_s": now - t0, "polls": polls, "complete": False}
        time.sleep(_POLL_S)
        again = read()
        polls += 1
        if size(again) != size(answer):
            stable_since = time.monotonic()
        answer = again


def _finished(events):
    return sum(1 for e in events if e.get("cat") == "task:execute" or e.get("name") == "task:execute")


def _save_timeline(ray, out_dir):
    events, info = _settle(lambda: ray.timeline(), lambda ev: (len(ev), _finished(ev)))
    with open(os.path.join(out_dir, "ray-timeline.json"), "w") as f:
        json.dump(events, f)
    with open(os.path.join(out_dir, "ray-timeline.meta.json"), "w") as f:
        json.dump(info, f)


def _save_state(ray, out_dir):
    from ray.util import state

    def read():
        tasks = state.list_tasks(detail=True, limit=10000, raise_on_missing_output=False)
        return [t.asdict() if hasattr(t, "asdict") else dict(t) for t in tasks]

    def size(tasks):
        done = sum(1 for t in tasks if t.get("end_time_ms"))
        return (len(tasks), done)

    tasks, info = _settle(read, size)
    summary = state.summarize_tasks(raise_on_missing_output=False)
    with open(os.path.join(out_dir, "ray-state.json"), "w") as f:
        json.dump({"tasks": tasks, "summary": summary, "settle": info}, f, default=str)


def main():
    mode, out_dir, script = sys.argv[1], sys.argv[2], sys.argv[3]
    save = {"timeline": _save_timeline, "state": _save_state}[mode]
    sys.argv = sys.argv[3:]
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    import ray

    original = ray.shutdown

    def shutdown(*args, **kwargs):
        if ray.is_initialized():
            try:
                save(ray, out_dir)
            except Exception as err:  # the program's own shutdown must still run
                print(f"profbench ray hook: {mode} not saved: {err!r}", file=sys.stderr)
        return original(*args, **kwargs)

    ray.shutdown = shutdown
    runpy.run_path(script, run_name="__main__")


main()
