//! The ten capability checks (docs/method.md, "Capability checks"). Each axis is decided from
//! one cell's own output (its parsed `Profile`), that run's truth, a separate memory-truth run
//! and the cell's overhead estimate, by the written rule above its function. Every verdict
//! keeps the evidence that decided it: the frame, line or number, so a reader can check the
//! verdict against the raw output.
//!
//! What each axis looks for comes from the workload's header (`crate::targets`); an axis whose
//! target the workload does not name is not applicable there, with the reason as evidence.
//! One file per axis or group: `calls.rs` (1), `waiting.rs` (2), `library.rs` (3),
//! `lines.rs` (4), `memory.rs` (5), `distributed.rs` (6, 9, 10), `overhead.rs` (7),
//! `serialization.rs` (8).

mod calls;
mod distributed;
mod frames;
mod library;
mod lines;
mod memory;
mod overhead;
mod serialization;
#[cfg(test)]
mod tests;
mod waiting;

use crate::stats::Estimate;
pub use crate::targets::{self, Targets};
use crate::workload::Truth;
use profbench_profilers::Profile;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Partial,
    Fail,
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// 1..=10, the numbering of docs/method.md.
    pub axis: u8,
    pub name: String,
    pub verdict: Verdict,
    /// What decided the verdict: the frame, line or number.
    pub evidence: String,
}

/// What a check can look at for one cell.
pub struct Inputs<'a> {
    /// The workload's name, for evidence.
    pub workload: &'a str,
    /// What the workload's header asks each axis to find.
    pub targets: &'a Targets,
    /// None when the backend produced no profile (baseline, failure).
    pub profile: Option<&'a Profile>,
    /// The profiled run's own truth (phases; tasks for ray).
    pub truth: Option<&'a Truth>,
    /// From a separate truth run with PROFBENCH_MEMORY_TRUTH=1.
    pub memory_truth: Option<&'a Truth>,
    /// The cell's wall-time ratio to the baseline, for axis 7.
    pub wall_ratio: Option<&'a Estimate>,
}

/// The version of the rules in this folder, stored with every cell they decide
/// (`CellRecord::checks_rules`), so a reader can tell which rules gave a verdict. 1: the
/// rules before targets came from workload headers (records without the field); 2: targets
/// from headers, no verdicts for failed cells.
pub const RULES_VERSION: u32 = 2;

/// Axis names, index = axis - 1.
pub const AXES: [&str; 10] = [
    "calls-and-depth",
    "cpu-vs-waiting",
    "library-transparency",
    "line-level",
    "memory",
    "cross-process",
    "overhead",
    "serialization",
    "timeline",
    "aggregation",
];

/// Runs the ten checks; always 10 entries, axis 1..=10 in order.
pub fn evaluate(inputs: &Inputs) -> Vec<Check> {
    let decided: [(Verdict, String); 10] = [
        calls::calls_and_depth(inputs),
        waiting::cpu_vs_waiting(inputs),
        library::library_transparency(inputs),
        lines::line_level(inputs),
        memory::memory(inputs),
        distributed::cross_process(inputs),
        overhead::overhead(inputs),
        serialization::serialization(inputs),
        distributed::timeline(inputs),
        distributed::aggregation(inputs),
    ];
    decided
        .into_iter()
        .enumerate()
        .map(|(i, (verdict, evidence))| Check {
            axis: i as u8 + 1,
            name: AXES[i].to_string(),
            verdict,
            evidence,
        })
        .collect()
}

/// Axis 7 (overhead) is a property of the whole cell (its pairs), not of one run's output.
pub const WHOLE_CELL_AXIS: u8 = 7;

impl Verdict {
    /// The verdict as results files spell it (`not-applicable`).
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Partial => "partial",
            Verdict::Fail => "fail",
            Verdict::NotApplicable => "not-applicable",
        }
    }

    /// Fail < partial < pass; not-applicable has no rank.
    pub fn rank(self) -> Option<u8> {
        match self {
            Verdict::Fail => Some(0),
            Verdict::Partial => Some(1),
            Verdict::Pass => Some(2),
            Verdict::NotApplicable => None,
        }
    }
}

/// The cell's checks from those of each of its measured runs (`per_run`, each from `evaluate`)
/// and those decided on the whole cell (`whole_cell`, which alone decides axis 7 and every
/// axis when no run has checks).
///
/// Per axis, the verdict is the best one that more than half of the runs reached (their lower
/// median): one lucky run among six does not make a pass, one unlucky run does not make a fail,
/// and rerunning the cell gives the same verdict far more often than one run's would. The
/// evidence is that of the last run with that verdict, followed by the tally when runs
/// disagree ("pass in 2 of 6 runs, partial in 4").
pub fn combine(per_run: &[&[Check]], whole_cell: Vec<Check>) -> Vec<Check> {
    whole_cell
        .into_iter()
        .map(|cell_check| {
            let axis = cell_check.axis;
            let runs: Vec<&Check> = per_run
                .iter()
                .filter_map(|checks| checks.iter().find(|c| c.axis == axis))
                .collect();
            if axis == WHOLE_CELL_AXIS || runs.is_empty() {
                return cell_check;
            }
            let mut ranks: Vec<u8> = runs.iter().filter_map(|c| c.verdict.rank()).collect();
            if ranks.is_empty() {
                return runs[runs.len() - 1].clone();
            }
            ranks.sort_unstable();
            let median = ranks[(ranks.len() - 1) / 2];
            let chosen = runs
                .iter()
                .rev()
                .find(|c| c.verdict.rank() == Some(median))
                .expect("the median is one of the runs' ranks");
            let mut check = (*chosen).clone();
            let tally: Vec<String> = [
                Verdict::Pass,
                Verdict::Partial,
                Verdict::Fail,
                Verdict::NotApplicable,
            ]
            .into_iter()
            .filter_map(|v| {
                let n = runs.iter().filter(|c| c.verdict == v).count();
                (n > 0).then(|| format!("{} in {n}", verdict_word(v)))
            })
            .collect();
            if tally.len() > 1 {
                check.evidence = format!(
                    "{} ({} of {} runs)",
                    check.evidence,
                    tally.join(", "),
                    runs.len()
                );
            }
            check
        })
        .collect()
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Partial => "partial",
        Verdict::Fail => "fail",
        Verdict::NotApplicable => "not applicable",
    }
}

/// The checks one profiled run's output decides: all but axis 7, which needs the whole cell.
pub fn evaluate_run(inputs: &Inputs) -> Vec<Check> {
    let mut checks = evaluate(inputs);
    checks.retain(|c| c.axis != WHOLE_CELL_AXIS);
    checks
}

/// A verdict and its evidence, as each axis decides it.
pub type Decided = (Verdict, String);

fn na(why: impl Into<String>) -> Decided {
    (Verdict::NotApplicable, why.into())
}

fn no_profile() -> Decided {
    (
        Verdict::Fail,
        "no profile: the backend produced no parsed output".into(),
    )
}
