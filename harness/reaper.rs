//! Process-tree bookkeeping: this process adopts orphaned descendants (Linux subreaper), so
//! daemons that escape their process group (Ray's raylet and GCS, forked children) are still
//! found, measured, ended and reaped.

use std::process::Child;
use std::time::{Duration, Instant};
use sysinfo::{Pid, ProcessStatus, ProcessesToUpdate, System};

pub enum Status {
    Exited(i32),
    Signalled(i32),
}

pub struct Waited {
    pub status: Status,
    /// Largest RSS of the child or any descendant it waited for.
    pub max_rss_bytes: Option<u64>,
}

/// Makes orphaned descendants re-parent to this process instead of init. Call once at start.
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Waits for the child, collecting its resource usage.
#[cfg(unix)]
pub fn wait_child(child: Child) -> Waited {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        if r == -1 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Waited {
                status: Status::Exited(-1),
                max_rss_bytes: None,
            };
        }
    }
    let status = if libc::WIFSIGNALED(status) {
        Status::Signalled(libc::WTERMSIG(status))
    } else {
        Status::Exited(libc::WEXITSTATUS(status))
    };
    // ru_maxrss is in KiB on Linux, bytes on macOS.
    let unit = if cfg!(target_os = "macos") { 1 } else { 1024 };
    Waited {
        status,
        max_rss_bytes: Some(usage.ru_maxrss as u64 * unit),
    }
}

#[cfg(not(unix))]
pub fn wait_child(mut child: Child) -> Waited {
    let status = match child.wait() {
        Ok(s) => Status::Exited(s.code().unwrap_or(-1)),
        Err(_) => Status::Exited(-1),
    };
    Waited {
        status,
        max_rss_bytes: None,
    }
}

/// User + system CPU seconds of all reaped children of this process, so far.
pub fn children_cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
            return None;
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Some(secs(usage.ru_utime) + secs(usage.ru_stime))
    }
    #[cfg(not(unix))]
    None
}

/// Asks a process group to end, then forces it a second later.
pub fn end_group(pgid: u32) {
    #[cfg(unix)]
    unsafe {
        libc::kill(-(pgid as libc::pid_t), libc::SIGTERM);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
        });
    }
    #[cfg(not(unix))]
    {
        let _ = pgid;
    }
}

/// Living processes (not threads) below this one: (pid, name).
pub fn descendants() -> Vec<(u32, String)> {
    let me = Pid::from_u32(std::process::id());
    let mut sys = System::new();
    sys.refresh_processes(ProcessesToUpdate::All, true);
    let procs = sys.processes();
    let mut found = Vec::new();
    for (pid, p) in procs {
        if p.thread_kind().is_some() || *pid == me || p.status() == ProcessStatus::Zombie {
            continue;
        }
        let mut up = p.parent();
        let mut hops = 0;
        while let Some(parent) = up {
            if parent == me {
                found.push((pid.as_u32(), p.name().to_string_lossy().into_owned()));
                break;
            }
            hops += 1;
            if hops > 64 {
                break;
            }
            up = procs.get(&parent).and_then(|q| q.parent());
        }
    }
    found.sort();
    found
}

/// Ends every descendant still alive (TERM, then KILL after a grace period), reaps them, and
/// returns what it ended as "name (pid)".
#[cfg_attr(not(unix), allow(unused_variables, unused_assignments))]
pub fn end_descendants() -> Vec<String> {
    let mut ended = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut signal = 15;
    let mut first = true;
    loop {
        reap_zombies();
        let left = descendants();
        if left.is_empty() || Instant::now() > deadline {
            break;
        }
        for (pid, name) in &left {
            if first {
                ended.push(format!("{name} ({pid})"));
            }
            #[cfg(unix)]
            unsafe {
                libc::kill(*pid as libc::pid_t, signal);
            }
        }
        first = false;
        std::thread::sleep(Duration::from_millis(500));
        signal = 9;
    }
    reap_zombies();
    ended
}

/// Collects exited children that were re-parented to us, so their CPU is counted.
fn reap_zombies() {
    #[cfg(unix)]
    loop {
        let mut status = 0;
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if r <= 0 {
            break;
        }
    }
}
