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
        get("VERSION_ID").unwrap_or_else(|| "unknown".into()),
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
    Platform {
        id: format!("{os}-{os_version}-{arch}-{libc}-py{python}"),
        os,
        os_version,
        arch,
        libc,
        python,
        root: is_root(),
        ptrace: ptrace_policy(),
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
    }
}
