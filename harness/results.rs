//! What a matrix run writes: `results/<run-id>/run.json` (platform, versions, plan) and one
//! JSON record per finished cell under `cells/`, each written atomically so an interrupted
//! run loses nothing that finished.

use crate::accuracy::Accuracy;
use crate::platform::Platform;
use crate::runner::Measured;
use crate::stats::{Estimate, Warning};
use anyhow::{Context, Result};
use profbench_profilers::Failure;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellKey {
    pub launcher: String,
    pub workload: String,
    pub backend: String,
}

/// The baseline's backend name: the workload with no profiler.
pub const BASELINE: &str = "none";

impl CellKey {
    /// Whether this is the baseline's cell (no profiler).
    pub fn is_baseline(&self) -> bool {
        self.backend == BASELINE
    }

    pub fn file_name(&self) -> String {
        format!(
            "{}__{}__{}.json",
            self.launcher, self.workload, self.backend
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed { category: Failure, error: String },
}

impl Status {
    pub fn label(&self) -> String {
        match self {
            Status::Ok => "ok".into(),
            Status::Failed { category, .. } => category.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    Baseline,
    Profiled,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub kind: RunKind,
    pub warmup: bool,
    pub measured: Measured,
    /// Per phase wall seconds from the run's own markers.
    pub phase_wall_s: BTreeMap<String, f64>,
    pub output_bytes: Option<u64>,
    pub postprocess_s: Option<f64>,
    pub accuracy: Option<Accuracy>,
    /// Why this run has no accuracy (or, for a baseline, no truth).
    pub note: Option<String>,
    /// Set when the profiler's output was missing or could not be parsed.
    #[serde(default)]
    pub parse_error: Option<(Failure, String)>,
    /// What profbench itself could not do for this run (create its folder, write a file it
    /// keeps): the run ends its cell as a harness fault, never blamed on the profiler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_fault: Option<String>,
    /// Runs outside the cell's main pairs: `scale=3` (the cost split's other lengths) or
    /// `perturb=PHASE:SECONDS` (the actionability run). None for the main pairs.
    #[serde(default)]
    pub variant: Option<String>,
    /// The ten checks decided on this profiled run's own output (axis 7 aside, which needs the
    /// whole cell); the cell's checks combine those of its main runs (`checks::combine`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::checks::Check>,
    /// This profiled run's self time over functions (self_time.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_time: Option<crate::self_time::SelfTime>,
    /// The seconds the program itself reported timing (a pyperf worker's timed loops).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_time_s: Option<f64>,
    /// A baseline shared by a round of cells (rounds.rs): the indices, in the workload's
    /// `none` cell, of the two baseline runs whose mean this is. Empty for a run of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_from: Vec<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Overhead {
    pub wall: Option<Estimate>,
    pub cpu: Option<Estimate>,
    pub peak_rss: Option<Estimate>,
    pub phases: BTreeMap<String, Estimate>,
    pub warnings: Vec<Warning>,
    /// Warning sentences as printed.
    pub warning_text: Vec<String>,
    /// CPU cores other programs kept busy on average while the cell ran (Linux).
    #[serde(default)]
    pub other_load_cores: Option<f64>,
    /// The program's own reported timing: seconds for the baseline row, else the ratio
    /// profiled / baseline over the same pairs as `wall`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_time: Option<Estimate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellRecord {
    pub schema: u32,
    pub key: CellKey,
    pub platform_id: String,
    pub backend_description: String,
    /// The profiler distribution's installed version, if it has one.
    pub backend_version: Option<String>,
    pub status: Status,
    pub overhead: Option<Overhead>,
    /// Per-phase errors: the median over runs of each phase's error; MAE over those.
    pub accuracy: Option<Accuracy>,
    pub accuracy_note: Option<String>,
    pub output_bytes: Option<u64>,
    pub postprocess_s: Option<f64>,
    /// `none` cells of workloads that ask for it: the separate memory truth run's phases.
    #[serde(default)]
    pub memory_truth: Option<crate::workload::Truth>,
    /// What the profiler's own output said about its data (e.g. a buffer overflow).
    #[serde(default)]
    pub profile_warnings: Vec<String>,
    /// The ten capability checks decided from this cell's own output.
    #[serde(default)]
    pub checks: Vec<crate::checks::Check>,
    /// Which version of the rules decided `checks` (`checks::RULES_VERSION`); None in records
    /// written before versions were recorded (version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks_rules: Option<u32>,
    /// Fixed and running cost from runs at several lengths (`--lengths`, scalable workloads).
    #[serde(default)]
    pub cost_split: Option<crate::cost_split::CostSplit>,
    /// The perturbed run's verdict (workloads with a `perturb=` header).
    #[serde(default)]
    pub actionability: Option<crate::actionability::Actionability>,
    /// The workload's function-bias pair as this profiler reports it (workloads with `bias=`).
    #[serde(default)]
    pub function_bias: Option<crate::function_bias::FunctionBias>,
    /// Why an optional part (cost split, actionability) is missing.
    #[serde(default)]
    pub notes: Vec<String>,
    pub runs: Vec<RunRecord>,
    pub started: String,
    pub finished: String,
}

impl RunRecord {
    /// A run that never started because profbench could not prepare it (`fault` says why).
    pub fn harness_fault(kind: RunKind, warmup: bool, fault: String) -> RunRecord {
        RunRecord {
            kind,
            warmup,
            measured: Measured::not_started(fault.clone()),
            phase_wall_s: BTreeMap::new(),
            output_bytes: None,
            postprocess_s: None,
            accuracy: None,
            note: None,
            parse_error: None,
            harness_fault: Some(fault),
            variant: None,
            checks: vec![],
            own_time_s: None,
            self_time: None,
            shared_from: vec![],
        }
    }

    /// Whether this run is one of the cell's measured main pairs (not a warm-up, not a
    /// variant at another length or with added work).
    pub fn is_main(&self) -> bool {
        !self.warmup && self.variant.is_none()
    }

    /// (baseline wall, profiled wall) seconds of each measured pair of `runs` (in the order
    /// they ran) whose two runs succeeded.
    pub fn measured_pairs(runs: &[&RunRecord]) -> Vec<(f64, f64)> {
        let side = |kind| runs.iter().filter(move |r| r.kind == kind && !r.warmup);
        side(RunKind::Baseline)
            .zip(side(RunKind::Profiled))
            .filter(|(b, p)| b.measured.succeeded() && p.measured.succeeded())
            .map(|(b, p)| (b.measured.wall_s, p.measured.wall_s))
            .collect()
    }
}

impl CellRecord {
    /// The function bias of the workload's `inline`/`calls` pair, from this cell's measured
    /// baseline runs and its accuracy.
    pub fn function_bias(
        &self,
        inline: &str,
        calls: &str,
    ) -> Option<crate::function_bias::FunctionBias> {
        let baseline: Vec<&BTreeMap<String, f64>> = self
            .runs
            .iter()
            .filter(|r| r.kind == RunKind::Baseline && r.is_main())
            .map(|r| &r.phase_wall_s)
            .collect();
        crate::function_bias::assess(&baseline, self.accuracy.as_ref(), inline, calls)
    }

    /// Whether a profiled run of the main pairs has no baseline yet (a status run, or a run
    /// whose round did not close).
    pub fn has_unpaired_run(&self) -> bool {
        self.main_runs(RunKind::Profiled) > self.main_runs(RunKind::Baseline)
    }

    /// How many main runs (not warm-ups, not variants) of one kind the cell holds.
    pub fn main_runs(&self, kind: RunKind) -> usize {
        self.runs
            .iter()
            .filter(|r| r.kind == kind && r.is_main())
            .count()
    }

    /// The checks of each measured profiled run of the main pairs that has them, in order.
    pub fn main_run_checks(&self) -> Vec<&[crate::checks::Check]> {
        self.runs
            .iter()
            .filter(|r| r.kind == RunKind::Profiled && r.is_main() && !r.checks.is_empty())
            .map(|r| r.checks.as_slice())
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub schema: u32,
    pub run_id: String,
    pub platform: Platform,
    pub profbench_version: String,
    /// Every installed Python distribution and its version.
    pub python_packages: BTreeMap<String, String>,
    /// workload name -> sha256 of its script.
    pub workloads: BTreeMap<String, String>,
    pub plan: Vec<CellKey>,
    pub runs_per_cell: usize,
    pub command: Vec<String>,
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path has no folder")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn cells_dir(&self) -> PathBuf {
        self.root.join("cells")
    }

    pub fn raw_dir(&self, key: &CellKey) -> PathBuf {
        self.root
            .join("raw")
            .join(key.file_name().trim_end_matches(".json"))
    }

    pub fn write_info(&self, info: &RunInfo) -> Result<()> {
        write_atomic(
            &self.root.join("run.json"),
            &serde_json::to_vec_pretty(info)?,
        )
    }

    pub fn read_info(&self) -> Result<RunInfo> {
        let path = self.root.join("run.json");
        let bytes = fs::read(&path).with_context(|| {
            format!(
                "{} is not a profbench run folder (no run.json)",
                self.root.display()
            )
        })?;
        let info: RunInfo = serde_json::from_slice(&bytes)
            .with_context(|| format!("malformed {}", path.display()))?;
        if info.schema != SCHEMA {
            anyhow::bail!("{} has results schema {}, this profbench reads {SCHEMA}: use the profbench version that wrote it", path.display(), info.schema);
        }
        Ok(info)
    }

    pub fn write_cell(&self, cell: &CellRecord) -> Result<()> {
        write_atomic(
            &self.cells_dir().join(cell.key.file_name()),
            &serde_json::to_vec_pretty(cell)?,
        )
    }

    /// Every finished cell, in file-name order; an unreadable record is reported, not fatal.
    pub fn read_cells(&self) -> (Vec<CellRecord>, Vec<String>) {
        let mut cells = Vec::new();
        let mut problems = Vec::new();
        let Ok(entries) = fs::read_dir(self.cells_dir()) else {
            return (cells, problems);
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for p in paths {
            match fs::read(&p)
                .map_err(anyhow::Error::from)
                .and_then(|b| Ok(serde_json::from_slice::<CellRecord>(&b)?))
            {
                Ok(c) => cells.push(c),
                Err(e) => problems.push(format!("{}: {e}", p.display())),
            }
        }
        (cells, problems)
    }

    pub fn is_finished(&self, key: &CellKey) -> bool {
        self.cells_dir().join(key.file_name()).exists()
    }
}

/// The newest run folder under `results` (run ids sort by time).
pub fn latest_run(results: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(results)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("run.json").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// A run's info for tests, through JSON so that fields added to RunInfo later (with serde
/// defaults) need no change here.
#[cfg(test)]
pub(crate) fn test_info(platform: &str, command: &[&str]) -> RunInfo {
    serde_json::from_value(serde_json::json!({
        "schema": SCHEMA,
        "run_id": format!("run-{platform}"),
        "platform": {
            "id": platform, "os": "testos", "os_version": "1", "arch": "x86_64", "libc": "glibc",
            "python": "3.11", "root": false, "ptrace": "yes", "container": false, "cpu_model": "cpu",
            "cores": 2, "governor": null, "memory_bytes": 1, "load_at_start": 0.1, "load_at_end": null,
            "kernel": "k"
        },
        "profbench_version": "0",
        "python_packages": {},
        "workloads": {},
        "plan": [],
        "runs_per_cell": 6,
        "command": command
    }))
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::read_dir(dir.path().join("a")).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
