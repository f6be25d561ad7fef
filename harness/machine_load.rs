//! Other programs' CPU use while a cell ran: the machine's busy CPU time (/proc/stat) minus
//! the harness's own and its children's (getrusage), per second of the cell. A shared machine
//! moves whole-process timings; a cell measured while others used CPU says so.

use std::time::Instant;

pub struct Snapshot {
    at: Instant,
    /// Busy CPU seconds of the whole machine since boot.
    machine_busy_s: f64,
    /// CPU seconds of this process and of every child it has waited for.
    own_s: f64,
}

fn rusage_s(who: libc::c_int) -> f64 {
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid initial value.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Busy seconds from the first line of /proc/stat (user nice system idle iowait irq softirq
/// steal …, in clock ticks): everything but idle and iowait.
fn machine_busy_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_busy(stat.lines().next()?)
}

fn parse_busy(line: &str) -> Option<f64> {
    let fields: Vec<f64> = line
        .strip_prefix("cpu ")?
        .split_whitespace()
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if fields.len() < 8 {
        return None;
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let busy: f64 = fields.iter().sum::<f64>() - fields[3] - fields[4];
    Some(busy / hz)
}

impl Snapshot {
    /// None where /proc/stat is not readable (not Linux, a restricted container).
    pub fn take() -> Option<Snapshot> {
        Some(Snapshot {
            at: Instant::now(),
            machine_busy_s: machine_busy_s()?,
            own_s: rusage_s(libc::RUSAGE_SELF) + rusage_s(libc::RUSAGE_CHILDREN),
        })
    }

    /// CPU cores other programs kept busy on average since `self`.
    pub fn others_cores(&self) -> Option<f64> {
        let now = Snapshot::take()?;
        let wall = now.at.duration_since(self.at).as_secs_f64();
        if wall < 0.5 {
            return None;
        }
        let others = (now.machine_busy_s - self.machine_busy_s) - (now.own_s - self.own_s);
        Some((others / wall).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_leaves_out_idle_and_iowait() {
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let busy = parse_busy("cpu  100 0 50 1000 30 5 5 10 0 0").unwrap();
        assert!((busy - 170.0 / hz).abs() < 1e-9);
        assert!(parse_busy("intr 1 2 3").is_none());
    }
}
