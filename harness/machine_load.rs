//! Other programs' CPU use while a cell ran: the CPU time of every process on the machine that
//! is not profbench or one of its descendants, from /proc/<pid>/stat at the cell's start and
//! end, per second of the cell. A shared machine moves whole-process timings; a cell measured
//! while others used CPU says so.
//!
//! Counted per process rather than as machine busy time minus our own rusage: the processes of
//! a run (Ray's daemons among them) are reaped at various times, so rusage deltas would put
//! their CPU in the wrong cell. Processes that start and end between the two snapshots are
//! missed: this is a warning, not an accounting.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// One process as /proc/<pid>/stat describes it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Proc {
    ppid: u32,
    /// Clock ticks since boot when it started: tells a reused pid from the same process.
    start: u64,
    /// utime + stime, clock ticks.
    cpu: u64,
}

pub struct Snapshot {
    at: Instant,
    /// Processes that are not ours, by pid.
    others: HashMap<u32, Proc>,
}

/// The fields after the command name, which may itself hold spaces and parentheses.
fn parse_stat(text: &str) -> Option<Proc> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15, starttime 22.
    let n = |i: usize| f.get(i - 3)?.parse::<u64>().ok();
    Some(Proc {
        ppid: n(4)? as u32,
        cpu: n(14)? + n(15)?,
        start: n(22)?,
    })
}

fn processes() -> Option<HashMap<u32, Proc>> {
    let mut all = HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may end between the listing and the read: skip it.
        if let Some(p) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| parse_stat(&t))
        {
            all.insert(pid, p);
        }
    }
    Some(all)
}

/// The processes that are neither `me` nor descended from it.
fn not_descended(all: HashMap<u32, Proc>, me: u32) -> HashMap<u32, Proc> {
    let mut ours: HashSet<u32> = HashSet::from([me]);
    // Parents may be listed after their children: repeat until nothing is added.
    loop {
        let before = ours.len();
        for (pid, p) in &all {
            if ours.contains(&p.ppid) {
                ours.insert(*pid);
            }
        }
        if ours.len() == before {
            break;
        }
    }
    all.into_iter()
        .filter(|(pid, _)| !ours.contains(pid))
        .collect()
}

#[cfg(unix)]
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64
}

/// No /proc to read elsewhere (`Snapshot::take` is None): any value serves.
#[cfg(not(unix))]
fn ticks_per_second() -> f64 {
    100.0
}

impl Snapshot {
    /// None where /proc is not readable (not Linux, a restricted container).
    pub fn take() -> Option<Snapshot> {
        Some(Snapshot {
            at: Instant::now(),
            others: not_descended(processes()?, std::process::id()),
        })
    }

    /// CPU cores other programs kept busy on average since `self`.
    pub fn others_cores(&self) -> Option<f64> {
        let now = Snapshot::take()?;
        let wall = now.at.duration_since(self.at).as_secs_f64();
        if wall < 0.5 {
            return None;
        }
        Some(others_ticks(&self.others, &now.others) as f64 / ticks_per_second() / wall)
    }
}

/// CPU ticks used between two snapshots by processes that are not ours: the growth of those
/// seen twice, the whole of those new since the first.
fn others_ticks(before: &HashMap<u32, Proc>, after: &HashMap<u32, Proc>) -> u64 {
    after
        .iter()
        .map(|(pid, p)| match before.get(pid) {
            Some(b) if b.start == p.start => p.cpu.saturating_sub(b.cpu),
            _ => p.cpu,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let line = "1234 (a (b) c) S 77 1 1 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 1 0 98765 1 1";
        assert_eq!(
            parse_stat(line),
            Some(Proc {
                ppid: 77,
                cpu: 175,
                start: 98765
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn our_descendants_are_left_out_wherever_they_are_listed() {
        let p = |ppid| Proc {
            ppid,
            start: 1,
            cpu: 10,
        };
        // 30 is a grandchild listed before its parent 20; 40 is someone else's.
        let all = HashMap::from([(30, p(20)), (20, p(10)), (40, p(1)), (10, p(1))]);
        let others = not_descended(all, 10);
        assert_eq!(others.keys().copied().collect::<Vec<_>>(), vec![40]);
    }

    #[test]
    fn growth_counts_and_a_reused_pid_is_a_new_process() {
        let before = HashMap::from([
            (
                1,
                Proc {
                    ppid: 0,
                    start: 5,
                    cpu: 100,
                },
            ),
            (
                2,
                Proc {
                    ppid: 0,
                    start: 5,
                    cpu: 50,
                },
            ),
        ]);
        let after = HashMap::from([
            (
                1,
                Proc {
                    ppid: 0,
                    start: 5,
                    cpu: 130,
                },
            ), // +30
            (
                2,
                Proc {
                    ppid: 0,
                    start: 9,
                    cpu: 20,
                },
            ), // reused pid: all 20
            (
                3,
                Proc {
                    ppid: 0,
                    start: 9,
                    cpu: 7,
                },
            ), // new: all 7
        ]);
        assert_eq!(others_ticks(&before, &after), 57);
    }

    #[test]
    fn a_snapshot_of_this_machine_sees_no_negative_load() {
        let s = Snapshot::take().expect("/proc is readable on Linux");
        std::thread::sleep(std::time::Duration::from_millis(600));
        assert!(s.others_cores().unwrap() >= 0.0);
    }
}
