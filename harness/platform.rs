//! The platform descriptor stored with every result: what the code ran on and the host facts
//! that move timings (as pyperf records them).

use serde::{Deserialize, Serialize};
use std::fs;
use sysinfo::System;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Platform {
    /// Short id used in tables: e.g. `debian-12-x86_64-glibc2.36-py3.11.7`.
    pub id: String,
    pub os: String,
    pub os_version: String,
    pub arch: String,
    pub libc: String,
    pub python: String,
    pub root: bool,
    /// Whether a same-user process may ptrace a non-child (Yama scope 0) or we have the
    /// capability; what py-spy and Austin need to attach.
    pub ptrace: String,
    pub container: bool,
    pub cpu_model: String,
    pub cores: usize,
    pub governor: Option<String>,
    pub memory_bytes: u64,
    pub load_at_start: f64,
    pub load_at_end: Option<f64>,
    pub kernel: String,
    /// The platform's name when run through `--platforms` (`host`, `py3.12`, `debian13`,
    /// `restricted`…); empty for a plain run.
    #[serde(default)]
    pub name: String,
    /// The user the runs ran as, e.g. `root (uid 0)` or `nobody (uid 65534)`.
    #[serde(default)]
    pub user: String,
    /// Effective capabilities (`/proc/self/status` CapEff): `all`, `none` or the mask.
    #[serde(default)]
    pub capabilities: String,
    /// The seccomp mode of the runs (`/proc/self/status` Seccomp), e.g. `filter`.
    #[serde(default)]
    pub seccomp: String,
    /// How the platform was made, e.g. the debootstrap command and apt options.
    #[serde(default)]
    pub how_built: String,
}

fn os_release() -> (String, String) {
    let text = fs::read_to_string("/etc/os-release").unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
    };
    (
        get("ID").unwrap_or_else(|| std::env::consts::OS.into()),
        // Debian unstable has no VERSION_ID, only the codename of the next release.
        get("VERSION_ID")
            .or_else(|| get("VERSION_CODENAME"))
            .unwrap_or_else(|| "unknown".into()),
    )
}

fn libc_version() -> String {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        let p = libc::gnu_get_libc_version();
        return format!("glibc{}", std::ffi::CStr::from_ptr(p).to_string_lossy());
    }
    #[allow(unreachable_code)]
    "unknown".into()
}

fn ptrace_policy() -> String {
    match fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").map(|s| s.trim().to_string()) {
        Ok(s) => format!("yama scope {s}"),
        Err(_) if cfg!(target_os = "linux") => "no yama (classic ptrace rules)".into(),
        Err(_) => "n/a".into(),
    }
}

/// What this process may not do to another process of its own user, which profilers that
/// read a target from outside (py-spy, Austin) need: read its memory (`process_vm_readv`) and
/// attach to it (`ptrace`). Probed on a child (`sleep`): None when both are allowed (or the
/// probe could not run), else the refusals with their errors. Tools often misreport a refusal
/// ("no python processes found"), so the harness asks the platform itself.
/// The answer does not change while this process runs: probed once, then remembered (the
/// run's settings and its platform descriptor both ask).
#[cfg(target_os = "linux")]
pub fn outside_reads_denied() -> Option<String> {
    static PROBED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    PROBED.get_or_init(probe_outside_reads).clone()
}

#[cfg(target_os = "linux")]
fn probe_outside_reads() -> Option<String> {
    use nix::errno::Errno;
    use nix::sys::uio::{process_vm_readv, RemoteIoVec};
    use nix::unistd::Pid;
    let mut child = std::process::Command::new("sleep").arg("5").spawn().ok()?;
    let pid = Pid::from_raw(child.id() as i32);
    let mut byte = [0u8; 1];
    // Address 4096 is never mapped: an allowed read fails with EFAULT, a refused one earlier.
    let read = process_vm_readv(
        pid,
        &mut [std::io::IoSliceMut::new(&mut byte)],
        &[RemoteIoVec { base: 4096, len: 1 }],
    );
    let attach = nix::sys::ptrace::seize(pid, nix::sys::ptrace::Options::empty());
    let _ = child.kill();
    let _ = child.wait();
    let mut denied = Vec::new();
    match read {
        Ok(_) | Err(Errno::EFAULT) => {}
        Err(e) => denied.push(format!("process_vm_readv: {}", e.desc())),
    }
    if let Err(e) = attach {
        denied.push(format!("ptrace: {}", e.desc()));
    }
    (!denied.is_empty()).then(|| denied.join(", "))
}

#[cfg(not(target_os = "linux"))]
pub fn outside_reads_denied() -> Option<String> {
    None
}

fn in_container() -> bool {
    std::path::Path::new("/.dockerenv").exists()
        || std::path::Path::new("/run/.containerenv").exists()
        || fs::read_to_string("/proc/1/cgroup")
            .map(|c| c.contains("docker") || c.contains("kubepods") || c.contains("lxc"))
            .unwrap_or(false)
}

pub fn load_average() -> f64 {
    System::load_average().one
}

fn is_root() -> bool {
    #[cfg(unix)]
    return unsafe { libc::geteuid() } == 0;
    #[cfg(not(unix))]
    false
}

/// A field of `/proc/self/status` (Linux), e.g. `CapEff` or `Seccomp`.
fn proc_status(field: &str) -> Option<String> {
    fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(|v| v.trim().to_string())
        })
}

fn user() -> String {
    #[cfg(unix)]
    {
        let uid = nix::unistd::geteuid();
        let name = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| "?".into());
        return format!("{name} (uid {uid})");
    }
    #[allow(unreachable_code)]
    "unknown".into()
}

fn capabilities() -> String {
    match proc_status("CapEff").and_then(|hex| u64::from_str_radix(&hex, 16).ok()) {
        Some(0) => "none".into(),
        // CAP_SYS_ADMIN (21) and CAP_SYS_PTRACE (19) are the ones profilers care about.
        Some(mask) if mask & (1 << 21) != 0 && mask & (1 << 19) != 0 => {
            format!("0x{mask:x} (incl. CAP_SYS_PTRACE, CAP_SYS_ADMIN)")
        }
        Some(mask) => format!("0x{mask:x}"),
        None => "unknown".into(),
    }
}

fn seccomp_mode() -> String {
    match proc_status("Seccomp").as_deref() {
        Some("0") => "none".into(),
        Some("1") => "strict".into(),
        Some("2") => "filter".into(),
        Some(other) => other.into(),
        None => "unknown".into(),
    }
}

/// Set by `matrix --platforms` for each platform's run (see harness/platforms/).
pub const NAME_VAR: &str = "PROFBENCH_PLATFORM";
pub const BUILT_VAR: &str = "PROFBENCH_PLATFORM_BUILT";

pub fn describe(python: (u32, u32, u32)) -> Platform {
    let (os, os_version) = os_release();
    let mut sys = System::new();
    sys.refresh_cpu_all();
    sys.refresh_memory();
    let cpu_model = sys
        .cpus()
        .first()
        .map(|c| c.brand().trim().to_string())
        .unwrap_or_default();
    let arch = std::env::consts::ARCH.to_string();
    let libc = libc_version();
    let python = format!("{}.{}.{}", python.0, python.1, python.2);
    let name = std::env::var(NAME_VAR).unwrap_or_default();
    let id = format!("{os}-{os_version}-{arch}-{libc}-py{python}");
    Platform {
        // Two platforms may share OS and Python (`host` and `restricted`): the name tells them apart.
        id: if name.is_empty() {
            id
        } else {
            format!("{name}:{id}")
        },
        os,
        os_version,
        arch,
        libc,
        python,
        root: is_root(),
        ptrace: match outside_reads_denied() {
            None => ptrace_policy(),
            Some(denied) => format!("{}; refused here: {denied}", ptrace_policy()),
        },
        container: in_container(),
        cpu_model,
        cores: sys.cpus().len(),
        governor: fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
            .ok()
            .map(|s| s.trim().to_string()),
        memory_bytes: sys.total_memory(),
        load_at_start: load_average(),
        load_at_end: None,
        kernel: System::kernel_version().unwrap_or_default(),
        name,
        user: user(),
        capabilities: capabilities(),
        seccomp: seccomp_mode(),
        how_built: std::env::var(BUILT_VAR).unwrap_or_else(|_| "the host as it is".into()),
    }
}
