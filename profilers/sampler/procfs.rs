//! What only the OS knows: the monotonic clock shared with the agent, RSS, the process tree,
//! and who is at the other end of a socket.

use std::os::unix::io::AsRawFd;

/// CLOCK_MONOTONIC in ns: the clock the agent stamps samples with (`time.monotonic_ns`), so
/// times from every process and the collector line up.
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// (current RSS, peak RSS so far) of a process in bytes, from /proc/<pid>/status.
pub fn rss(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_rss(&text)
}

pub fn parse_status_rss(text: &str) -> Option<(u64, u64)> {
    let kib = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .map(|k| k * 1024)
    };
    let rss = kib("VmRSS:")?;
    Some((rss, kib("VmHWM:").unwrap_or(rss)))
}

/// Re-reads one process's RSS from its already open /proc files: statm every time (cheap),
/// status (for the peak, VmHWM) every 8th time.
pub struct RssReader {
    statm: std::fs::File,
    status: std::fs::File,
    page: u64,
    n: u64,
    hwm: u64,
    buf: Vec<u8>,
}

impl RssReader {
    pub fn open(pid: u32) -> Option<Self> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
        Some(RssReader {
            statm: std::fs::File::open(format!("/proc/{pid}/statm")).ok()?,
            status: std::fs::File::open(format!("/proc/{pid}/status")).ok()?,
            page,
            n: 0,
            hwm: 0,
            buf: vec![0; 4096],
        })
    }

    fn pread(file: &std::fs::File, buf: &mut [u8]) -> Option<usize> {
        use std::os::unix::fs::FileExt;
        file.read_at(buf, 0).ok().filter(|&n| n > 0)
    }

    /// (rss, peak rss) in bytes; None once the process is gone.
    pub fn read(&mut self) -> Option<(u64, u64)> {
        let n = Self::pread(&self.statm, &mut self.buf)?;
        let text = std::str::from_utf8(&self.buf[..n]).ok()?;
        let rss = text.split_whitespace().nth(1)?.parse::<u64>().ok()? * self.page;
        if self.n.is_multiple_of(8) {
            if let Some(n) = Self::pread(&self.status, &mut self.buf) {
                if let Some((_, hwm)) = std::str::from_utf8(&self.buf[..n])
                    .ok()
                    .and_then(parse_status_rss)
                {
                    self.hwm = hwm;
                }
            }
        }
        self.n += 1;
        self.hwm = self.hwm.max(rss);
        Some((rss, self.hwm))
    }
}

/// Parent pid from /proc/<pid>/stat (the field after the command name, which may hold spaces).
pub fn ppid(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_ppid(&text)
}

pub fn parse_stat_ppid(text: &str) -> Option<u32> {
    let after = &text[text.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Ancestors of `pid`, nearest first, stopping at pid 1 or after 64 steps.
pub fn ancestors(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut cur = pid;
    while let Some(p) = ppid(cur) {
        if p <= 1 || out.len() >= 64 || out.contains(&p) {
            break;
        }
        out.push(p);
        cur = p;
    }
    out
}

/// (pid, uid) of the peer of a connected Unix socket.
#[cfg(target_os = "linux")]
pub fn peer(sock: &impl AsRawFd) -> Option<(u32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt fills a ucred we own; len says how big it is.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut libc::ucred as *mut libc::c_void,
            &mut len,
        )
    };
    (rc == 0).then_some((cred.pid as u32, cred.uid))
}

#[cfg(not(target_os = "linux"))]
pub fn peer(_sock: &impl AsRawFd) -> Option<(u32, u32)> {
    None
}

pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_in_the_name() {
        let stat = "1234 (python x) y) S 99 1234 1234 0 -1 4194560";
        assert_eq!(parse_stat_ppid(stat), Some(99));
    }

    #[test]
    fn status_rss_and_hwm() {
        let status = "Name:\tpython3\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        assert_eq!(
            parse_status_rss(status),
            Some((102400 * 1024, 204800 * 1024))
        );
    }

    #[test]
    fn own_process_is_readable() {
        let me = std::process::id();
        assert!(rss(me).unwrap().0 > 0);
        let mut r = RssReader::open(me).unwrap();
        let (a, b) = r.read().unwrap();
        assert!(a > 0 && b >= a);
        assert!(r.read().is_some());
        assert!(ppid(me).is_some());
        let a = mono_ns();
        assert!(mono_ns() >= a);
    }
}
