//! The sampler must never break its target: a target that pulls the channel out from under
//! the agent still runs to the same output and exit code, and nothing of the agent leaks out
//! of the profiled tree.

use profbench_sampler::{record, Format, RecordArgs};
use std::ffi::OsString;
use std::path::Path;

fn python3_runs() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "pass"])
        .status()
        .is_ok_and(|s| s.success())
}

fn args(out: &Path, command: Vec<OsString>) -> RecordArgs {
    RecordArgs {
        rate: 200.0,
        output: Some(out.to_path_buf()),
        format: Format::Json,
        subprocesses: true,
        duration_limit: None,
        grace: 1.0,
        quiet: true,
        no_native_reader: false,
        reader: Default::default(),
        command,
    }
}

/// Closes every inherited descriptor halfway (daemons do this), so the agent's socket dies
/// under it; then computes and writes a result that must not differ from a plain run's.
const HOSTILE: &str = r#"
import os, sys, json, subprocess

def work(n):
    return sum(i * i for i in range(n))

first = work(400_000)
os.closerange(3, 4096)          # the agent's channel goes too
# The lowest free number: most likely the agent's old one. The agent must neither write its
# samples into this file nor close it (it flushes every 100 ms while `work` runs).
out = open(sys.argv[1], "w")
second = work(2_000_000)
child = subprocess.run([sys.executable, "-c", "import sys; print('_profbench_agent' in sys.modules)"],
                       env={}, capture_output=True, text=True).stdout.strip()
json.dump({"first": first, "second": second, "outside_tree_has_agent": child}, out)
out.close()
sys.exit(7)
"#;

#[test]
fn a_hostile_target_keeps_its_output_and_exit_code() {
    if !python3_runs() {
        eprintln!("python3 not found: skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hostile.py");
    std::fs::write(&script, HOSTILE).unwrap();
    let plain_out = dir.path().join("plain.json");
    let plain = std::process::Command::new("python3")
        .arg(&script)
        .arg(&plain_out)
        .status()
        .unwrap();
    assert_eq!(plain.code(), Some(7));

    let pythonpath_before = std::env::var_os("PYTHONPATH");
    let profiled_out = dir.path().join("profiled.json");
    let code = record(&args(
        &dir.path().join("profile.json"),
        vec![
            "python3".into(),
            script.clone().into(),
            profiled_out.clone().into(),
        ],
    ))
    .unwrap();
    assert_eq!(
        code, 7,
        "the target's exit code must come through unchanged"
    );
    let plain: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plain_out).unwrap()).unwrap();
    let profiled: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&profiled_out).unwrap()).unwrap();
    assert_eq!(
        plain, profiled,
        "the agent changed what the target computed or wrote"
    );
    // A process started with a clean environment is outside the tree: no agent there.
    assert_eq!(profiled["outside_tree_has_agent"], "False");
    // Nothing of the agent leaks into the collector's own environment.
    assert_eq!(std::env::var_os("PYTHONPATH"), pythonpath_before);
}
