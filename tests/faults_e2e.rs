//! Fault injection with real misbehaving processes, registered as backends from
//! tests/faults/backends.json: each fault ends in the right status, the other cells are
//! intact, and nothing is left running. Paths with spaces and non-ASCII names throughout.

use assert_cmd::Command;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A workloads folder named like the article author's, holding the fault workloads and truth.py.
fn workloads_in(dir: &Path) -> PathBuf {
    let w = dir.join("ワークロード dir");
    fs::create_dir_all(&w).unwrap();
    for f in ["tiny.py", "broken.py", "requirements.txt"] {
        fs::copy(repo().join("tests/faults").join(f), w.join(f)).unwrap();
    }
    fs::copy(repo().join("workloads/truth.py"), w.join("truth.py")).unwrap();
    w
}

fn cell(out: &Path, name: &str) -> Value {
    let path = out.join("cells").join(name);
    serde_json::from_slice(&fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

fn status(c: &Value) -> (String, String) {
    let s = &c["status"];
    (
        s["category"]
            .as_str()
            .unwrap_or(s["state"].as_str().unwrap())
            .to_string(),
        s["error"].as_str().unwrap_or("").to_string(),
    )
}

/// Processes whose environment mentions this test's folder: leftovers of its runs.
fn leftovers(marker: &Path) -> Vec<String> {
    let needle = marker.to_string_lossy().to_string();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            fs::read(e.path().join("environ"))
                .ok()
                .map(|env| (e.path(), env))
        })
        .filter(|(_, env)| String::from_utf8_lossy(env).contains(&needle))
        .map(|(p, _)| {
            fs::read_to_string(p.join("cmdline"))
                .unwrap_or_default()
                .replace('\0', " ")
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn every_fault_gets_its_status_and_nothing_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let workloads = workloads_in(dir.path());
    let out = dir.path().join("結果").join("run 1");
    let backends = "fault-hang,fault-segfault,fault-garbage,fault-truncated,fault-silent,fault-endless,fault-orphans,fault-cprofile";
    Command::cargo_bin("profbench")
        .unwrap()
        .current_dir(repo())
        .args([
            "matrix",
            "--launchers",
            "direct",
            "--until-ci",
            "off",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--timeout",
            "8",
            "--output-cap-mb",
            "8",
        ])
        .args([
            "--backend-file",
            "tests/faults/backends.json",
            "--backends",
            backends,
            "--workloads",
            "tiny,broken",
        ])
        .arg("--workloads-dir")
        .arg(&workloads)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();

    let expect = [
        ("fault-hang", "timed-out", "timed out after 8 s"),
        ("fault-segfault", "crashed", "signal 11"),
        ("fault-garbage", "unparseable-output", "pstats"),
        ("fault-truncated", "unparseable-output", "truncated"),
        ("fault-silent", "no-output", "p.pstats"),
        ("fault-endless", "crashed", "output cap"),
    ];
    for (backend, category, words) in expect {
        let (got, error) = status(&cell(&out, &format!("direct__tiny__{backend}.json")));
        assert_eq!(got, category, "{backend}: {error}");
        assert!(
            error.contains(words),
            "{backend}: '{words}' not in: {error}"
        );
    }
    // The escaped daemon is found, ended and named; the run itself is fine.
    let orphans = cell(&out, "direct__tiny__fault-orphans.json");
    assert_eq!(status(&orphans).0, "ok");
    let ended = orphans["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["measured"]["ended_leftovers"].as_array().unwrap().clone())
        .collect::<Vec<_>>();
    assert!(
        ended.iter().any(|p| p.as_str().unwrap().contains("sleep")),
        "{ended:?}"
    );
    // The working backend among them is intact, with numbers.
    let ok = cell(&out, "direct__tiny__fault-cprofile.json");
    assert_eq!(status(&ok).0, "ok");
    assert!(ok["accuracy"]["mae_pp"].as_f64().is_some(), "{ok:#}");
    // The broken workload is a workload failure with its traceback, never a profiler's fault.
    let (none_status, error) = status(&cell(&out, "direct__broken__none.json"));
    assert_eq!(none_status, "workload-failed");
    assert!(error.contains("ValueError: broken on purpose"), "{error}");
    for backend in ["fault-cprofile", "fault-segfault"] {
        assert_eq!(
            status(&cell(&out, &format!("direct__broken__{backend}.json"))).0,
            "workload-failed"
        );
    }
    assert!(
        leftovers(dir.path()).is_empty(),
        "left running: {:?}",
        leftovers(dir.path())
    );
    let table = fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(
        table.contains("**timed out**") && table.contains("**workload failed**"),
        "{table}"
    );
    // No temporary files are left beside the results.
    let stray: Vec<_> = fs::read_dir(out.join("cells"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".json"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

/// A profiler that worked and then hung: the cell's status is the time-out, and its error
/// says the runs before it worked (an intermittent hang reads differently from one that never
/// ran).
#[cfg(unix)]
#[test]
fn a_hang_after_runs_that_worked_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let workloads = workloads_in(dir.path());
    let out = dir.path().join("run");
    Command::cargo_bin("profbench")
        .unwrap()
        .current_dir(repo())
        .args(["matrix", "--launchers", "direct", "--until-ci", "off"])
        .args(["--runs", "2", "--warmup", "0", "--timeout", "8"])
        .args(["--backend-file", "tests/faults/backends.json"])
        .args(["--backends", "fault-hang-later", "--workloads", "tiny"])
        .arg("--workloads-dir")
        .arg(&workloads)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let (category, error) = status(&cell(&out, "direct__tiny__fault-hang-later.json"));
    assert_eq!(category, "timed-out", "{error}");
    assert!(
        error.contains("profiled run 2 failed after 1 that worked: timed out after 8 s"),
        "{error}"
    );
}

#[test]
fn a_malformed_backend_file_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("b.json");
    fs::write(&f, "[{\"name\": 1}]").unwrap();
    let out = Command::cargo_bin("profbench")
        .unwrap()
        .current_dir(repo())
        .args(["matrix", "--backend-file"])
        .arg(&f)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("malformed backend file") && err.trim().lines().count() == 1,
        "{err}"
    );
}

/// Ray's raylet, GCS and workers outlive a driver that exits without `ray.shutdown()`: the
/// harness must find them (they re-parent to it), end them and name them.
#[cfg(target_os = "linux")]
#[test]
fn a_ray_cluster_left_running_is_ended() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    Command::cargo_bin("profbench")
        .unwrap()
        .current_dir(repo())
        .args(["matrix", "--runs", "1", "--warmup", "0", "--timeout", "240"])
        .args(["--launchers", "direct", "--until-ci", "off"])
        .args([
            "--backend-file",
            "tests/faults/ray-backends.json",
            "--backends",
            "fault-ray-left-running",
            "--workloads",
            "line",
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let c = cell(&out, "direct__line__fault-ray-left-running.json");
    let ended: Vec<String> = c["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["measured"]["ended_leftovers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
        })
        .collect();
    // Which of Ray's processes outlive the driver varies (raylet and GCS notice their driver
    // died; the dashboard and idle workers do not): some Ray process must have been ended.
    assert!(
        ended
            .iter()
            .any(|p| p.contains("ray::") || p.contains("raylet") || p.contains("gcs_server")),
        "{ended:?}"
    );
    let raylets = std::process::Command::new("pgrep")
        .args(["-f", "raylet"])
        .output()
        .unwrap();
    let pids = String::from_utf8_lossy(&raylets.stdout).to_string();
    // Only raylets started by this test's run would carry its folder; none may be left.
    assert!(
        leftovers(dir.path()).is_empty(),
        "left running: {:?} (raylets: {pids})",
        leftovers(dir.path())
    );
}
