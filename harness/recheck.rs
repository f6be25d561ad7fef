//! Re-decides the ten checks of finished cells, and each run's self-time distribution, from
//! what each kept (each measured run's parsed profile and truth, the cell's last profile, the
//! workload's memory truth), so that a published folder follows the current rules without
//! rerunning anything. Per-run profiles
//! stay on the machine that ran the cells (they are not committed): in a clone only the
//! cell's last profile is there, and the runs' own verdicts are kept as they were decided.
//! Each cell says which it was, and records the rules version (`checks_rules`).

use crate::checks::{self, Inputs};
use crate::results::{RunDir, RunKind, Status};
use crate::workload::{Truth, Workload};
use anyhow::Result;
use profbench_profilers::Profile;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// A cell's profiled runs of the main pairs kept under its raw folder, as (measured, index,
/// folder), in the order they ran (`profiled-0-warmup`, `profiled-1`, ...).
fn profiled_runs(raw: &Path) -> Vec<(bool, usize, PathBuf)> {
    let mut runs: Vec<(bool, usize, PathBuf)> = fs::read_dir(raw)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let rest = name.strip_prefix("profiled-")?;
            let measured = !rest.ends_with("-warmup");
            let index = rest.trim_end_matches("-warmup").parse().ok()?;
            Some((measured, index, p))
        })
        .collect();
    runs.sort_by_key(|(_, index, _)| *index);
    runs
}

/// The truth of the last measured profiled run kept under a cell's raw folder.
fn last_profiled_truth(raw: &Path) -> Option<Truth> {
    let mut runs = profiled_runs(raw);
    runs.sort();
    runs.into_iter()
        .rev()
        .find_map(|(_, _, p)| Truth::load(&p.join("truth.json")).ok())
}

fn read_profile(path: &Path) -> Option<Profile> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// What `recheck` did with one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rechecked {
    pub cell: String,
    /// Whether the cell's checks were decided again under the current rules.
    pub redecided: bool,
    /// What was re-decided, or why the cell kept its checks.
    pub how: String,
}

/// Rewrites each run's self time of every finished profiled cell, and its checks (and the
/// function bias, where the workload names a pair) for workloads in `workloads_dir`; says per
/// cell what was re-decided or kept.
pub fn recheck(dir: &Path, workloads_dir: &Path) -> Result<Vec<Rechecked>> {
    let workloads: BTreeMap<String, Workload> = crate::workload::discover(workloads_dir)?
        .into_iter()
        .map(|w| (w.name.clone(), w))
        .collect();
    let run = RunDir {
        root: dir.to_path_buf(),
    };
    run.read_info()?;
    let (cells, _) = run.read_cells();
    let memory: BTreeMap<(String, String), Truth> = cells
        .iter()
        .filter(|c| c.key.is_baseline())
        .filter_map(|c| {
            Some((
                (c.key.launcher.clone(), c.key.workload.clone()),
                c.memory_truth.clone()?,
            ))
        })
        .collect();
    let mut said = Vec::new();
    for mut cell in cells
        .into_iter()
        .filter(|c| !c.key.is_baseline() && c.status == Status::Ok)
    {
        let name = cell.key.file_name().trim_end_matches(".json").to_string();
        // A cell of a workload no longer in the folder (or a suite's benchmark) keeps its
        // checks: its targets are unknown. Its runs' self time needs no targets.
        let workload = workloads.get(&cell.key.workload);
        if let Some((inline, calls)) = workload.and_then(|w| w.bias.as_ref()) {
            cell.function_bias = cell.function_bias(inline, calls);
        }
        let is_sampler =
            profbench_profilers::backend(&cell.key.backend).is_some_and(|b| b.is_sampler());
        let raw = run.raw_dir(&cell.key);
        let key = (cell.key.launcher.clone(), cell.key.workload.clone());
        let memory_truth = memory.get(&key);
        // Each measured run with its profile kept (folders written before profiles were kept
        // per run have none: their cells are decided on the last profile alone).
        let measured = cell
            .runs
            .iter_mut()
            .filter(|r| r.kind == RunKind::Profiled && r.is_main());
        let folders = profiled_runs(&raw).into_iter().filter(|(m, _, _)| *m);
        let (mut runs, mut redone_runs) = (0, 0);
        for (record, (_, _, folder)) in measured.zip(folders) {
            runs += 1;
            let Some(p) = read_profile(&folder.join("profile.json")) else {
                continue;
            };
            redone_runs += 1;
            record.self_time = crate::self_time::distribution(&p, is_sampler);
            if let Some(w) = workload {
                let t = Truth::load(&folder.join("truth.json")).ok();
                record.checks = checks::evaluate_run(&Inputs {
                    workload: &cell.key.workload,
                    targets: &w.targets,
                    profile: Some(&p),
                    truth: t.as_ref(),
                    memory_truth,
                    wall_ratio: None,
                });
            }
        }
        // Without its kept profile (dropped over the size cap) a cell keeps the checks it had.
        let profile = read_profile(&raw.join("profile.json"));
        let kept_why = match (workload, &profile) {
            (None, _) => Some(format!(
                "checks kept: workload {} is not in {}",
                cell.key.workload,
                workloads_dir.display()
            )),
            (Some(_), None) => Some("checks kept: no profile.json (over the size cap)".into()),
            (Some(w), Some(profile)) => {
                let whole_cell = checks::evaluate(&Inputs {
                    workload: &cell.key.workload,
                    targets: &w.targets,
                    profile: Some(profile),
                    truth: last_profiled_truth(&raw).as_ref(),
                    memory_truth,
                    wall_ratio: cell.overhead.as_ref().and_then(|o| o.wall).as_ref(),
                });
                cell.checks = checks::combine(&cell.main_run_checks(), whole_cell);
                cell.checks_rules = Some(checks::RULES_VERSION);
                None
            }
        };
        let redecided = kept_why.is_none();
        if redecided || redone_runs > 0 {
            run.write_cell(&cell)?;
        }
        let how = match (kept_why, redone_runs, runs) {
            (Some(why), 0, _) => why,
            (Some(why), r, _) => format!("{why}; the self time of {r} runs recomputed"),
            (None, 0, 0) => {
                "re-decided on the cell's last profile (no per-run records)".to_string()
            }
            (None, 0, n) => format!(
                "re-decided on the cell's last profile; the verdicts of its {n} runs kept (their profiles are not in this folder)"
            ),
            (None, r, n) if r == n => format!("re-decided on all {n} runs' profiles"),
            (None, r, n) => format!(
                "re-decided on {r} of {n} runs' profiles; the others' verdicts kept"
            ),
        };
        said.push(Rechecked {
            cell: name,
            redecided,
            how,
        });
    }
    Ok(said)
}
