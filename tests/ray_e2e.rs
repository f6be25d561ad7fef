//! End-to-end: Ray's own tools as backends in the real matrix, on the real `ray` workload:
//! they run, pass the Ray axes they should on their own output, and no Ray process outlives a
//! run, including one ended mid-way. Assertions are about content, never timings.

use assert_cmd::Command;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cell(out: &Path, name: &str) -> Value {
    let path = out.join("cells").join(name);
    serde_json::from_slice(&fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

fn verdict(c: &Value, axis: u64) -> (String, String) {
    let check = c["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["axis"] == axis)
        .unwrap();
    (
        check["verdict"].as_str().unwrap().to_string(),
        check["evidence"].as_str().unwrap().to_string(),
    )
}

/// Processes whose environment mentions this test's folder (every run gets PROFBENCH_TRUTH
/// inside it): what a run left behind.
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

/// One Ray cluster at a time: two starting at once on a small machine time out in startup.
static ONE_CLUSTER: Mutex<()> = Mutex::new(());

fn matrix(out: &Path, backends: &str, timeout: &str) {
    let _one = ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    Command::cargo_bin("profbench")
        .unwrap()
        .current_dir(repo())
        .args([
            "matrix",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--timeout",
            timeout,
        ])
        .args(["--workloads", "ray", "--backends", backends])
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

#[test]
fn ray_timeline_and_state_run_and_pass_on_their_own_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    matrix(&out, "ray-timeline,ray-state", "300");
    for backend in ["ray-timeline", "ray-state"] {
        let c = cell(&out, &format!("direct__ray__{backend}.json"));
        assert_eq!(c["status"]["state"], "ok", "{backend}: {}", c["status"]);
        for axis in [6, 8, 9, 10] {
            let (v, ev) = verdict(&c, axis);
            assert_eq!(v, "pass", "{backend} axis {axis}: {ev}");
        }
    }
    assert!(
        leftovers(dir.path()).is_empty(),
        "left running: {:?}",
        leftovers(dir.path())
    );
}

#[test]
fn a_ray_peer_ended_mid_run_leaves_no_ray_process() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // 12 s: Ray's cluster is up and tasks are running when the run is ended.
    matrix(&out, "ray-timeline", "12");
    let c = cell(&out, "direct__ray__ray-timeline.json");
    // Ended by the timeout: the profiled run, or already its baseline (then the cell says the
    // workload fails without any profiler, quoting the timeout).
    assert_eq!(c["status"]["state"], "failed", "{}", c["status"]);
    assert!(
        c["status"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out after 12 s"),
        "{}",
        c["status"]
    );
    assert!(
        leftovers(dir.path()).is_empty(),
        "left running: {:?}",
        leftovers(dir.path())
    );
}
