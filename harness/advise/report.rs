//! The advice for one program: the run's facts, the GIL picture, the ranked functions and the
//! notes that qualify them. Serialised as-is for `--json`.

use super::account::{self, Accounts};
use super::capture::Capture;
use super::counter::{self, CountCost, Counted};
use super::gil::{self, GilSummary};
use super::growth::{self, Growth};
use super::memory;
use super::verdict::{self, Evidence, FunctionAdvice};
use serde::Serialize;
use std::collections::HashMap;

pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct SizeRun {
    pub size: f64,
    pub wall_s: Option<f64>,
    pub cpu_s: f64,
    pub samples: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    /// The command run, or the profile file read.
    pub source: String,
    pub interval_s: Option<f64>,
    pub achieved_hz: Option<f64>,
    pub wall_s: Option<f64>,
    /// Thread-seconds sampled, and of them on a CPU.
    pub sampled_s: f64,
    pub cpu_s: f64,
    pub samples: u64,
    pub threads: usize,
    pub processes: usize,
    pub exit_code: Option<i32>,
    pub gil: Option<GilSummary>,
    /// With --count-calls: what the counting run cost.
    pub count_calls: Option<CountCost>,
    /// With --sizes: one entry per run; the functions below come from the largest size.
    pub sizes: Vec<SizeRun>,
    pub functions: Vec<FunctionAdvice>,
    pub notes: Vec<String>,
}

/// Advice from one capture; `growth` (by function) when sizes were run.
pub fn build(cap: &Capture, source: String, sizes: &[SizeRun], counts: Option<Counted>) -> Report {
    build_with(cap, source, sizes.to_vec(), &[], counts)
}

/// Advice from runs at several sizes: the largest run is analysed, every run feeds the fit.
pub fn build_sized(runs: &[(f64, Capture)], source: String, counts: Option<Counted>) -> Report {
    let accounts: Vec<(f64, Accounts)> = runs
        .iter()
        .map(|(s, c)| (*s, account::account(&c.profile)))
        .collect();
    let fits = growth::fit_all(&accounts.iter().map(|(s, a)| (*s, a)).collect::<Vec<_>>());
    let sizes = runs
        .iter()
        .zip(&accounts)
        .map(|((size, cap), (_, acc))| SizeRun {
            size: *size,
            wall_s: cap.wall,
            cpu_s: acc.total_cpu,
            samples: acc.samples,
        })
        .collect();
    // The last run at the largest size is the one the table shows (max_by keeps the last).
    let largest = runs
        .iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .expect("sizes were checked to be at least two");
    build_with(&largest.1, source, sizes, &fits, counts)
}

fn build_with(
    cap: &Capture,
    source: String,
    sizes: Vec<SizeRun>,
    fits: &[(account::FuncKey, Growth)],
    counts: Option<Counted>,
) -> Report {
    let profile = &cap.profile;
    let acc = account::account(profile);
    let (gil_by_func, gil_summary) = gil::analyse(profile, &acc);
    let mem = match &cap.rss {
        Some(rss) => memory::from_readings(profile, &acc, rss),
        None => memory::from_peaks(profile, &acc),
    };
    let growth_by_func: HashMap<usize, Growth> = fits
        .iter()
        .filter_map(|(k, g)| Some((acc.funcs.iter().position(|f| f == k)?, g.clone())))
        .collect();
    let interval = profile.interval.unwrap_or(0.01);
    let exact_calls = counts
        .as_ref()
        .map(|c| counter::match_counts(c, &acc))
        .unwrap_or_default();
    let functions = verdict::advise(&Evidence {
        acc: &acc,
        gil: &gil_by_func,
        memory: &mem,
        growth: &growth_by_func,
        exact_calls: &exact_calls,
        interval,
    });
    let count_calls = counts.map(|c| CountCost {
        wall_s: c.wall_s,
        sampled_wall_s: cap.wall,
        ratio: cap.wall.filter(|&w| w > 0.0).map(|w| c.wall_s / w),
    });
    let mut notes = Vec::new();
    if let Some(code) = cap.exit_code.filter(|&c| c != 0) {
        notes.push(format!(
            "the program exited with code {code}: the advice covers only what ran before that"
        ));
    }
    match &count_calls {
        None => notes.push(format!(
            "call counts are lower bounds: a call is counted when consecutive samples of a thread \
             show a new frame, so calls shorter than the {:.0} ms interval, and repeated calls from \
             one line, are mostly missed (--count-calls counts them exactly in one more run)",
            interval * 1e3
        )),
        Some(c) => notes.push(format!(
            "exact calls come from one more run under cProfile (main thread of the top-level \
             Python), which took {:.2} s{}; one run each, so the ratio is rough",
            c.wall_s,
            c.ratio
                .map_or(String::new(), |r| format!(", {r:.2}x the sampled run's wall time"))
        )),
    }
    if cap.rss.is_none() {
        notes.push(
            "memory from a saved profile: only the highest RSS seen while each function was on a \
             stack (a live run charges each RSS rise to the code running when it happened)"
                .into(),
        );
    }
    if acc.cpu_unknown * 20 > acc.samples {
        notes.push(format!(
            "{} of {} samples carry no CPU time; they count as on-CPU unless marked idle",
            acc.cpu_unknown, acc.samples
        ));
    }
    if let Some(g) = &gil_summary {
        if g.machine_cores < 2 {
            notes.push(
                "this machine has one core: threads sharing it cannot be told from threads held back by the GIL"
                    .into(),
            );
        }
    }
    notes.extend(profile.warnings.iter().map(|w| format!("sampler: {w}")));
    Report {
        schema: SCHEMA,
        source,
        interval_s: profile.interval,
        achieved_hz: cap.achieved_hz,
        wall_s: cap.wall.or(profile.duration),
        sampled_s: acc.total_wall,
        cpu_s: acc.total_cpu,
        samples: acc.samples,
        threads: acc.threads,
        processes: acc.processes,
        exit_code: cap.exit_code,
        gil: gil_summary,
        count_calls,
        sizes,
        functions,
        notes,
    }
}
