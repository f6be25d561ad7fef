//! Re-decides the ten checks of finished cells from what each kept (each measured run's parsed
//! profile and truth, the cell's last profile, the workload's memory truth), so that a
//! published folder follows the current rules without rerunning anything.

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

/// Rewrites the checks (and the function bias, for workloads in `workloads_dir` that name a
/// pair) of every finished profiled cell; returns how many were re-decided.
pub fn recheck(dir: &Path, workloads_dir: &Path) -> Result<usize> {
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
    let mut count = 0;
    for mut cell in cells
        .into_iter()
        .filter(|c| !c.key.is_baseline() && c.status == Status::Ok)
    {
        // A cell of a workload no longer in the folder keeps what it had: its targets are
        // unknown.
        let Some(workload) = workloads.get(&cell.key.workload) else {
            continue;
        };
        if let Some((inline, calls)) = &workload.bias {
            cell.function_bias = crate::function_bias::assess(&cell, inline, calls);
        }
        let raw = run.raw_dir(&cell.key);
        // Without its kept profile (dropped over the size cap) a cell keeps the checks it had.
        let Some(profile) = read_profile(&raw.join("profile.json")) else {
            continue;
        };
        let truth = last_profiled_truth(&raw);
        let wall = cell.overhead.as_ref().and_then(|o| o.wall);
        let key = (cell.key.launcher.clone(), cell.key.workload.clone());
        let memory_truth = memory.get(&key);
        // Each measured run with its profile kept (folders written before profiles were kept
        // per run have none: their cells are decided on the last profile alone).
        let measured = cell
            .runs
            .iter_mut()
            .filter(|r| r.kind == RunKind::Profiled && r.is_main());
        let folders = profiled_runs(&raw).into_iter().filter(|(m, _, _)| *m);
        for (record, (_, _, folder)) in measured.zip(folders) {
            if let Some(p) = read_profile(&folder.join("profile.json")) {
                let t = Truth::load(&folder.join("truth.json")).ok();
                record.checks = checks::evaluate_run(&Inputs {
                    workload: &cell.key.workload,
                    targets: &workload.targets,
                    profile: Some(&p),
                    truth: t.as_ref(),
                    memory_truth,
                    wall_ratio: None,
                });
            }
        }
        let whole_cell = checks::evaluate(&Inputs {
            workload: &cell.key.workload,
            targets: &workload.targets,
            profile: Some(&profile),
            truth: truth.as_ref(),
            memory_truth,
            wall_ratio: wall.as_ref(),
        });
        cell.checks = checks::combine(&cell.main_run_checks(), whole_cell);
        run.write_cell(&cell)?;
        count += 1;
    }
    Ok(count)
}
