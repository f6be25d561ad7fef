//! End-to-end: the real binary, the real Python environment, real profilers. Assertions are
//! about content (statuses, ratios, what the profile found), never about timings.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn profbench() -> Command {
    let mut c = Command::cargo_bin("profbench").unwrap();
    c.current_dir(repo());
    c
}

fn cell(out: &Path, name: &str) -> Value {
    let path = out.join("cells").join(name);
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn leftover_pythons(out: &Path) -> Vec<String> {
    // Any process still running a workload of this test's run is a leak.
    let needle = out.to_string_lossy().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            std::fs::read(e.path().join("environ"))
                .ok()
                .map(|env| (e.path(), env))
        })
        .filter(|(_, env)| String::from_utf8_lossy(env).contains(&needle))
        .map(|(p, _)| p.display().to_string())
        .collect()
}

#[test]
fn unknown_backend_is_one_clear_line() {
    let out = profbench()
        .args(["matrix", "--backends", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown backend 'nope'") && err.contains("cprofile"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn unknown_workload_lists_the_valid_ones() {
    let out = profbench()
        .args(["matrix", "--workloads", "nope"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown workload 'nope'") && err.contains("single"),
        "{err}"
    );
}

#[test]
fn quick_matrix_gives_cprofile_a_status_run_on_the_line_workload() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    profbench()
        .args([
            "matrix",
            "--quick",
            "--launchers",
            "direct",
            "--backends",
            "cprofile",
            "--workloads",
            "line",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();

    let none = cell(&out, "direct__line__none.json");
    assert_eq!(none["status"]["state"], "ok", "{none:#}");
    let c = cell(&out, "direct__line__cprofile.json");
    assert_eq!(c["status"]["state"], "ok", "{c:#}");
    assert!(
        c["backend_version"].is_null(),
        "cProfile is stdlib: no distribution version"
    );
    // `line` is marked `quick=status`: one profiled run, so no overhead, and the cell says so.
    assert!(c["overhead"].is_null(), "{c:#}");
    assert!(
        c["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("status run only")),
        "{c:#}"
    );
    let profiled = c["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "profiled")
        .count();
    assert_eq!(profiled, 1, "{c:#}");
    // Accuracy against truth for both phases, small for a tracer whose clock is the truth's.
    let acc = &c["accuracy"];
    assert_eq!(acc["phases"].as_array().unwrap().len(), 2);
    assert!(acc["mae_pp"].as_f64().unwrap() < 5.0, "{acc}");
    // The heavy line's work, builtins.sum, holds nearly all of mixed_lines' time.
    let raw = out
        .join("raw")
        .join("direct__line__cprofile")
        .join("profile.json");
    let profile: profbench_profilers::Profile =
        serde_json::from_slice(&std::fs::read(raw).unwrap()).unwrap();
    let mixed = profile.inclusive_seconds("mixed_lines", Some("line.py"));
    let sum = profile.inclusive_seconds("<built-in method builtins.sum>", None);
    assert!(
        mixed > 0.0 && sum / mixed > 0.9,
        "sum {sum} of mixed_lines {mixed}"
    );
    let table = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(
        table.contains("| line | cprofile | direct | ok |"),
        "{table}"
    );
    assert!(leftover_pythons(&out).is_empty());
}

#[test]
fn rounds_pair_each_profiled_run_with_the_mean_of_the_baseline_runs_around_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    profbench()
        .args([
            "matrix",
            "--launchers",
            "direct",
            "--backends",
            "cprofile,pyinstrument",
            "--workloads",
            "line",
            "--pairing",
            "rounds",
            "--runs",
            "2",
            "--until-ci",
            "off",
            "--budget",
            "none",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let none = cell(&out, "direct__line__none.json");
    let baseline_runs = none["runs"].as_array().unwrap();
    for name in [
        "direct__line__cprofile.json",
        "direct__line__pyinstrument.json",
    ] {
        let c = cell(&out, name);
        assert_eq!(c["status"]["state"], "ok", "{c:#}");
        let runs = c["runs"].as_array().unwrap();
        let kind = |k: &'static str| runs.iter().filter(move |r| r["kind"] == k);
        // Two profiled runs, no warm-up, and no baseline run of the cell's own: each pair's
        // baseline is the mean of two runs of the `none` row, the one before its round and
        // the one after.
        assert_eq!(kind("profiled").count(), 2, "{c:#}");
        assert!(runs.iter().all(|r| r["warmup"] == false), "{c:#}");
        let mut previous_after = 0;
        for b in kind("baseline") {
            let from: Vec<usize> = b["shared_from"]
                .as_array()
                .unwrap_or_else(|| panic!("a baseline of its own in {c:#}"))
                .iter()
                .map(|i| i.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(from.len(), 2, "{b:#}");
            assert!(from[0] < from[1] && from[1] > previous_after, "{from:?}");
            previous_after = from[1];
            let wall = |i: usize| {
                let r = &baseline_runs[i];
                assert_eq!(r["kind"], "baseline");
                assert_eq!(r["warmup"], false);
                r["measured"]["wall_s"].as_f64().unwrap()
            };
            let mean = (wall(from[0]) + wall(from[1])) / 2.0;
            let shared = b["measured"]["wall_s"].as_f64().unwrap();
            assert!((shared - mean).abs() < 1e-9, "{shared} vs {mean}");
        }
        assert_eq!(kind("baseline").count(), 2, "{c:#}");
        assert_eq!(c["overhead"]["wall"]["n"], 2, "{c:#}");
    }
    assert!(leftover_pythons(&out).is_empty());
}

#[cfg(unix)]
#[test]
fn ctrl_c_keeps_finished_cells_and_resume_skips_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let bin = assert_cmd::cargo::cargo_bin("profbench");
    let args = [
        "matrix",
        "--launchers",
        "direct",
        "--until-ci",
        "off",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--backends",
        "cprofile",
        "--workloads",
        "library,line",
    ];
    let mut child = std::process::Command::new(&bin)
        .current_dir(repo())
        .args(args)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first cell is written, in the middle of the next one.
    let first = out.join("cells").join("direct__library__none.json");
    let deadline = Instant::now() + Duration::from_secs(1200);
    while !first.exists() {
        assert!(Instant::now() < deadline, "first cell never finished");
        assert!(child.try_wait().unwrap().is_none(), "profbench ended early");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(first.exists());
    let kept = std::fs::read(&first).unwrap();
    assert!(
        leftover_pythons(&out).is_empty(),
        "processes left after Ctrl-C"
    );
    // The cells the interrupt left without a run are named, with how to run them.
    let md = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(md.contains("## Not measured"), "{md}");
    assert!(md.contains("with `--resume` runs them"), "{md}");

    let resumed = std::process::Command::new(&bin)
        .current_dir(repo())
        .args(args)
        .arg("--out")
        .arg(&out)
        .arg("--resume")
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("finished cell(s) kept"));
    // Nothing of the finished baseline row was run again: its runs are kept as they were
    // (rounds that share its baseline may add runs after them).
    let kept: Value = serde_json::from_slice(&kept).unwrap();
    let now = cell(&out, "direct__library__none.json");
    assert_eq!(now["started"], kept["started"], "a finished cell was rerun");
    let (was, is) = (
        kept["runs"].as_array().unwrap(),
        now["runs"].as_array().unwrap(),
    );
    assert!(
        is.len() >= was.len() && is[..was.len()] == was[..],
        "a finished cell was rerun"
    );
    for name in [
        "direct__library__cprofile.json",
        "direct__line__none.json",
        "direct__line__cprofile.json",
    ] {
        assert_eq!(cell(&out, name)["status"]["state"], "ok", "{name}");
    }
    assert!(leftover_pythons(&out).is_empty());
}
