# profbench sampler bootstrap: starts the agent, then chains to the sitecustomize this one hides.
# Written by `profbench record` into a private folder placed first on PYTHONPATH; inherited by
# subprocesses (and local Ray workers) through the environment.


def _profbench_start():
    try:
        import _profbench_agent
        _profbench_agent.start()
    except BaseException:  # never let the profiler stop the target from starting
        pass


def _profbench_chain():
    # Find the next `sitecustomize` on sys.path, skipping this folder, and run it as the real
    # `sitecustomize` module. Its own errors propagate so that site.py reports them exactly as
    # it would without us ("Error in sitecustomize; ...").
    import os
    import sys
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))

    def other(p):
        try:
            return os.path.abspath(p or os.curdir) != here
        except Exception:
            return True

    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", [p for p in sys.path if other(p)])
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_profbench_start()
_profbench_chain()
