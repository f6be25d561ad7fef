//! Debian chroot platforms: a tree made by `debootstrap --variant=minbase` from the host's
//! own apt mirror, kept under the cache folder (never in the repository), entered with
//! chroot(8) with an empty environment. profbench's binary is copied in; the matrix inside
//! builds its pinned environment with the tree's own Python, so profiler and workload both
//! run on the tree's libc and Python.

use super::mirror;
use super::mounts::{self, Mounts};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// What a chroot platform is made of.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    /// Debian suite given to debootstrap.
    pub suite: &'static str,
    /// Installed with apt-get inside, after the base system.
    pub packages: &'static [&'static str],
    /// The interpreter the matrix inside uses.
    pub python: &'static str,
    /// apt-get options this platform needs (recorded in its descriptor).
    pub apt_options: &'static [&'static str],
}

pub const SPECS: &[Spec] = &[
    Spec {
        name: "debian13",
        suite: "trixie",
        packages: &["python3", "python3-venv", "ca-certificates"],
        python: "/usr/bin/python3",
        apt_options: &[],
    },
    Spec {
        name: "sid-py315",
        suite: "sid",
        packages: &["python3.15", "python3.15-venv", "ca-certificates"],
        python: "/usr/bin/python3.15",
        // Unstable's Release file outlives its Valid-Until on machines whose clock or mirror
        // snapshot is off; apt refuses it otherwise.
        apt_options: &["-o", "Acquire::Check-Valid-Until=false"],
    },
];

/// Written into the tree when it is complete: how it was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildRecord {
    pub debootstrap: String,
    pub apt: String,
    pub mirror: String,
    pub built_at: String,
}

const RECORD: &str = ".profbench-platform.json";
/// Where the profbench binary is copied inside the tree.
pub const EXE_INSIDE: &str = "/usr/local/bin/profbench";
/// The environment inside: nothing from the host (no PATH, PIP_*, PYTHON*), but the CA bundle
/// the host trusts (copied in) so that a TLS-intercepting network still reaches PyPI.
pub const CLEAN_ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("LANG", "C.UTF-8"),
    ("DEBIAN_FRONTEND", "noninteractive"),
    ("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"),
    // The workloads folder is the host's, shared: no __pycache__ written into the checkout.
    ("PYTHONDONTWRITEBYTECODE", "1"),
];
const HOST_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

pub fn find(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name == name)
}

pub fn tree(spec: &Spec) -> PathBuf {
    crate::pyenv::cache_dir().join("platforms").join(spec.name)
}

/// The tree's build record, when the tree is complete.
pub fn built(spec: &Spec) -> Option<BuildRecord> {
    serde_json::from_slice(&std::fs::read(tree(spec).join(RECORD)).ok()?).ok()
}

/// Why a chroot cannot be built or entered here, if it cannot.
pub fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root (debootstrap, mount and chroot)".into());
    }
    if which::which("debootstrap").is_err() {
        return Some("debootstrap is not installed (Debian: apt-get install debootstrap)".into());
    }
    mirror::host_mirror().err()
}

/// One line for the platform descriptor.
pub fn how_built(spec: &Spec, record: &BuildRecord) -> String {
    format!(
        "chroot: {}; {}; mirror {} (the host's apt source); built {}",
        record.debootstrap, record.apt, record.mirror, record.built_at
    )
    .replace(&tree(spec).display().to_string(), "TREE")
}

fn run_logged(cmd: &mut Command, what: &str, log: &Path) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("creating {}", log.display()))?;
    eprintln!("{what} (log: {})", log.display());
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("{what}: cannot start {:?}", cmd.get_program()))?;
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        bail!(
            "{what} failed ({status}):\n{}",
            lines[lines.len().saturating_sub(8)..].join("\n")
        );
    }
    Ok(())
}

/// Copies what the host knows into the tree before anything in it goes online.
fn copy_host_files(tree: &Path) -> Result<()> {
    for (from, to) in [
        ("/etc/resolv.conf", "etc/resolv.conf"),
        (HOST_CA, "etc/ssl/certs/ca-certificates.crt"),
    ] {
        let to = tree.join(to);
        std::fs::create_dir_all(to.parent().unwrap())?;
        // resolv.conf may be a symlink into /run in the tree: replace it with a file.
        let _ = std::fs::remove_file(&to);
        std::fs::copy(from, &to)
            .with_context(|| format!("copying {from} into {}", tree.display()))?;
    }
    Ok(())
}

/// chroot(8) into the tree, in `cwd`, with only `CLEAN_ENV` and `env`.
pub fn command(
    tree: &Path,
    cwd: &Path,
    argv: &[OsString],
    env: &[(OsString, OsString)],
) -> Command {
    // Found on the host's PATH: the command itself gets an empty environment.
    let chroot = which::which("chroot").unwrap_or_else(|_| "/usr/sbin/chroot".into());
    let mut cmd = Command::new(chroot);
    cmd.arg(tree)
        .arg("/usr/bin/env")
        .arg("-i")
        .arg("-C")
        .arg(cwd);
    for (k, v) in CLEAN_ENV {
        cmd.arg(format!("{k}={v}"));
    }
    for (k, v) in env {
        let mut kv = k.clone();
        kv.push("=");
        kv.push(v);
        cmd.arg(kv);
    }
    cmd.args(argv);
    cmd.env_clear();
    cmd
}

/// Builds the tree: debootstrap, host CA and resolver copied in, the packages installed.
pub fn build(spec: &Spec) -> Result<()> {
    if let Some(why) = unavailable() {
        bail!("{}: {why}", spec.name);
    }
    let tree = tree(spec);
    let busy = mounts::mounted_under(&tree);
    if !busy.is_empty() {
        bail!(
            "{} is in use ({} mounted inside): wait for its run to end",
            tree.display(),
            busy[0].display()
        );
    }
    if tree.exists() {
        std::fs::remove_dir_all(&tree)
            .with_context(|| format!("removing the old {}", tree.display()))?;
    }
    std::fs::create_dir_all(&tree).with_context(|| format!("creating {}", tree.display()))?;
    let mirror = mirror::host_mirror().map_err(anyhow::Error::msg)?;
    let log = tree.with_extension("build.log");
    let _ = std::fs::remove_file(&log);
    let debootstrap = format!(
        "debootstrap --variant=minbase --include=ca-certificates {} {} {mirror}",
        spec.suite,
        tree.display()
    );
    let started = std::time::Instant::now();
    run_logged(
        Command::new("debootstrap")
            .args(["--variant=minbase", "--include=ca-certificates", spec.suite])
            .arg(&tree)
            .arg(&mirror),
        &format!("{}: {debootstrap}", spec.name),
        &log,
    )?;
    copy_host_files(&tree)?;
    let apt = format!(
        "apt-get {0} update && apt-get {0} install -y --no-install-recommends {1}",
        spec.apt_options.join(" "),
        spec.packages.join(" ")
    )
    .replace("  ", " ");
    {
        let _mounts = Mounts::enter(&tree, &[])?;
        let sh = |script: String| vec![OsString::from("/bin/sh"), "-c".into(), script.into()];
        run_logged(
            &mut command(&tree, Path::new("/"), &sh(apt.clone()), &[]),
            &format!("{}: {apt}", spec.name),
            &log,
        )?;
    }
    let record = BuildRecord {
        debootstrap: debootstrap.replace(&tree.display().to_string(), "TREE"),
        apt,
        mirror,
        built_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    std::fs::write(tree.join(RECORD), serde_json::to_vec_pretty(&record)?)?;
    eprintln!(
        "{}: built in {:.0} s at {}",
        spec.name,
        started.elapsed().as_secs_f64(),
        tree.display()
    );
    Ok(())
}

/// Deletes the tree; refused while anything is mounted inside (a run in progress, or one that
/// was killed: its mounts would take host folders down with the tree).
pub fn remove(spec: &Spec) -> Result<()> {
    let tree = tree(spec);
    if !tree.exists() {
        bail!(
            "{} is not built ({} does not exist)",
            spec.name,
            tree.display()
        );
    }
    remove_tree(&tree)?;
    let _ = std::fs::remove_file(tree.with_extension("build.log"));
    Ok(())
}

/// Deletes a tree unless something is mounted inside.
pub fn remove_tree(tree: &Path) -> Result<()> {
    let busy = mounts::mounted_under(tree);
    if !busy.is_empty() {
        bail!(
            "{} has {} mount(s) inside (first: {}): wait for its run to end, or unmount them (umount -R {})",
            tree.display(),
            busy.len(),
            busy[0].display(),
            tree.display()
        );
    }
    std::fs::remove_dir_all(tree).with_context(|| format!("removing {}", tree.display()))
}

/// Runs `argv` inside the tree in `cwd` (a host folder shared at the same path, with the
/// other `shared` ones), the profbench binary copied in first; unmounts on every path out.
pub fn run(
    spec: &Spec,
    cwd: &Path,
    shared: &[PathBuf],
    argv: &[OsString],
    env: &[(OsString, OsString)],
) -> Result<ExitStatus> {
    if let Some(why) = unavailable() {
        bail!("{}: {why}", spec.name);
    }
    if built(spec).is_none() {
        bail!(
            "{} is not built: run `profbench platform build {}`",
            spec.name,
            spec.name
        );
    }
    let tree = tree(spec);
    copy_host_files(&tree)?;
    let exe = std::env::current_exe().context("locating the profbench executable")?;
    let inside_exe = tree.join(EXE_INSIDE.trim_start_matches('/'));
    std::fs::create_dir_all(inside_exe.parent().unwrap())?;
    std::fs::copy(&exe, &inside_exe)
        .with_context(|| format!("copying {} into {}", exe.display(), tree.display()))?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for d in std::iter::once(cwd.to_path_buf()).chain(shared.iter().cloned()) {
        if !dirs.iter().any(|k| d.starts_with(k)) {
            dirs.retain(|k| !k.starts_with(&d));
            dirs.push(d);
        }
    }
    if let Some(d) = dirs.iter().find(|d| tree.starts_with(d)) {
        bail!(
            "{} holds the platform tree itself: run from the profbench checkout (or pass --out elsewhere)",
            d.display()
        );
    }
    let _mounts = Mounts::enter(&tree, &dirs)?;
    let status = command(&tree, cwd, argv, env)
        .status()
        .context("running chroot")?;
    Ok(status)
}
