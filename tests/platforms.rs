//! Platforms on one machine: discovery, the descriptor every cell records, the restricted
//! platform's seccomp filter, chroot mount hygiene, and real cells on another platform.
//! Tests that need root (setuid, mount, chroot) say so and pass without it.

use assert_cmd::Command;
use profbench::platforms::mounts::{mounted_under, unmount_under, Mounts};
use serde_json::Value;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn profbench() -> Command {
    let mut c = Command::cargo_bin("profbench").unwrap();
    c.current_dir(repo());
    c
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn stdout(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn list_names_the_host_and_every_interpreter_with_its_real_version() {
    let text = stdout(profbench().args(["platform", "list"]));
    assert!(text.contains("  host "), "{text}");
    let found = profbench::platforms::interpreters::discover();
    for (name, i) in profbench::platforms::interpreters::name_all(&found) {
        assert!(
            text.contains(&format!("  {name} ")),
            "{name} missing:\n{text}"
        );
        // What the list says is what the interpreter says of itself.
        let v = std::process::Command::new(&i.path)
            .arg("-V")
            .output()
            .unwrap();
        let said =
            String::from_utf8_lossy(&v.stdout).to_string() + &String::from_utf8_lossy(&v.stderr);
        assert!(
            said.contains(&i.version_text()),
            "{}: {said}",
            i.path.display()
        );
        assert!(
            text.contains(&format!(
                "Python {} ({})",
                i.version_text(),
                i.path.display()
            )),
            "{text}"
        );
    }
    for elsewhere in ["windows", "macos"] {
        assert!(text.contains(elsewhere), "{text}");
    }
}

#[test]
fn an_unknown_platform_is_one_line_naming_the_valid_ones() {
    let out = profbench()
        .args(["platform", "run", "nope", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown platform 'nope'") && err.contains("host"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn the_restricted_descriptor_says_nobody_no_capabilities_and_seccomp() {
    if !is_root() {
        eprintln!("skipped: the restricted platform needs root to switch to nobody");
        return;
    }
    let exe = assert_cmd::cargo::cargo_bin("profbench");
    let text = stdout(
        profbench()
            .env("PROFBENCH_PLATFORM", "restricted")
            .args(["platform", "run", "restricted", "--"])
            .arg(&exe)
            .args(["platform", "describe"]),
    );
    let d: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(d["name"], "restricted", "{d}");
    assert!(d["id"].as_str().unwrap().starts_with("restricted:"), "{d}");
    assert!(d["user"].as_str().unwrap().starts_with("nobody"), "{d}");
    assert_eq!(d["root"], false, "{d}");
    assert_eq!(d["capabilities"], "none", "{d}");
    assert_eq!(d["seccomp"], "filter", "{d}");
    // The host's own descriptor, for contrast.
    let host: Value =
        serde_json::from_str(&stdout(profbench().args(["platform", "describe"]))).unwrap();
    assert_eq!(host["seccomp"], "none", "{host}");
    assert_eq!(host["root"], true, "{host}");
    // The harness probes what an outside reader needs, instead of trusting a tool's words.
    let ptrace = d["ptrace"].as_str().unwrap();
    assert!(
        ptrace.contains("refused here: process_vm_readv: Operation not permitted"),
        "{ptrace}"
    );
    assert!(
        ptrace.contains("ptrace: Operation not permitted"),
        "{ptrace}"
    );
    assert!(
        !host["ptrace"].as_str().unwrap().contains("refused"),
        "{host}"
    );
    for field in ["os", "arch", "libc", "python", "ptrace", "how_built"] {
        assert!(!d[field].as_str().unwrap_or("").is_empty(), "{field}: {d}");
    }
}

#[test]
fn seccomp_denies_process_vm_readv_and_ptrace_with_eperm() {
    if !is_root() {
        eprintln!("skipped: the restricted platform needs root to switch to nobody");
        return;
    }
    let program = repo().join("tests/fixtures/platforms/vm_read.py");
    // Without the filter the program reads its own memory.
    let mut plain = std::process::Command::new("/usr/bin/python3");
    plain.arg(&program);
    let host = stdout(&mut Command::from(plain));
    assert!(host.contains("process_vm_readv 16 profbench"), "{host}");
    let text = stdout(
        profbench()
            .args(["platform", "run", "restricted", "--", "python3"])
            .arg(&program),
    );
    assert!(
        text.contains("process_vm_readv -1 Operation not permitted"),
        "{text}"
    );
    assert!(text.contains("ptrace -1 Operation not permitted"), "{text}");
}

/// A scratch tree under /tmp, removed only when nothing is mounted inside (removing it with
/// a bind of /dev still inside would delete the host's device nodes).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        unmount_under(&self.0);
        if mounted_under(&self.0).is_empty() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn scratch_tree() -> (Scratch, PathBuf) {
    let tree = tempfile::tempdir().unwrap().keep();
    let shared = tree.join("shared-source");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("marker"), "here").unwrap();
    (Scratch(tree.clone()), shared)
}

#[test]
fn mounts_are_gone_after_the_guard_drops_and_after_a_panic() {
    if !is_root() {
        eprintln!("skipped: mounting needs root");
        return;
    }
    let (scratch, shared) = scratch_tree();
    let tree = scratch.0.join("tree");
    {
        let m = Mounts::enter(&tree, std::slice::from_ref(&shared)).unwrap();
        let now = mounted_under(&tree);
        for p in m.points() {
            assert!(
                now.contains(p),
                "{} not in /proc/self/mounts: {now:?}",
                p.display()
            );
        }
        let inside = profbench::platforms::mounts::inside(&tree, &shared).join("marker");
        assert_eq!(std::fs::read_to_string(inside).unwrap(), "here");
        assert!(tree.join("proc/self/status").exists());
    }
    assert_eq!(mounted_under(&tree), Vec::<PathBuf>::new());
    let panicked = std::panic::catch_unwind(|| {
        let _m = Mounts::enter(&tree, &[]).unwrap();
        assert!(!mounted_under(&tree).is_empty());
        panic!("a run that panics");
    });
    assert!(panicked.is_err());
    assert_eq!(mounted_under(&tree), Vec::<PathBuf>::new());
}

#[test]
fn removing_a_tree_with_mounts_inside_is_refused() {
    if !is_root() {
        eprintln!("skipped: mounting needs root");
        return;
    }
    let (scratch, _) = scratch_tree();
    let tree = scratch.0.join("tree");
    let m = Mounts::enter(&tree, &[]).unwrap();
    let err = profbench::platforms::chroot::remove_tree(&tree)
        .unwrap_err()
        .to_string();
    assert!(err.contains("mount"), "{err}");
    assert!(
        tree.join("proc/self").exists(),
        "the tree and its mounts must still be there"
    );
    drop(m);
    profbench::platforms::chroot::remove_tree(&tree).unwrap();
    assert!(!tree.exists());
}

/// The first discovered interpreter that is not the host's own (a second host Python).
fn other_interpreter() -> Option<String> {
    let out = profbench().args(["platform", "list"]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    lines.iter().find_map(|l| {
        let name = l.split_whitespace().next()?;
        (name.starts_with("py3.") && l.trim_end().ends_with(" available")).then(|| name.to_string())
    })
}

#[test]
fn a_real_cell_on_another_host_python() {
    let Some(name) = other_interpreter() else {
        eprintln!("skipped: no second CPython 3.8+ on this machine");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let status = profbench()
        .args([
            "matrix",
            "--platforms",
            &name,
            "--workloads",
            "line",
            "--backends",
            "cprofile",
            "--quick",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let dir = out.join("platforms").join(&name);
    let info: Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    let p = &info["platform"];
    assert_eq!(p["name"], name.as_str(), "{p}");
    assert!(
        p["python"]
            .as_str()
            .unwrap()
            .starts_with(name.trim_start_matches("py")),
        "{p}"
    );
    let cell: Value = serde_json::from_slice(
        &std::fs::read(dir.join("cells/direct__line__cprofile.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cell["status"]["state"], "ok", "{cell}");
    assert_eq!(cell["platform_id"], p["id"]);
    let md = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(
        md.contains(&format!("| {} |", p["id"].as_str().unwrap()))
            || md.contains(p["id"].as_str().unwrap()),
        "{md}"
    );
    assert!(std::fs::read_to_string(out.join("platforms.md"))
        .unwrap()
        .contains(&format!("| {name} | ran |")));
}

/// debootstrap (≈ 1 min) and the environment inside (≈ 2-4 min) the first time; reused after.
#[test]
fn a_real_cell_inside_debian13_leaves_no_mount() {
    if !is_root() || which::which("debootstrap").is_err() {
        eprintln!("skipped: a chroot needs root and debootstrap");
        return;
    }
    let tmp = tempfile::tempdir_in(repo().join("target")).unwrap();
    let out = tmp.path().join("run");
    let status = profbench()
        .args([
            "matrix",
            "--platforms",
            "debian13",
            "--workloads",
            "line",
            "--backends",
            "cprofile",
            "--quick",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let dir = out.join("platforms/debian13");
    let info: Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    let p = &info["platform"];
    assert_eq!(p["os"], "debian", "{p}");
    assert_eq!(p["os_version"], "13", "{p}");
    assert!(
        p["how_built"]
            .as_str()
            .unwrap()
            .contains("debootstrap --variant=minbase"),
        "{p}"
    );
    // The cell ran inside: its interpreter is the tree's, not the host's.
    assert_ne!(p["python"], "3.11.7");
    let cell: Value = serde_json::from_slice(
        &std::fs::read(dir.join("cells/direct__line__cprofile.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cell["status"]["state"], "ok", "{cell}");
    let cache = profbench::pyenv::cache_dir().join("platforms/debian13");
    assert_eq!(mounted_under(&cache), Vec::<PathBuf>::new());
}
