//! Re-decides the ten checks of finished cells from what each kept (its last parsed profile,
//! that run's truth, the workload's memory truth), so that a published folder follows the
//! current rules without rerunning anything.

use crate::checks::{self, Inputs};
use crate::results::{RunDir, Status};
use crate::workload::Truth;
use anyhow::Result;
use profbench_profilers::Profile;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The truth of the last measured profiled run kept under a cell's raw folder.
fn last_profiled_truth(raw: &Path) -> Option<Truth> {
    let mut runs: Vec<(bool, usize, PathBuf)> = fs::read_dir(raw)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let rest = name.strip_prefix("profiled-")?;
            let measured = !rest.ends_with("-warmup");
            let index = rest.trim_end_matches("-warmup").parse().ok()?;
            Some((measured, index, p))
        })
        .collect();
    runs.sort();
    runs.into_iter()
        .rev()
        .find_map(|(_, _, p)| Truth::load(&p.join("truth.json")).ok())
}

/// Rewrites the checks (and the function bias, for workloads in `workloads_dir` that name a
/// pair) of every finished profiled cell; returns how many were re-decided.
pub fn recheck(dir: &Path, workloads_dir: &Path) -> Result<usize> {
    let bias_pairs: BTreeMap<String, (String, String)> = crate::workload::discover(workloads_dir)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|w| Some((w.name, w.bias?)))
        .collect();
    let run = RunDir {
        root: dir.to_path_buf(),
    };
    run.read_info()?;
    let (cells, _) = run.read_cells();
    let memory: BTreeMap<(String, String), Truth> = cells
        .iter()
        .filter(|c| c.key.backend == "none")
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
        .filter(|c| c.key.backend != "none" && c.status == Status::Ok)
    {
        if let Some((inline, calls)) = bias_pairs.get(&cell.key.workload) {
            cell.function_bias = crate::function_bias::assess(&cell, inline, calls);
        }
        let raw = run.raw_dir(&cell.key);
        // Without its kept profile (dropped over the size cap) a cell keeps the checks it had.
        let Some(profile) = fs::read(raw.join("profile.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Profile>(&b).ok())
        else {
            continue;
        };
        let truth = last_profiled_truth(&raw);
        let is_sampler =
            profbench_profilers::backend(&cell.key.backend).is_some_and(|b| b.is_sampler());
        let wall = cell.overhead.as_ref().and_then(|o| o.wall);
        let key = (cell.key.launcher.clone(), cell.key.workload.clone());
        cell.checks = checks::evaluate(&Inputs {
            workload: &cell.key.workload,
            profile: Some(&profile),
            truth: truth.as_ref(),
            memory_truth: memory.get(&key),
            wall_ratio: wall.as_ref(),
            is_sampler,
        });
        run.write_cell(&cell)?;
        count += 1;
    }
    Ok(count)
}
