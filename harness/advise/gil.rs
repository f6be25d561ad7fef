//! The GIL ceiling: stretches where several threads of one process ran Python code while the
//! process's Python threads together used at most about one core. Code running then cannot
//! go faster with more cores unless it stops holding the GIL (a Rust extension that releases
//! it, or a free-threaded Python).

use super::account::{Accounts, Kind};
use profbench_profilers::profile::Profile;
use serde::Serialize;
use std::collections::HashMap;

/// Length of a window in which threads' CPU is compared. Long against CPython's 5 ms switch
/// interval (every contending thread gets the GIL several times), short against program phases.
pub const WINDOW_S: f64 = 0.1;
/// A thread takes part in a window when it was on a CPU at least this share of it.
pub const ACTIVE_SHARE: f64 = 0.05;
/// The process counts as limited to one core when its Python threads used at most this many.
pub const ONE_CORE: f64 = 1.15;

/// How one function's own time met the GIL limit.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GilEvidence {
    /// Own thread-seconds spent in windows where the GIL capped the process.
    pub contended_s: f64,
    /// The function's share of its own time in such windows.
    pub share: f64,
    /// Mean number of threads running Python in those windows (time-weighted).
    pub threads: f64,
}

/// The whole program's GIL picture.
#[derive(Debug, Clone, Serialize)]
pub struct GilSummary {
    /// Wall seconds of windows where ≥ 2 threads ran Python on ≤ ~1 core together.
    pub capped_s: f64,
    /// Mean threads running Python in those windows, and the cores they used together.
    pub threads: f64,
    pub cores_used: f64,
    /// Cores of this machine: the most a GIL-free rewrite could use.
    pub machine_cores: usize,
    /// The speed-up bound for the capped stretches: min(threads, machine cores).
    pub ceiling: f64,
}

/// Per function (index into `Accounts::funcs`), and for the program.
pub fn analyse(
    profile: &Profile,
    acc: &Accounts,
) -> (HashMap<usize, GilEvidence>, Option<GilSummary>) {
    // CPU per (process, window, thread).
    let mut cpu: HashMap<(u32, i64), HashMap<u64, f64>> = HashMap::new();
    for s in &profile.samples {
        let Some(t) = s.time else { continue };
        let w = (t / WINDOW_S).floor() as i64;
        *cpu.entry((s.pid, w))
            .or_default()
            .entry(s.tid)
            .or_insert(0.0) += super::account::cpu_of(s);
    }
    // Windows the GIL capped: (threads active, cores used).
    let capped: HashMap<(u32, i64), (usize, f64)> = cpu
        .iter()
        .filter_map(|(k, threads)| {
            let active = threads
                .values()
                .filter(|&&c| c >= ACTIVE_SHARE * WINDOW_S)
                .count();
            let cores = threads.values().sum::<f64>() / WINDOW_S;
            (active >= 2 && cores <= ONE_CORE).then_some((*k, (active, cores)))
        })
        .collect();

    let mut per_func: HashMap<usize, GilEvidence> = HashMap::new();
    for s in &profile.samples {
        let Some(t) = s.time else { continue };
        let window = (s.pid, (t / WINDOW_S).floor() as i64);
        let Some(&(active, _)) = capped.get(&window) else {
            continue;
        };
        // Only threads that ran in the window took part (not one waiting in join()).
        let ran = cpu[&window].get(&s.tid).copied().unwrap_or(0.0);
        if ran < ACTIVE_SHARE * WINDOW_S {
            continue;
        }
        let funcs: Vec<usize> = s
            .stack
            .iter()
            .map(|&f| acc.func_of_frame[f as usize])
            .collect();
        let Some(owner) = funcs
            .iter()
            .rev()
            .find(|&&f| acc.kinds[f] == Kind::User)
            .or(funcs.last())
        else {
            continue;
        };
        let e = per_func.entry(*owner).or_default();
        e.contended_s += s.weight;
        e.threads += s.weight * active as f64;
    }
    for (f, e) in per_func.iter_mut() {
        if e.contended_s > 0.0 {
            e.threads /= e.contended_s;
        }
        let own = acc.tallies[*f].own_wall;
        e.share = if own > 0.0 { e.contended_s / own } else { 0.0 };
    }

    let machine_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let summary = (!capped.is_empty()).then(|| {
        let n = capped.len() as f64;
        let threads = capped.values().map(|(a, _)| *a as f64).sum::<f64>() / n;
        let cores_used = capped.values().map(|(_, c)| *c).sum::<f64>() / n;
        GilSummary {
            capped_s: n * WINDOW_S,
            threads,
            cores_used,
            machine_cores,
            ceiling: threads.min(machine_cores as f64),
        }
    });
    (per_func, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use profbench_profilers::profile::{Clock, Frame, Sample};

    #[test]
    fn threads_sharing_one_core_are_capped_and_a_lone_thread_is_not() {
        let mut p = Profile::new(Clock::Wall);
        p.frames.push(Frame {
            file: "/a/t.py".into(),
            function: "spin".into(),
            line: 3,
        });
        // 0.0–0.2 s: four threads, each on a CPU a quarter of the time (one core together).
        // 0.2–0.4 s: one thread alone, on a CPU all the time.
        for k in 0..20 {
            for tid in 1..=4u64 {
                p.samples.push(Sample {
                    pid: 7,
                    tid,
                    stack: vec![0],
                    weight: 0.01,
                    count: 1,
                    cpu: Some(0.0025),
                    idle: Some(true),
                    time: Some(k as f64 * 0.01 + 0.001),
                });
            }
        }
        for k in 20..40 {
            p.samples.push(Sample {
                pid: 7,
                tid: 1,
                stack: vec![0],
                weight: 0.01,
                count: 1,
                cpu: Some(0.01),
                idle: Some(false),
                time: Some(k as f64 * 0.01 + 0.001),
            });
        }
        let acc = super::super::account::account(&p);
        let (per, summary) = analyse(&p, &acc);
        let s = summary.unwrap();
        assert!((s.capped_s - 0.2).abs() < 1e-9, "{s:?}");
        assert_eq!(s.threads, 4.0);
        assert!((s.cores_used - 1.0).abs() < 1e-9);
        let spin = per[&0].clone();
        assert!((spin.contended_s - 0.8).abs() < 1e-9);
        assert!((spin.share - 0.8).abs() < 1e-9, "{spin:?}");
        assert_eq!(spin.threads, 4.0);
    }
}
