//! The `restricted` platform: the host's file system, but the profiler and the workload run as
//! `nobody`, with no capabilities, under a seccomp filter that makes ptrace,
//! process_vm_readv and process_vm_writev fail with EPERM: what a locked-down CI runner or a
//! hardened container gives a user. Which profilers still work there is for the matrix to find.

use anyhow::{bail, Context, Result};
use nix::unistd::{setgid, setgroups, setuid, User};
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter};
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const USER: &str = "nobody";

/// The system calls denied, by name (for the descriptor) and number.
pub const DENIED: &[(&str, i64)] = &[
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
];

/// One line for the platform descriptor.
pub fn how_built() -> String {
    let names: Vec<&str> = DENIED.iter().map(|(n, _)| *n).collect();
    format!(
        "the host's file system; runs as {USER} with no capabilities, no_new_privs, seccomp filter: {} fail with EPERM",
        names.join(", ")
    )
}

pub fn filter() -> Result<BpfProgram> {
    let rules = DENIED.iter().map(|(_, nr)| (*nr, vec![])).collect();
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| anyhow::anyhow!("seccomp on {}: {e:?}", std::env::consts::ARCH))?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| anyhow::anyhow!("building the seccomp filter: {e}"))?;
    filter
        .try_into()
        .map_err(|e| anyhow::anyhow!("compiling the seccomp filter: {e:?}"))
}

/// Why this platform cannot be had here, if it cannot.
pub fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some(format!("needs root to switch to the user {USER}"));
    }
    if User::from_name(USER).ok().flatten().is_none() {
        return Some(format!("no user '{USER}' on this system"));
    }
    if std::fs::read_to_string("/proc/self/status")
        .map(|s| !s.contains("Seccomp:"))
        .unwrap_or(true)
    {
        return Some("the kernel has no seccomp".into());
    }
    None
}

/// Whether `path` can be reached and run by any user: every folder above it searchable.
pub fn reachable_by_others(path: &Path) -> bool {
    let Ok(real) = path.canonicalize() else {
        return false;
    };
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode())
            .unwrap_or(0)
    };
    mode(&real) & 0o005 == 0o005 && real.ancestors().skip(1).all(|d| mode(d) & 0o001 != 0)
}

/// Hands `dir` (recursively) to `nobody` so the runs can write there, or back to root after.
pub fn chown_tree(dir: &Path, to_nobody: bool) -> Result<()> {
    let (uid, gid) = if to_nobody {
        let u = User::from_name(USER)?.context("no user nobody")?;
        (u.uid, u.gid)
    } else {
        (nix::unistd::Uid::from_raw(0), nix::unistd::Gid::from_raw(0))
    };
    let (uid, gid) = (uid.as_raw(), gid.as_raw());
    let mut stack = vec![PathBuf::from(dir)];
    while let Some(p) = stack.pop() {
        std::os::unix::fs::lchown(&p, Some(uid), Some(gid))
            .with_context(|| format!("changing the owner of {}", p.display()))?;
        if p.is_dir() && !p.is_symlink() {
            for e in std::fs::read_dir(&p)? {
                stack.push(e?.path());
            }
        }
    }
    Ok(())
}

/// Becomes `nobody` (no supplementary groups; leaving uid 0 drops every capability), installs
/// the filter, and runs `argv` in place of this process. Returns only on failure.
pub fn exec(argv: &[OsString], env: &[(OsString, OsString)]) -> Result<std::convert::Infallible> {
    if let Some(why) = unavailable() {
        bail!("restricted: {why}");
    }
    let Some(program) = argv.first() else {
        bail!("nothing to run: profbench platform run restricted -- COMMAND");
    };
    let user = User::from_name(USER)?.context("no user nobody")?;
    let program = resolve(program, env);
    let filter = filter()?;
    setgroups(&[]).context("dropping supplementary groups")?;
    setgid(user.gid).context("switching group")?;
    setuid(user.uid).context("switching to nobody")?;
    // Sets no_new_privs too: no setuid binary can win the privileges back.
    seccompiler::apply_filter_all_threads(&filter)
        .map_err(|e| anyhow::anyhow!("installing the seccomp filter: {e}"))?;
    let err = Command::new(&program)
        .args(&argv[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .exec();
    bail!("cannot start {}: {err}", program.to_string_lossy())
}

/// A bare program name looked up on the PATH the program will have.
fn resolve(program: &OsString, env: &[(OsString, OsString)]) -> OsString {
    if Path::new(program).components().count() > 1 {
        return program.clone();
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    which::which_in(program, Some(path), "/")
        .map(OsString::from)
        .unwrap_or_else(|_| program.clone())
}
