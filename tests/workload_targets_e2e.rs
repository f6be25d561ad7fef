//! End-to-end with the real binary and real cProfile: a workload written here, not in the
//! repository, gets the checks its header asks for; and a results folder profbench cannot
//! write into ends its cells as harness faults, never blamed on the profiler.

use assert_cmd::Command;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cell(out: &Path, name: &str) -> Value {
    let path = out.join("cells").join(name);
    serde_json::from_slice(&fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

/// fib(10) makes 2·F(11) − 1 = 177 calls; `nap` sleeps.
const FIB_WORKLOAD: &str = r#""""A workload the repository does not have: its header alone asks for checks."""
# profbench: phases=recurse,nap
# profbench: calls=fib:177
# profbench: sleep=nap
# profbench: heavy-line=fib:return fib(n - 1) + fib(n - 2)
import time

import truth


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def nap():
    time.sleep(0.3)


if __name__ == "__main__":
    with truth.phase("recurse", fib):
        fib(10)
    with truth.phase("nap", nap):
        nap()
"#;

fn workloads_in(dir: &Path) -> PathBuf {
    let w = dir.join("workloads");
    fs::create_dir_all(&w).unwrap();
    fs::write(w.join("fibwork.py"), FIB_WORKLOAD).unwrap();
    for f in ["truth.py", "requirements.txt"] {
        fs::copy(repo().join("workloads").join(f), w.join(f)).unwrap();
    }
    w
}

/// One pair of one backend on one workload of `workloads`, direct launcher.
fn matrix(workloads: &Path, out: &Path, backend: &str, workload: &str) {
    Command::cargo_bin("profbench")
        .unwrap()
        .current_dir(repo())
        .args([
            "matrix",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--launchers",
            "direct",
        ])
        .args(["--backends", backend, "--workloads", workload])
        .arg("--workloads-dir")
        .arg(workloads)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

fn verdict(c: &Value, axis: u64) -> (String, String) {
    let k = c["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["axis"] == axis)
        .unwrap_or_else(|| panic!("no axis {axis}: {c:#}"));
    (
        k["verdict"].as_str().unwrap().to_string(),
        k["evidence"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_new_workload_gets_the_checks_its_header_names() {
    let dir = tempfile::tempdir().unwrap();
    let workloads = workloads_in(dir.path());
    let out = dir.path().join("run");
    matrix(&workloads, &out, "cprofile", "fibwork");
    let c = cell(&out, "direct__fibwork__cprofile.json");
    assert_eq!(c["status"]["state"], "ok", "{c:#}");
    let (v, ev) = verdict(&c, 1);
    assert_eq!(
        (v.as_str(), ev.as_str()),
        ("pass", "fib: 177 calls (primitive 1)")
    );
    let (v, ev) = verdict(&c, 2);
    assert_eq!(v, "partial", "{ev}");
    assert!(ev.contains("time.sleep"), "{ev}");
    // cProfile has no line records: the hot line the header names cannot be found.
    let (v, ev) = verdict(&c, 4);
    assert_eq!(v, "fail", "{ev}");
    assert!(ev.contains("no line-level data for fib"), "{ev}");
    // Axes the header does not name are not applicable, and say so.
    for axis in [3, 5, 6, 7, 8, 9, 10] {
        let (v, ev) = verdict(&c, axis);
        assert_eq!(v, "not-applicable", "axis {axis}: {ev}");
        assert!(ev.contains("header"), "axis {axis}: {ev}");
    }
}

#[test]
fn a_results_folder_profbench_cannot_write_is_a_harness_fault() {
    let dir = tempfile::tempdir().unwrap();
    let workloads = workloads_in(dir.path());
    let out = dir.path().join("run");
    fs::create_dir_all(&out).unwrap();
    // A file where the runs' folders go: every run's folder fails to be created.
    fs::write(out.join("raw"), "in the way").unwrap();
    matrix(&workloads, &out, "cprofile", "fibwork");
    for backend in ["none", "cprofile"] {
        let c = cell(&out, &format!("direct__fibwork__{backend}.json"));
        assert_eq!(c["status"]["category"], "harness-fault", "{c:#}");
        let error = c["status"]["error"].as_str().unwrap();
        assert!(
            error.contains("profbench could not") && error.contains("raw"),
            "{backend}: {error}"
        );
        assert!(
            c["checks"].as_array().is_none_or(|k| k.is_empty()),
            "{backend}: a cell that never ran has no verdicts: {c:#}"
        );
    }
    let table = fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(table.contains("**harness fault**"), "{table}");
}

/// Fails in its second phase when its parent is py-spy; under no profiler it finishes.
const FAILS_UNDER_PY_SPY: &str = r#""""Stops before its last phase when py-spy started it."""
# profbench: phases=first,second
import os
import time

import truth


def parent_is_py_spy():
    with open(f"/proc/{os.getppid()}/comm") as f:
        return f.read().strip() == "py-spy"


def first():
    # Long enough for py-spy to find the process on a busy machine.
    time.sleep(1.0)
    sum(range(100_000))


if __name__ == "__main__":
    with truth.phase("first", first):
        first()
    if parent_is_py_spy():
        raise RuntimeError("stopping early under py-spy")
    with truth.phase("second", first):
        first()
"#;

#[test]
fn a_program_that_fails_under_a_profiler_that_exits_0_is_a_crash_not_ok() {
    let dir = tempfile::tempdir().unwrap();
    let workloads = workloads_in(dir.path());
    fs::write(workloads.join("stopsearly.py"), FAILS_UNDER_PY_SPY).unwrap();
    let out = dir.path().join("run");
    matrix(&workloads, &out, "py-spy", "stopsearly");
    assert_eq!(
        cell(&out, "direct__stopsearly__none.json")["status"]["state"],
        "ok"
    );
    let c = cell(&out, "direct__stopsearly__py-spy.json");
    assert_eq!(c["status"]["category"], "crashed", "{c:#}");
    let error = c["status"]["error"].as_str().unwrap();
    assert!(error.contains("never reached second"), "{error}");
    assert!(error.contains("stopping early under py-spy"), "{error}");
}
