//! A backend's cost on Ray split into a fixed part (start, attach, collecting and writing the
//! output) and a part per task, from matrix runs of the `ray` workload at two or more task
//! counts with the same total work (`PROFBENCH_RAY_TASKS`, docs/ray.md).
//!
//! Each run folder gives one point per backend: its median extra seconds (profiled − baseline
//! wall over the measured pairs, `cost_split::point`) and the tasks the runs made, counted
//! from the truth lines the workers wrote. `cost_split::split` cannot be reused for the line:
//! it fits extra seconds over the workload's length, which stays the same here; this fits
//! them over the task count.

use crate::cost_split::{self, LengthPoint};
use crate::results::{CellRecord, RunDir};
use crate::stats::fit_line;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskPoint {
    /// Remote calls one run of the workload made.
    pub tasks: u64,
    pub point: LengthPoint,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskCost {
    pub points: Vec<TaskPoint>,
    /// Seconds a run costs whatever its task count (the line's intercept).
    pub fixed_s: f64,
    /// Extra milliseconds per remote task (the line's slope).
    pub per_task_ms: f64,
}

/// The line through the points; None with fewer than two distinct task counts.
pub fn fit(mut points: Vec<TaskPoint>) -> Option<TaskCost> {
    points.sort_by_key(|p| p.tasks);
    let xy: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.tasks as f64, p.point.extra_s))
        .collect();
    let (fixed_s, per_task_s) = fit_line(&xy)?;
    Some(TaskCost {
        points,
        fixed_s,
        per_task_ms: per_task_s * 1e3,
    })
}

/// Tasks one run made: the lines of the first truth tasks file under the cell's raw folder.
pub fn tasks_of_cell(run: &RunDir, cell: &CellRecord) -> Option<u64> {
    let raw = run.raw_dir(&cell.key);
    let mut runs: Vec<_> = std::fs::read_dir(&raw)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    runs.sort();
    runs.iter().find_map(|dir| {
        let text = std::fs::read_to_string(dir.join("truth.json.tasks.jsonl")).ok()?;
        let n = text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
        (n > 0).then_some(n)
    })
}

/// One point per backend (other than `none`) on the `ray` workload of a run folder.
pub fn points_of_run(dir: &Path) -> Vec<(String, TaskPoint)> {
    let run = RunDir {
        root: dir.to_path_buf(),
    };
    let (cells, _) = run.read_cells();
    cells
        .iter()
        .filter(|c| c.key.workload == "ray" && !c.key.is_baseline())
        .filter_map(|c| {
            let tasks = tasks_of_cell(&run, c)?;
            let main: Vec<_> = c.runs.iter().filter(|r| r.variant.is_none()).collect();
            let point = cost_split::point(1.0, &crate::results::RunRecord::measured_pairs(&main))?;
            Some((c.key.backend.clone(), TaskPoint { tasks, point }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(tasks: u64, extra_s: f64) -> TaskPoint {
        TaskPoint {
            tasks,
            point: LengthPoint {
                scale: 1.0,
                baseline_s: 30.0,
                extra_s,
                pairs: 4,
            },
        }
    }

    #[test]
    fn a_line_through_two_task_counts() {
        // 2 s fixed, then 5 ms per task: 32 tasks → 2.16 s, 128 tasks → 2.64 s.
        let c = fit(vec![p(128, 2.64), p(32, 2.16)]).unwrap();
        assert!((c.fixed_s - 2.0).abs() < 1e-9, "{c:?}");
        assert!((c.per_task_ms - 5.0).abs() < 1e-9, "{c:?}");
        assert_eq!(c.points[0].tasks, 32, "sorted by task count");
        assert!(fit(vec![p(32, 1.0), p(32, 2.0)]).is_none());
    }
}
