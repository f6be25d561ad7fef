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
    # The import system's own PathFinder, already loaded: importing importlib.machinery (or
    # importlib.util, which pulls in contextlib & co.) would show in the target's sys.modules.
    PathFinder = sys.modules["_frozen_importlib_external"].PathFinder

    here = os.path.dirname(os.path.abspath(__file__))

    def other(p):
        try:
            return os.path.abspath(p or os.curdir) != here
        except Exception:
            return True

    spec = PathFinder.find_spec("sitecustomize", [p for p in sys.path if other(p)])
    if spec is None or spec.loader is None:
        return
    module = type(sys)(spec.name)
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__file__ = spec.origin
    module.__cached__ = getattr(spec, "cached", None)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_profbench_start()
_profbench_chain()
