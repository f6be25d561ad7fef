//! Memory: peak RSS per process, and the peak attributed to the functions on the stack when it
//! was reached (the Python functions the RSS grew under).

use crate::recording::RssPoint;
use profbench_profilers::profile::{Memory, Profile};
use std::collections::HashMap;

/// Builds `Profile.memory` from RSS readings and the profile's timed samples.
/// `start_ns` converts reading times to the samples' "seconds since start".
pub fn attribute(profile: &Profile, rss: &[RssPoint], start_ns: u64) -> Option<Memory> {
    if rss.is_empty() {
        return None;
    }
    // Samples of each process, by time.
    let mut by_pid: HashMap<u32, Vec<(f64, &[u32])>> = HashMap::new();
    for s in &profile.samples {
        if let Some(t) = s.time {
            by_pid.entry(s.pid).or_default().push((t, &s.stack));
        }
    }
    for v in by_pid.values_mut() {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let mut readings: HashMap<u32, Vec<&RssPoint>> = HashMap::new();
    for r in rss {
        readings.entry(r.pid).or_default().push(r);
    }
    let mut peak_bytes = 0u64;
    let mut peak_by_function: HashMap<String, u64> = HashMap::new();
    for (pid, mut points) in readings {
        points.sort_by_key(|r| r.t_ns);
        let samples = by_pid.get(&pid).map(Vec::as_slice).unwrap_or(&[]);
        let mut prev_t = f64::NEG_INFINITY;
        let mut prev_hwm = 0u64;
        for r in points {
            let t = r.t_ns.saturating_sub(start_ns) as f64 / 1e9;
            // If the high-water mark rose since the last reading, the real peak happened in
            // between (and may be gone already): credit it, not the current RSS.
            let value = if r.hwm > prev_hwm && prev_hwm > 0 {
                r.hwm
            } else {
                r.rss
            };
            peak_bytes = peak_bytes.max(r.hwm.max(r.rss));
            // Stacks seen in (prev_t, t], or the last one before t when none were.
            let end = samples.partition_point(|(st, _)| *st <= t);
            let mut begin = samples[..end].partition_point(|(st, _)| *st <= prev_t);
            if begin == end && end > 0 {
                begin = end - 1;
            }
            for (_, stack) in &samples[begin..end] {
                for &i in stack.iter() {
                    if let Some(f) = profile.frames.get(i as usize) {
                        let e = peak_by_function.entry(f.function.clone()).or_insert(0);
                        *e = (*e).max(value);
                    }
                }
            }
            prev_t = t;
            prev_hwm = r.hwm;
        }
    }
    Some(Memory {
        peak_bytes: Some(peak_bytes),
        kind: "rss".into(),
        peak_by_function,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use profbench_profilers::profile::{Clock, Frame, Sample};

    fn sample(t: f64, stack: Vec<u32>) -> Sample {
        Sample {
            pid: 1,
            tid: 1,
            stack,
            weight: 0.01,
            count: 1,
            cpu: None,
            idle: None,
            time: Some(t),
        }
    }

    #[test]
    fn peak_goes_to_the_function_running_when_rss_grew() {
        let mut p = Profile::new(Clock::Wall);
        for f in ["main", "allocate", "compute"] {
            p.frames.push(Frame {
                file: "x.py".into(),
                function: f.into(),
                line: 1,
            });
        }
        p.samples = vec![
            sample(0.01, vec![0, 2]),
            sample(0.02, vec![0, 1]),
            sample(0.03, vec![0, 2]),
        ];
        let mb = 1 << 20;
        let at = |ms: u64| 1_000_000_000 + ms * 1_000_000;
        let rss = vec![
            RssPoint {
                pid: 1,
                t_ns: at(10),
                rss: 20 * mb,
                hwm: 20 * mb,
            },
            // The allocation peaked at 120 MB and was freed before this reading.
            RssPoint {
                pid: 1,
                t_ns: at(25),
                rss: 30 * mb,
                hwm: 120 * mb,
            },
            RssPoint {
                pid: 1,
                t_ns: at(35),
                rss: 25 * mb,
                hwm: 120 * mb,
            },
        ];
        let m = attribute(&p, &rss, 1_000_000_000).unwrap();
        assert_eq!(m.peak_bytes, Some(120 * mb));
        assert_eq!(m.peak_by_function["allocate"], 120 * mb);
        assert_eq!(m.peak_by_function["compute"], 25 * mb);
        assert_eq!(m.peak_by_function["main"], 120 * mb);
        assert_eq!(m.kind, "rss");
    }
}
