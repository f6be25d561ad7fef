//! Rounds that share a baseline (`--pairing rounds`, docs/schedule.md): the workload's own
//! baseline runs once, then a few cells' profiled runs, then the baseline again; each
//! profiled run is compared with the mean of the two baseline runs around it. Drift that is
//! linear over the round cancels, as it does in an interleaved pair, at a fraction of the
//! baseline runs.

use crate::launcher::Launcher;
use crate::matrix::{self, Context, Goal, Interrupted};
use crate::results::{CellKey, CellRecord, RunKind, RunRecord, Status};
use crate::runner::{Ending, Measured};
use crate::schedule::{self, ROUND_SPAN};
use crate::workload::Workload;
use profbench_profilers::Backend;
use std::collections::BTreeMap;

/// How pairs are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pairing {
    /// Each profiled run right after its own baseline run.
    Interleaved,
    /// A baseline shared by a round of cells (this module).
    Rounds,
}

/// A round being run: the (launcher, workload) it belongs to, the baseline run that opened it
/// (its index in the workload's `none` cell), and the cells whose profiled run it holds.
#[derive(Debug, Clone)]
pub struct Round {
    pub group: (String, String),
    pub opened_with: usize,
    pub cells: Vec<CellKey>,
    pub profiled_s: f64,
}

impl Round {
    pub fn open(group: (String, String), opened_with: usize) -> Round {
        Round {
            group,
            opened_with,
            cells: vec![],
            profiled_s: 0.0,
        }
    }

    /// Whether the round's profiled runs have taken their share of time (`ROUND_SPAN`
    /// baseline lengths); a round always takes at least one cell.
    pub fn is_full(&self, baseline_s: f64) -> bool {
        !self.cells.is_empty() && self.profiled_s >= ROUND_SPAN * baseline_s
    }

    pub fn add(&mut self, key: CellKey, wall_s: f64) {
        self.cells.push(key);
        self.profiled_s += wall_s;
    }
}

/// A (launcher, workload)'s baseline row, which opens and closes its rounds.
pub struct Baseline<'a> {
    pub key: CellKey,
    pub workload: &'a Workload,
    pub backend: &'a dyn Backend,
    pub launcher: &'a Launcher,
}

impl Baseline<'_> {
    /// One more measured run of the baseline row (`prior`, which must be ok): the row's new
    /// record, and the index of the new run in it when it succeeded.
    pub fn run_once(
        &self,
        ctx: &Context,
        prior: CellRecord,
    ) -> Result<(CellRecord, Option<usize>), Interrupted> {
        ctx.progress.inc_length(1);
        let goal = Goal {
            pairs: schedule::measured_pairs(&prior) + 1,
            warmup: 0,
            lean_warmup: false,
            adaptive: false,
            variants: false,
            shared_baseline: false,
        };
        let record = matrix::run_cell(
            ctx,
            self.key.clone(),
            self.workload,
            self.backend,
            self.launcher,
            None,
            None,
            Some(prior),
            goal,
        )?;
        let index = record
            .runs
            .len()
            .checked_sub(1)
            .filter(|_| record.status == Status::Ok)
            .filter(|&i| {
                let r = &record.runs[i];
                r.kind == RunKind::Baseline && r.is_main() && r.measured.succeeded()
            });
        Ok((record, index))
    }
}

/// The goal of a cell's next profiled run in a round: one more profiled run, no baseline.
pub fn profiled_goal(record: Option<&CellRecord>, variants: bool) -> Goal {
    let have = record.map_or(0, |r| r.main_runs(RunKind::Profiled));
    Goal {
        pairs: have + 1,
        warmup: 0,
        lean_warmup: true,
        adaptive: false,
        variants,
        shared_baseline: true,
    }
}

/// Opens a round in `row`'s (launcher, workload): one baseline run. The row's new record (to
/// be written) and the round; no round when the row is not ok or its run failed.
pub fn open(
    ctx: &Context,
    row: &Baseline,
    records: &BTreeMap<CellKey, CellRecord>,
) -> Result<(Option<CellRecord>, Option<Round>), Interrupted> {
    let Some(prior) = records.get(&row.key).filter(|r| r.status == Status::Ok) else {
        return Ok((None, None));
    };
    let (record, index) = row.run_once(ctx, prior.clone())?;
    let group = (row.key.launcher.clone(), row.key.workload.clone());
    Ok((Some(record), index.map(|i| Round::open(group, i))))
}

/// Closes a round: one baseline run after it, then its cells' records with the shared
/// baseline attached. The records to write (the row's first), and the index of the closing
/// run, which can open the next round of the same (launcher, workload).
pub fn close_round(
    ctx: &Context,
    row: &Baseline,
    round: Round,
    records: &BTreeMap<CellKey, CellRecord>,
) -> Result<(Vec<CellRecord>, Option<usize>), Interrupted> {
    // A round whose cells all failed has nothing to pair: no closing run.
    if round.cells.is_empty() {
        return Ok((vec![], None));
    }
    let Some(prior) = records.get(&row.key).filter(|r| r.status == Status::Ok) else {
        return Ok((vec![], None));
    };
    let (record, index) = row.run_once(ctx, prior.clone())?;
    let mut written = match index {
        Some(after) => close(&round, &record, after, records, row.workload),
        // Without a closing run the cells keep their runs unpaired: a later pass pairs them.
        None => vec![],
    };
    written.insert(0, record);
    Ok((written, index))
}

/// The records of a round's cells with the baseline it shares attached: the mean of the
/// baseline row's runs `round.opened_with` and `after`.
pub fn close(
    round: &Round,
    baseline_row: &CellRecord,
    after: usize,
    records: &BTreeMap<CellKey, CellRecord>,
    workload: &Workload,
) -> Vec<CellRecord> {
    let (Some(before), Some(after_run)) = (
        baseline_row.runs.get(round.opened_with),
        baseline_row.runs.get(after),
    ) else {
        return vec![];
    };
    round
        .cells
        .iter()
        .filter_map(|k| {
            let mut record = records.get(k)?.clone();
            let shared = shared_baseline(before, after_run, [round.opened_with, after]);
            matrix::attach_shared_baseline(&mut record, shared, workload);
            Some(record)
        })
        .collect()
}

/// The baseline a round's profiled runs are compared with: the mean of the workload's
/// baseline runs before and after the round (`indices`: theirs in the `none` cell).
pub fn shared_baseline(before: &RunRecord, after: &RunRecord, indices: [usize; 2]) -> RunRecord {
    let mean = |a: f64, b: f64| (a + b) / 2.0;
    let both = |a: Option<f64>, b: Option<f64>| Some(mean(a?, b?));
    let phases: BTreeMap<String, f64> = before
        .phase_wall_s
        .iter()
        .filter_map(|(name, a)| Some((name.clone(), mean(*a, *after.phase_wall_s.get(name)?))))
        .collect();
    RunRecord {
        kind: RunKind::Baseline,
        warmup: false,
        measured: Measured {
            ending: Ending::Exited(0),
            wall_s: mean(before.measured.wall_s, after.measured.wall_s),
            cpu_s: both(before.measured.cpu_s, after.measured.cpu_s),
            peak_rss_bytes: both(
                before.measured.peak_rss_bytes.map(|b| b as f64),
                after.measured.peak_rss_bytes.map(|b| b as f64),
            )
            .map(|b| b as u64),
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            ended_leftovers: vec![],
        },
        phase_wall_s: phases,
        output_bytes: None,
        postprocess_s: None,
        accuracy: None,
        note: Some(format!(
            "shared baseline: the mean of the workload's baseline runs {} and {}, run before and after this round",
            indices[0], indices[1]
        )),
        parse_error: None,
        harness_fault: None,
        variant: None,
        checks: vec![],
        self_time: None,
        own_time_s: both(before.own_time_s, after.own_time_s),
        shared_from: indices.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(wall: f64, phase: f64) -> RunRecord {
        let mut r = RunRecord::harness_fault(RunKind::Baseline, false, String::new());
        r.harness_fault = None;
        r.measured.ending = Ending::Exited(0);
        r.measured.wall_s = wall;
        r.measured.cpu_s = Some(wall / 2.0);
        r.measured.peak_rss_bytes = Some(100);
        r.phase_wall_s.insert("load".into(), phase);
        r
    }

    #[test]
    fn a_shared_baseline_is_the_mean_of_the_two_runs_around_the_round() {
        let b = shared_baseline(&baseline(4.0, 1.0), &baseline(5.0, 2.0), [3, 7]);
        assert_eq!(b.kind, RunKind::Baseline);
        assert!(b.is_main() && b.measured.succeeded());
        assert_eq!(b.measured.wall_s, 4.5);
        assert_eq!(b.measured.cpu_s, Some(2.25));
        assert_eq!(b.measured.peak_rss_bytes, Some(100));
        assert_eq!(b.phase_wall_s["load"], 1.5);
        assert_eq!(b.shared_from, vec![3, 7]);
        assert!(b.note.unwrap().contains("runs 3 and 7"));
    }

    #[test]
    fn a_round_takes_one_slow_cell_or_several_fast_ones() {
        let key = |b: &str| CellKey {
            launcher: "direct".into(),
            workload: "single".into(),
            backend: b.into(),
        };
        let mut slow = Round::open(("direct".into(), "single".into()), 1);
        assert!(!slow.is_full(4.0), "an empty round takes a cell");
        slow.add(key("viztracer"), 16.0);
        assert!(slow.is_full(4.0));
        let mut fast = Round::open(("direct".into(), "single".into()), 1);
        for (i, b) in ["a", "b", "c"].iter().enumerate() {
            fast.add(key(b), 4.2);
            assert!(!fast.is_full(4.0), "after {} cells", i + 1);
        }
        fast.add(key("d"), 4.2);
        assert!(fast.is_full(4.0));
    }
}
