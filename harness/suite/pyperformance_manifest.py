"""Lists pyperformance's benchmarks as JSON (run with the environment's Python).

Reads the installed package's data files the way pyperformance does: MANIFEST's
[benchmarks] table (name, metafile), each benchmark's pyproject.toml (or its bm_NAME.toml
variant over the base's pyproject.toml) and requirements.txt.
"""
import json
import os
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11: pyperformance depends on tomli there
    import tomli as tomllib

import pyperformance
from packaging.specifiers import SpecifierSet

ROOT = os.path.join(os.path.dirname(pyperformance.__file__), "data-files", "benchmarks")


def toml(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def manifest_rows():
    section = None
    with open(os.path.join(ROOT, "MANIFEST")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("["):
                section = line.strip("[]").strip()
                continue
            if section != "benchmarks":
                continue
            name, _, metafile = line.partition("\t")
            name, metafile = name.strip(), metafile.strip()
            if name == "name" and metafile == "metafile":
                continue
            yield name, metafile


def describe(name, metafile):
    base = name
    if metafile.startswith("<local:") and metafile.endswith(">"):
        base = metafile[len("<local:"):-1]
    folder = os.path.join(ROOT, "bm_" + base)
    project = toml(os.path.join(folder, "pyproject.toml"))
    variant = project
    if base != name:
        variant = toml(os.path.join(folder, "bm_" + name + ".toml"))
    def field(table, key, default):
        for doc in (variant, project):
            value = doc.get(table, {}).get(key)
            if value is not None:
                return value
        return default
    tool = {**project.get("tool", {}).get("pyperformance", {}),
            **variant.get("tool", {}).get("pyperformance", {})}
    requires = field("project", "requires-python", "")
    reqs = []
    req_file = os.path.join(folder, "requirements.txt")
    if os.path.exists(req_file):
        with open(req_file) as f:
            reqs = [l.split("#", 1)[0].strip() for l in f]
            reqs = [r for r in reqs if r and not r.startswith("-")]
    version = "%d.%d.%d" % sys.version_info[:3]
    return {
        "name": name,
        "script": os.path.join(folder, tool.get("runscript", "run_benchmark.py")),
        "extra_opts": list(tool.get("extra_opts", [])),
        "dependencies": list(field("project", "dependencies", [])),
        "requirements": reqs,
        "requires_python": requires,
        "python_ok": (not requires) or version in SpecifierSet(requires),
    }


print(json.dumps({
    "version": pyperformance.__version__,
    "benchmarks": [describe(n, m) for n, m in manifest_rows()],
}))
