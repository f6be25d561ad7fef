//! End-to-end: programs from outside the workloads folder (`matrix --script`, `--suite`), run
//! by the real binary in the real environment under real profilers. Assertions are about
//! content, never timings.

use assert_cmd::Command;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn profbench() -> Command {
    let mut c = Command::cargo_bin("profbench").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn cell(out: &Path, name: &str) -> Value {
    let path = out.join("cells").join(name);
    serde_json::from_slice(&fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

/// A script in a folder with spaces and non-ASCII letters in its path, which exits non-zero
/// unless it got exactly the arguments `'a b' c ñ`.
fn awkward_script(root: &Path, body: &str) -> PathBuf {
    let dir = root.join("my scripts").join("çà");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prog é.py");
    let text = format!(
        "import sys\nif sys.argv[1:] != ['a b', 'c', 'ñ']:\n    sys.exit('wrong arguments: %r' % (sys.argv[1:],))\n\ndef work():\n    return sum(i * i for i in range(300_000))\n\ndef rest():\n    return sorted(range(200_000), key=lambda i: -i)\n\n{body}\n"
    );
    fs::write(&path, text).unwrap();
    path
}

fn run_script(script: &Path, out: &Path) {
    profbench()
        .args(["matrix", "--quick", "--backends", "cprofile", "--script"])
        .arg(script)
        .args(["--script-args", "'a b' c ñ", "--out"])
        .arg(out)
        .assert()
        .success();
}

#[test]
fn a_script_with_phase_markers_gets_accuracy_and_self_time() {
    let dir = tempfile::tempdir().unwrap();
    let script = awkward_script(
        dir.path(),
        "from profbench_truth import phase\nwith phase('work', work):\n    work()\nwith phase('rest', rest):\n    rest()",
    );
    let out = dir.path().join("run é");
    run_script(&script, &out);
    let none = cell(&out, "direct__prog é__none.json");
    assert_eq!(none["status"]["state"], "ok", "{none:#}");
    let c = cell(&out, "direct__prog é__cprofile.json");
    assert_eq!(c["status"]["state"], "ok", "{c:#}");
    let phases = c["accuracy"]["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 2, "{c:#}");
    let run = c["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "profiled" && r["warmup"] == false)
        .unwrap();
    let shares = run["self_time"]["shares"].as_array().unwrap();
    assert!(
        shares
            .iter()
            .any(|s| s[0] == "prog é.py:work" || s[0] == "prog é.py:<genexpr>"),
        "{shares:?}"
    );
}

#[test]
fn a_script_without_markers_runs_with_no_truth() {
    let dir = tempfile::tempdir().unwrap();
    let script = awkward_script(dir.path(), "work()\nrest()");
    let out = dir.path().join("run");
    run_script(&script, &out);
    let none = cell(&out, "direct__prog é__none.json");
    assert_eq!(none["status"]["state"], "ok", "{none:#}");
    let c = cell(&out, "direct__prog é__cprofile.json");
    assert_eq!(c["status"]["state"], "ok", "{c:#}");
    assert!(c["accuracy"].is_null());
    assert!(
        c["accuracy_note"]
            .as_str()
            .unwrap()
            .contains("marks no phases"),
        "{c:#}"
    );
    assert!(c["overhead"]["wall"]["median"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_script_that_fails_without_a_profiler_is_a_workload_failure() {
    let dir = tempfile::tempdir().unwrap();
    let script = awkward_script(dir.path(), "raise RuntimeError('broken program ñ')");
    let out = dir.path().join("run");
    run_script(&script, &out);
    let none = cell(&out, "direct__prog é__none.json");
    assert_eq!(none["status"]["category"], "workload-failed", "{none:#}");
    assert!(
        none["status"]["error"]
            .as_str()
            .unwrap()
            .contains("broken program ñ"),
        "{none:#}"
    );
    let c = cell(&out, "direct__prog é__cprofile.json");
    assert_eq!(c["status"]["category"], "workload-failed", "{c:#}");
    assert!(c["checks"].as_array().is_none_or(|k| k
        .iter()
        .all(|k| k["verdict"] != "pass" && k["verdict"] != "fail")));
}

#[test]
fn unclosed_quotes_and_unknown_suites_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let script = awkward_script(dir.path(), "");
    let out = profbench()
        .args(["matrix", "--script"])
        .arg(&script)
        .args(["--script-args", "'a b"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("close every quote"), "{err}");
    let out = profbench()
        .args(["matrix", "--suite", "pyperfomance:raytrace"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown suite 'pyperfomance'") && err.contains("pyperformance"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_pyperformance_benchmark_runs_as_a_pyperf_worker_with_its_own_timing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let bad = profbench()
        .args([
            "matrix",
            "--suite",
            "pyperformance:raytrace,nosuch",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("unknown pyperformance benchmark 'nosuch'") && err.contains("raytrace"),
        "{err}"
    );
    profbench()
        .args([
            "matrix",
            "--quick",
            "--backends",
            "py-spy",
            "--suite",
            "pyperformance:richards",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let suite: Value = serde_json::from_slice(&fs::read(out.join("suite.json")).unwrap()).unwrap();
    assert!(suite["benchmarks"]["richards"]["loops"].as_u64().unwrap() >= 1);
    let none = cell(&out, "direct__richards__none.json");
    assert_eq!(none["status"]["state"], "ok", "{none:#}");
    assert!(none["overhead"]["own_time"]["median"].as_f64().unwrap() > 0.0);
    let c = cell(&out, "direct__richards__py-spy.json");
    assert_eq!(c["status"]["state"], "ok", "{c:#}");
    let run = c["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "profiled" && r["warmup"] == false)
        .unwrap();
    assert!(run["own_time_s"].as_f64().unwrap() > 0.0);
    assert_eq!(run["self_time"]["source"], "leaf samples");
    // No py-spy-1000hz cells: the distance is absent and says why, never a number.
    let report = fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(
        report.contains("no reference: py-spy-1000hz was not run"),
        "{report}"
    );
}
