//! Workers of a Ray cluster started outside profbench (`ray start`, two nodes on this machine)
//! are profiled through Ray's runtime-env hook, not only those of a cluster the driver starts.
//!
//! Slow (two raylets start, ~40 s) and needs Ray: run it with
//! `PROFBENCH_RAY_PYTHON=~/.cache/profbench/envs/<hash>/bin/python cargo test -p profbench-sampler --test ray_cluster -- --ignored`.

use profbench_profilers::profile::Profile;
use profbench_sampler::{record, Format, RecordArgs};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const DRIVER: &str = r#"
import os, ray
ray.init(address=os.environ["PROFBENCH_TEST_CLUSTER"])
@ray.remote(num_cpus=1, scheduling_strategy="SPREAD")
def remote_busy(n):
    t = 0
    for i in range(n):
        t += i & 7
    return ray.get_runtime_context().get_node_id()
print(len(set(ray.get([remote_busy.remote(3_000_000) for _ in range(6)]))))
ray.shutdown()
"#;

/// Ends the cluster whatever the test's outcome.
struct Cluster {
    ray: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(&self.ray).args(["stop", "--force"]).status();
    }
}

fn ray_start(ray: &Path, args: &[&str]) {
    let ok = Command::new(ray)
        .arg("start")
        .args(args)
        .env_remove("PYTHONPATH")
        .env("RAY_AUTH_MODE", "disabled")
        .env("RAY_USAGE_STATS_ENABLED", "0")
        .status()
        .unwrap()
        .success();
    assert!(ok, "ray start {args:?} failed");
}

#[test]
#[ignore = "starts a two-node Ray cluster (~40 s); needs PROFBENCH_RAY_PYTHON"]
fn workers_of_an_existing_two_node_cluster_are_profiled() {
    let python = PathBuf::from(std::env::var_os("PROFBENCH_RAY_PYTHON").expect(
        "set PROFBENCH_RAY_PYTHON to a python with ray installed (profbench's env has one)",
    ));
    let ray = python.with_file_name("ray");
    let _cluster = Cluster { ray: ray.clone() };
    ray_start(
        &ray,
        &[
            "--head",
            "--port=6391",
            "--num-cpus=1",
            "--include-dashboard=false",
        ],
    );
    ray_start(&ray, &["--address=127.0.0.1:6391", "--num-cpus=1"]);

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("driver.py");
    std::fs::write(&script, DRIVER).unwrap();
    let out = dir.path().join("profile.json");
    std::env::set_var("PROFBENCH_TEST_CLUSTER", "127.0.0.1:6391");
    std::env::set_var("RAY_AUTH_MODE", "disabled");
    let code = record(&RecordArgs {
        rate: 100.0,
        output: Some(out.clone()),
        format: Format::Json,
        subprocesses: true,
        duration_limit: None,
        grace: 2.0,
        quiet: true,
        no_native_reader: false,
        reader: Default::default(),
        command: vec![python.into(), script.into()],
    })
    .unwrap();
    assert_eq!(code, 0);
    let profile: Profile = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let frames = &profile.frames;
    let worker_pids: HashSet<u32> = profile
        .samples
        .iter()
        .filter(|s| {
            s.stack
                .iter()
                .any(|&i| frames[i as usize].function.ends_with("remote_busy"))
        })
        .map(|s| s.pid)
        .collect();
    assert!(
        worker_pids.len() >= 2,
        "remote_busy sampled in {} worker(s) of the two nodes",
        worker_pids.len()
    );
}
