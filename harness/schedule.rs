//! How much to run, in which order, and when it will end: a cost estimate before the run, an
//! ETA kept honest as cells finish, and, with a time budget, every cell's status first and then
//! pairs where the intervals are widest (docs/schedule.md).

use crate::results::{CellKey, CellRecord, RunKind, Status, BASELINE};
use crate::stats::Estimate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Before a workload's first baseline run, its seconds are unknown: this stands in.
const UNKNOWN_BASELINE_S: f64 = 10.0;
/// Before any profiled run, a backend's ratio is unknown: this stands in.
const UNKNOWN_RATIO: f64 = 1.5;

/// A round closes once its profiled runs have taken about this many baseline lengths: four
/// profiled runs of a cheap profiler, one of a slow one. Longer rounds save baseline runs but
/// put the two baselines further from the runs between them.
pub const ROUND_SPAN: f64 = 4.0;

/// Baseline runs per profiled run in rounds, for a backend of this wall ratio: a round holds
/// about `ROUND_SPAN / ratio` profiled runs (at least one) and adds one baseline run.
pub fn baselines_per_profiled_run(ratio: f64) -> f64 {
    1.0 / (ROUND_SPAN / ratio.max(f64::EPSILON)).ceil().max(1.0)
}

/// Seconds per run, learnt from the runs so far: each (launcher, workload)'s baseline wall
/// time, and each backend's median wall ratio over the cells it finished.
#[derive(Debug, Default)]
pub struct Estimator {
    baseline_s: BTreeMap<(String, String), f64>,
    ratios: BTreeMap<String, Vec<f64>>,
}

impl Estimator {
    /// Learns from a cell's record (any number of times: the newest record wins).
    pub fn observe(&mut self, record: &CellRecord) {
        let key = &record.key;
        if let Some(e) = Estimate::of(&walls(record, RunKind::Baseline)) {
            self.baseline_s
                .insert((key.launcher.clone(), key.workload.clone()), e.median);
        }
        if record.status != Status::Ok || key.is_baseline() {
            return;
        }
        let paired = record
            .overhead
            .as_ref()
            .and_then(|o| o.wall)
            .map(|r| r.median);
        // A status run alone has no pairs: its wall over the workload's baseline stands in.
        let unpaired = || {
            let base = self.baseline_s(&key.launcher, &key.workload)?;
            Some(Estimate::of(&walls(record, RunKind::Profiled))?.median / base)
        };
        if let Some(ratio) = paired.or_else(unpaired) {
            self.ratios
                .entry(key.backend.clone())
                .or_default()
                .push(ratio);
        }
    }

    /// A (launcher, workload)'s baseline seconds: measured, else the same workload under
    /// another launcher, else a stand-in (the plan says which are unknown).
    pub fn baseline_s(&self, launcher: &str, workload: &str) -> Option<f64> {
        self.baseline_s
            .get(&(launcher.to_string(), workload.to_string()))
            .or_else(|| {
                self.baseline_s
                    .iter()
                    .find(|((_, w), _)| w == workload)
                    .map(|(_, s)| s)
            })
            .copied()
    }

    /// A backend's wall ratio: its own median so far, else the median over every backend
    /// seen, else a stand-in.
    pub fn ratio(&self, backend: &str) -> f64 {
        if backend == BASELINE {
            return 1.0;
        }
        let median = |v: Vec<f64>| Estimate::of(&v).map(|e| e.median);
        self.ratios
            .get(backend)
            .and_then(|v| median(v.clone()))
            .or_else(|| median(self.ratios.values().flatten().copied().collect()))
            .unwrap_or(UNKNOWN_RATIO)
    }

    /// Seconds of `profiled` profiled runs of this cell in rounds, with their share of the
    /// baseline runs that open and close the rounds.
    pub fn cost_in_rounds_s(&self, key: &CellKey, profiled: usize) -> f64 {
        let ratio = self.ratio(&key.backend);
        let base = self
            .baseline_s(&key.launcher, &key.workload)
            .unwrap_or(UNKNOWN_BASELINE_S);
        base * profiled as f64 * (ratio + baselines_per_profiled_run(ratio))
    }

    /// Seconds of `baseline` baseline runs and `profiled` profiled runs of this cell.
    pub fn cost_s(&self, key: &CellKey, baseline: usize, profiled: usize) -> f64 {
        let base = self
            .baseline_s(&key.launcher, &key.workload)
            .unwrap_or(UNKNOWN_BASELINE_S);
        base * (baseline as f64 + profiled as f64 * self.ratio(&key.backend))
    }
}

/// Wall seconds of a cell's runs of one kind that succeeded.
fn walls(record: &CellRecord, kind: RunKind) -> Vec<f64> {
    record
        .runs
        .iter()
        .filter(|r| r.kind == kind && r.measured.succeeded())
        .map(|r| r.measured.wall_s)
        .collect()
}

/// The runs a cell still needs to reach `pairs` measured pairs (+ `warmup` warm-up pairs if it
/// has none): (baseline runs, profiled runs).
pub fn runs_needed(
    record: Option<&CellRecord>,
    backend: &str,
    pairs: usize,
    warmup: usize,
) -> (usize, usize) {
    if record.is_some_and(|r| r.status != Status::Ok) {
        return (0, 0);
    }
    let have = record.map(measured_pairs).unwrap_or(0);
    let has_warmup = record.is_some_and(|r| r.runs.iter().any(|r| r.warmup));
    let missing = pairs.saturating_sub(have);
    let warm = if has_warmup { 0 } else { warmup };
    if backend == BASELINE {
        ((missing + warm).max(usize::from(record.is_none())), 0)
    } else if pairs == 0 {
        (0, usize::from(record.is_none()))
    } else {
        // Warm-ups of the profiled side only (the schedule's lean warm-up).
        (missing, missing + warm)
    }
}

/// Measured pairs of a cell's main runs (a status run alone counts as none).
pub fn measured_pairs(record: &CellRecord) -> usize {
    let baseline = record.main_runs(RunKind::Baseline);
    if record.key.is_baseline() {
        baseline
    } else {
        baseline.min(record.main_runs(RunKind::Profiled))
    }
}

/// How much a cell still wants another pair, for the budgeted schedule: cells below the
/// asked pairs first (fewest pairs first, so every cell moves), then, with `until_ci`, cells
/// whose interval is wider than asked (widest first). None: the cell is done or cannot go on.
pub fn need(
    record: &CellRecord,
    pairs: usize,
    until_ci: Option<f64>,
    max_pairs: usize,
) -> Option<f64> {
    if record.status != Status::Ok || record.key.is_baseline() || pairs == 0 {
        return None;
    }
    let have = measured_pairs(record);
    let width = record
        .overhead
        .as_ref()
        .and_then(|o| o.wall)
        .map(|e| e.relative_width())
        .unwrap_or(f64::INFINITY);
    if have < pairs {
        // 1000 per missing pair dwarfs any relative width.
        return Some(1000.0 * (pairs - have) as f64 + width.min(999.0));
    }
    match until_ci {
        Some(target) if have < max_pairs && width > target => Some(width),
        _ => None,
    }
}

/// How a cut-short note starts (a later run replaces it).
pub const CUT_SHORT: &str = "cut short by the time budget";
/// How the note of a cell asked for its status only starts.
pub const STATUS_ONLY: &str = "status run only (--quick)";

/// Whether a note is one the schedule writes (replaced at the end of every run).
pub fn is_schedule_note(note: &str) -> bool {
    note.starts_with(CUT_SHORT) || note.starts_with(STATUS_ONLY)
}

/// A note for a cell the budget ended before it had what was asked.
pub fn cut_short_note(record: &CellRecord, pairs: usize, until_ci: Option<f64>) -> Option<String> {
    if record.status != Status::Ok || record.key.is_baseline() {
        return None;
    }
    if pairs == 0 {
        return Some(format!("{STATUS_ONLY}: no overhead measured here"));
    }
    let have = measured_pairs(record);
    let width = record
        .overhead
        .as_ref()
        .and_then(|o| o.wall)
        .map(|e| e.relative_width());
    match (until_ci, width) {
        _ if have == 0 => Some(format!(
            "{CUT_SHORT}: status run only, no overhead measured"
        )),
        _ if have < pairs => Some(format!("{CUT_SHORT}: {have} of {pairs} pairs")),
        (Some(t), Some(w)) if w > t => Some(format!(
            "{CUT_SHORT}: the interval is {:.0}% of the median after {have} pairs (asked: {:.0}%)",
            w * 100.0,
            t * 100.0
        )),
        _ => None,
    }
}

/// One ETA as it stood after a cell: seconds since the start, and the run's predicted total.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct EtaPoint {
    pub elapsed_s: f64,
    pub predicted_total_s: f64,
}

/// The schedule of a run as it went: written as schedule.json in the run folder.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScheduleLog {
    pub budget_s: Option<f64>,
    pub planned_cells: usize,
    pub first_estimate_s: Option<f64>,
    pub eta: Vec<EtaPoint>,
    pub total_s: Option<f64>,
    /// (fraction of the run, relative error of the total predicted then), at 25, 50, 75%.
    pub eta_error: Vec<(f64, f64)>,
    pub cut_short: Vec<String>,
    /// Cells a hard budget (`--quick`) left without a run: "launcher / workload / backend".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<String>,
}

impl ScheduleLog {
    /// Closes the log: the ETA's error at each quarter, from the newest prediction made by
    /// then (a prediction of the total, compared with the total it turned out to be).
    pub fn close(&mut self, total_s: f64) {
        self.total_s = Some(total_s);
        self.eta_error = [0.25, 0.5, 0.75]
            .iter()
            .filter_map(|&q| {
                let at = q * total_s;
                let p = self.eta.iter().rev().find(|p| p.elapsed_s <= at)?;
                Some((q, (p.predicted_total_s - total_s) / total_s))
            })
            .collect();
    }
}

/// The first pass under a hard budget (`--quick`): the index in `todo` of the next cell to run
/// among those whose estimated seconds fit in `left_s`, or None when none fits. Baselines come
/// first (every other cell of their workload needs them), then tools' main rows, then their
/// variants (another rate or mode of the same tool); cheapest first within each, so that as
/// many cells as possible get an answer.
pub fn next_within(
    todo: &[CellKey],
    is_variant: impl Fn(&CellKey) -> bool,
    cost_s: impl Fn(&CellKey) -> f64,
    left_s: f64,
) -> Option<usize> {
    todo.iter()
        .enumerate()
        .filter(|(_, k)| k.is_baseline() || cost_s(k) <= left_s)
        .min_by(|(_, a), (_, b)| {
            let rank = |k: &CellKey| (!k.is_baseline(), is_variant(k));
            rank(a).cmp(&rank(b)).then(cost_s(a).total_cmp(&cost_s(b)))
        })
        .map(|(i, _)| i)
}

/// "1 h 05 min", "4 min", "40 s".
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min", s.div_ceil(60))
    } else {
        format!("{s} s")
    }
}

/// A matrix's time budget; None: no limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget(pub Option<Duration>);

impl Budget {
    /// For clap: `parse_budget` as a `Budget`.
    pub fn parse(s: &str) -> Result<Budget, String> {
        parse_budget(s).map(Budget)
    }
}

/// Parses `90s`, `30m`, `1h`, `1h30m` or a number of minutes; `none` is no budget.
pub fn parse_budget(s: &str) -> Result<Option<Duration>, String> {
    let t = s.trim().to_lowercase();
    if t == "none" || t == "0" {
        return Ok(None);
    }
    let bad = || format!("'{s}' is not a duration: use e.g. 10m, 1h, 1h30m, 90s or none");
    let mut total = 0u64;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
    }
    if !num.is_empty() {
        total += num.parse::<u64>().map_err(|_| bad())? * 60;
    }
    if total == 0 {
        return Err(bad());
    }
    Ok(Some(Duration::from_secs(total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_shares_one_baseline_among_as_many_runs_as_fit_its_span() {
        assert_eq!(baselines_per_profiled_run(1.0), 0.25);
        assert_eq!(baselines_per_profiled_run(1.5), 1.0 / 3.0);
        // A round closes once it holds four baseline lengths: two runs at 3.6×, one at 4×.
        assert_eq!(baselines_per_profiled_run(3.6), 0.5);
        assert_eq!(baselines_per_profiled_run(4.0), 1.0);
    }

    #[test]
    fn budgets_parse_and_bad_ones_say_the_form() {
        assert_eq!(
            parse_budget("30m").unwrap(),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(
            parse_budget("1h30m").unwrap(),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(parse_budget("90s").unwrap(), Some(Duration::from_secs(90)));
        assert_eq!(parse_budget("45").unwrap(), Some(Duration::from_secs(2700)));
        assert_eq!(parse_budget("none").unwrap(), None);
        let e = parse_budget("soon").unwrap_err();
        assert!(e.contains("10m"), "{e}");
        assert!(parse_budget("5x").is_err());
    }

    fn key(workload: &str, backend: &str) -> CellKey {
        CellKey {
            launcher: "direct".into(),
            workload: workload.into(),
            backend: backend.into(),
        }
    }

    #[test]
    fn a_hard_budget_runs_baselines_then_main_rows_cheapest_first_and_only_what_fits() {
        let todo = vec![
            key("ray", "py-spy-1000hz"),
            key("ray", "py-spy"),
            key("single", "py-spy-1000hz"),
            key("ray", BASELINE),
            key("single", "py-spy"),
        ];
        let variant = |k: &CellKey| k.backend.ends_with("hz");
        let cost = |k: &CellKey| if k.workload == "ray" { 30.0 } else { 5.0 };
        let mut order = Vec::new();
        let mut left = 1000.0;
        let mut todo = todo;
        while let Some(i) = next_within(&todo, variant, cost, left) {
            let k = todo.remove(i);
            left -= cost(&k);
            order.push(format!("{}/{}", k.workload, k.backend));
        }
        assert_eq!(
            order,
            [
                "ray/none",
                "single/py-spy",
                "ray/py-spy",
                "single/py-spy-1000hz",
                "ray/py-spy-1000hz"
            ]
        );
        // 12 s left: only the cheap cells fit; the ray ones are left for another run.
        let todo = vec![key("ray", "py-spy"), key("single", "py-spy")];
        assert_eq!(next_within(&todo, variant, cost, 12.0), Some(1));
        assert_eq!(next_within(&todo[..1], variant, cost, 12.0), None);
    }

    #[test]
    fn eta_error_uses_the_newest_prediction_before_each_quarter() {
        let mut log = ScheduleLog::default();
        for (e, p) in [(0.0, 50.0), (20.0, 90.0), (45.0, 110.0), (70.0, 100.0)] {
            log.eta.push(EtaPoint {
                elapsed_s: e,
                predicted_total_s: p,
            });
        }
        log.close(100.0);
        let errs: Vec<f64> = log.eta_error.iter().map(|(_, e)| *e).collect();
        assert_eq!(errs.len(), 3);
        assert!((errs[0] - -0.10).abs() < 1e-9); // at 25 s: the 20 s prediction, 90
        assert!((errs[1] - 0.10).abs() < 1e-9); // at 50 s: the 45 s prediction, 110
        assert!((errs[2] - 0.0).abs() < 1e-9); // at 75 s: the 70 s prediction, 100
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(40)), "40 s");
        assert_eq!(human(Duration::from_secs(61)), "2 min");
        assert_eq!(human(Duration::from_secs(3900)), "1 h 05 min");
    }
}
