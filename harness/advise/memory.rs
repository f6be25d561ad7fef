//! Memory spikes: each rise of a process's RSS between two readings is charged to the
//! functions whose code was running in that process between them (the innermost user frame of
//! each sample, in proportion to the samples' time), so allocation-heavy code shows by name.

use super::account::{Accounts, Kind};
use super::capture::RssReading;
use profbench_profilers::profile::Profile;
use serde::Serialize;
use std::collections::HashMap;

/// How much RSS grew while a function ran.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryEvidence {
    /// Sum of the RSS rises charged to the function, bytes.
    pub rise_bytes: u64,
    /// Readings between which it rose while the function ran.
    pub rises: u32,
    /// "rss over time" (rises between readings) or "peak while on the stack" (saved profiles).
    pub basis: &'static str,
}

/// From RSS readings over time (a live run).
pub fn from_readings(
    profile: &Profile,
    acc: &Accounts,
    rss: &[RssReading],
) -> HashMap<usize, MemoryEvidence> {
    // Samples of each process by time: (time, weight, owner).
    let mut by_pid: HashMap<u32, Vec<(f64, f64, usize)>> = HashMap::new();
    for s in &profile.samples {
        let (Some(t), Some(owner)) = (s.time, owner(acc, &s.stack)) else {
            continue;
        };
        by_pid.entry(s.pid).or_default().push((t, s.weight, owner));
    }
    for v in by_pid.values_mut() {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let mut readings: HashMap<u32, Vec<(f64, u64)>> = HashMap::new();
    for &(pid, t, bytes) in rss {
        readings.entry(pid).or_default().push((t, bytes));
    }
    let mut out: HashMap<usize, MemoryEvidence> = HashMap::new();
    for (pid, mut points) in readings {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let samples = by_pid.get(&pid).map(Vec::as_slice).unwrap_or(&[]);
        for pair in points.windows(2) {
            let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
            if r1 <= r0 {
                continue;
            }
            // Samples in (t0, t1]; or the last one before t1 when none fell in between.
            let end = samples.partition_point(|s| s.0 <= t1);
            let mut begin = samples[..end].partition_point(|s| s.0 <= t0);
            if begin == end && end > 0 {
                begin = end - 1;
            }
            let chosen = &samples[begin..end];
            let total: f64 = chosen.iter().map(|s| s.1).sum();
            if total <= 0.0 {
                continue;
            }
            let mut share: HashMap<usize, f64> = HashMap::new();
            for s in chosen {
                *share.entry(s.2).or_insert(0.0) += s.1 / total;
            }
            for (f, w) in share {
                let e = out.entry(f).or_insert_with(|| MemoryEvidence {
                    basis: "rss over time",
                    ..Default::default()
                });
                e.rise_bytes += ((r1 - r0) as f64 * w) as u64;
                e.rises += 1;
            }
        }
    }
    out
}

/// From a saved profile, which keeps only the highest RSS seen while each function was on a
/// stack: its excess over the lowest such peak (the program's RSS before its work grew it).
pub fn from_peaks(profile: &Profile, acc: &Accounts) -> HashMap<usize, MemoryEvidence> {
    let Some(memory) = &profile.memory else {
        return HashMap::new();
    };
    let Some(&floor) = memory.peak_by_function.values().min() else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for (f, key) in acc.funcs.iter().enumerate() {
        if let Some(&peak) = memory.peak_by_function.get(&key.function) {
            if peak > floor {
                out.insert(
                    f,
                    MemoryEvidence {
                        rise_bytes: peak - floor,
                        rises: 1,
                        basis: "peak while on the stack",
                    },
                );
            }
        }
    }
    out
}

fn owner(acc: &Accounts, stack: &[u32]) -> Option<usize> {
    let funcs = stack.iter().map(|&f| acc.func_of_frame[f as usize]);
    let mut last = None;
    let mut user = None;
    for f in funcs {
        last = Some(f);
        if acc.kinds[f] == Kind::User {
            user = Some(f);
        }
    }
    user.or(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use profbench_profilers::profile::{Clock, Frame, Sample};

    #[test]
    fn a_rise_goes_to_the_code_that_ran_between_the_readings() {
        let mut p = Profile::new(Clock::Wall);
        for f in ["compute", "allocate"] {
            p.frames.push(Frame {
                file: "/a/m.py".into(),
                function: f.into(),
                line: 1,
            });
        }
        for (k, frame) in [0u32, 0, 1, 1, 0].iter().enumerate() {
            p.samples.push(Sample {
                pid: 1,
                tid: 1,
                stack: vec![*frame],
                weight: 0.01,
                count: 1,
                cpu: Some(0.01),
                idle: Some(false),
                time: Some(0.005 + k as f64 * 0.01),
            });
        }
        let mb = 1 << 20;
        // 10 ms readings: flat, +100 MB while `allocate` ran, then freed.
        let rss = vec![
            (1, 0.0, 20 * mb),
            (1, 0.01, 20 * mb),
            (1, 0.02, 20 * mb),
            (1, 0.03, 70 * mb),
            (1, 0.04, 120 * mb),
            (1, 0.05, 30 * mb),
        ];
        let acc = super::super::account::account(&p);
        let m = from_readings(&p, &acc, &rss);
        let allocate = acc.index_of("allocate").unwrap();
        assert_eq!(m[&allocate].rise_bytes, 100 * mb);
        assert_eq!(m[&allocate].rises, 2);
        assert!(!m.contains_key(&acc.index_of("compute").unwrap()));
    }
}
