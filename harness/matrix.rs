//! The matrix: for each (launcher, workload, backend) cell, baseline and profiled runs
//! interleaved after a warm-up, measured, parsed, compared with truth, and written at once.

use crate::accuracy::{self, Accuracy};
use crate::actionability::{self, Actionability};
use crate::checks;
use crate::cost_split::{self, CostSplit, LengthPoint};
use crate::launcher::Launcher;
use crate::machine_load;
use crate::pyenv::{Install, PythonEnv};
use crate::results::{CellKey, CellRecord, Overhead, RunDir, RunKind, RunRecord, Status, SCHEMA};
use crate::runner::{self, Ending, Measured, Spec};
use crate::stats::{self, Estimate};
use crate::workload::{Truth, Workload};
use anyhow::Result;
use indicatif::ProgressBar;
use profbench_profilers::{Backend, ExitInfo, Failure, Launch, Profile, PythonFacts};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Raw outputs above this are dropped after parsing unless --keep-raw.
pub const RAW_CAP_BYTES: u64 = 20 * 1024 * 1024;

pub struct Settings {
    pub runs: usize,
    /// Keep adding pairs while the interval is wider than this fraction of the median.
    pub until_ci: Option<f64>,
    pub max_runs: usize,
    pub warmup: usize,
    pub timeout: Duration,
    pub keep_raw: bool,
    pub output_cap_bytes: u64,
    pub platform_id: String,
    pub profbench_exe: PathBuf,
    /// What this platform refuses to a profiler reading another process
    /// (`platform::outside_reads_denied`), probed once per run.
    pub outside_reads_denied: Option<String>,
    /// Work multipliers for the cost split (`--lengths`); 1 is the main pairs themselves.
    pub lengths: Vec<f64>,
}

impl Settings {
    /// The lengths run besides the main pairs, for workloads that can scale.
    fn other_lengths(&self, workload: &Workload) -> Vec<f64> {
        if !workload.scalable {
            return vec![];
        }
        self.lengths.iter().copied().filter(|&l| l != 1.0).collect()
    }
}

/// Per backend, the folder of its own tool environment, or why it could not be made.
pub type ToolBins = BTreeMap<String, Result<PathBuf, String>>;

/// Everything a cell needs that is shared across cells.
pub struct Context<'a> {
    pub env: &'a PythonEnv,
    pub installs: &'a BTreeMap<String, Install>,
    pub tool_bins: &'a ToolBins,
    pub settings: &'a Settings,
    pub run_dir: &'a RunDir,
    pub progress: &'a ProgressBar,
}

/// An optional part of a cell (the cost split, actionability): `Ok(Some)` measured,
/// `Ok(None)` not asked for by the workload, `Err(note)` missing, with why.
type Part<T> = std::result::Result<Option<T>, String>;

/// The cell stopped because the user pressed Ctrl-C.
#[derive(Debug)]
pub struct Interrupted;

/// What one call of `run_cell` should bring the cell to. A cell can be called again with its
/// record: the runs it has are kept and only the missing ones are run (the budgeted schedule
/// gives every cell its status first and adds pairs later where intervals are widest).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Goal {
    /// Measured pairs the cell should have when this call returns. 0: a status run only (one
    /// profiled run, no baseline: status, accuracy and checks, no overhead).
    pub pairs: usize,
    /// Unmeasured warm-up pairs, run only if the cell has none yet.
    pub warmup: usize,
    /// Warm up the profiled side only: the baseline side is warm from the workload's own
    /// `none` cell, and the profiled warm-up is also the cell's first status check.
    pub lean_warmup: bool,
    /// With --until-ci, keep adding pairs here until the interval is narrow enough.
    pub adaptive: bool,
    /// Run the cost-split lengths and the actionability run after the main pairs.
    pub variants: bool,
    /// Profiled runs only: their baseline is shared by a round (rounds.rs) and attached
    /// afterwards (`attach_shared_baseline`). `pairs` then counts profiled runs.
    pub shared_baseline: bool,
}

impl Goal {
    /// The whole cell in one call, as `--runs`, `--warmup` and `--until-ci` say.
    pub fn whole(settings: &Settings) -> Goal {
        Goal {
            pairs: settings.runs,
            warmup: settings.warmup,
            lean_warmup: false,
            adaptive: true,
            variants: true,
            shared_baseline: false,
        }
    }
}

/// Runs planned for one cell, for the progress bar: the baseline row adds the workload's
/// memory truth run when it asks for one.
pub fn planned_runs(settings: &Settings, goal: &Goal, backend: &str, workload: &Workload) -> u64 {
    let per_side = (goal.warmup + goal.pairs) as u64;
    let lean = if goal.lean_warmup {
        goal.warmup as u64
    } else {
        0
    };
    let other_lengths = if goal.variants {
        settings.other_lengths(workload).len() as u64
    } else {
        0
    };
    let perturb = u64::from(goal.variants && workload.perturb.is_some());
    if backend == crate::results::BASELINE {
        per_side.max(1) + u64::from(workload.memory_truth)
    } else if goal.pairs == 0 {
        1
    } else if goal.shared_baseline {
        per_side + 2 * per_side * other_lengths + perturb
    } else {
        2 * per_side * (1 + other_lengths) - lean + perturb
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A missing or unparseable output said with the run's last stderr lines: a profiler that
/// exits 0 without a usable profile often says why there.
fn with_tool_words(error: String, stderr: &str) -> String {
    let words = last_lines(stderr, 3);
    if words.trim().is_empty() || error.contains(words.trim()) {
        error
    } else {
        format!("{error}\n{words}")
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

struct Cell<'a> {
    ctx: &'a Context<'a>,
    key: CellKey,
    workload: &'a Workload,
    backend: &'a dyn Backend,
    launcher: &'a Launcher,
    runs: Vec<RunRecord>,
    last_profile: Option<Profile>,
    /// The truth of the run that produced `last_profile`.
    last_truth: Option<Truth>,
    /// The workload's memory truth (from its baseline cell), for each run's checks.
    memory_truth: Option<&'a Truth>,
    goal: Goal,
    /// Runs that failed once and worked when run again, said in the cell's notes.
    retried: Vec<String>,
    /// Other programs' CPU use is measured from the cell's first run on.
    load_at_start: Option<machine_load::Snapshot>,
}

impl<'a> Cell<'a> {
    /// A cell with no runs yet; other programs' CPU use is measured from now on.
    fn new(
        ctx: &'a Context<'a>,
        key: CellKey,
        workload: &'a Workload,
        backend: &'a dyn Backend,
        launcher: &'a Launcher,
        memory_truth: Option<&'a Truth>,
        goal: Goal,
    ) -> Cell<'a> {
        Cell {
            ctx,
            key,
            workload,
            backend,
            launcher,
            runs: vec![],
            last_profile: None,
            last_truth: None,
            memory_truth,
            goal,
            retried: vec![],
            load_at_start: machine_load::Snapshot::take(),
        }
    }

    fn raw_dir(&self) -> PathBuf {
        self.ctx.run_dir.raw_dir(&self.key)
    }

    /// Runs the workload once, under the backend or as baseline.
    fn run_once(
        &mut self,
        kind: RunKind,
        index: usize,
        warmup: bool,
    ) -> Result<usize, Interrupted> {
        self.run_variant(kind, index, warmup, None)
    }

    /// A run of the main pairs (`variant` None) or of a variant: `scale=3` runs the workload
    /// with $PROFBENCH_SCALE=3, `perturb=P:S` with $PROFBENCH_PERTURB=P:S.
    fn run_variant(
        &mut self,
        kind: RunKind,
        index: usize,
        warmup: bool,
        variant: Option<&str>,
    ) -> Result<usize, Interrupted> {
        let label = format!(
            "{}{}-{index}{}",
            variant
                .map(|v| format!("{}-", v.replace(['=', ':'], "")))
                .unwrap_or_default(),
            if kind == RunKind::Baseline {
                "baseline"
            } else {
                "profiled"
            },
            if warmup { "-warmup" } else { "" }
        );
        let env: Vec<(OsString, OsString)> = match variant.and_then(|v| v.split_once('=')) {
            Some(("scale", l)) => vec![("PROFBENCH_SCALE".into(), l.into())],
            Some(("perturb", p)) => vec![("PROFBENCH_PERTURB".into(), p.into())],
            _ => vec![],
        };
        let i = self.run_labelled(kind, &label, warmup, env)?;
        self.runs[i].variant = variant.map(str::to_string);
        Ok(i)
    }

    /// Pairs at each other length (`--lengths`), then the cost split through all lengths.
    /// Called right after the main pairs, which are then all of `self.runs` (length 1).
    fn cost_split(&mut self, rate_hz: Option<f64>) -> Result<Part<CostSplit>, Interrupted> {
        let lengths = self.ctx.settings.other_lengths(self.workload);
        if lengths.is_empty() {
            return Ok(Ok(None));
        }
        let main: Vec<&RunRecord> = self.runs.iter().collect();
        let mut points: Vec<LengthPoint> =
            cost_split::point(1.0, &RunRecord::measured_pairs(&main))
                .into_iter()
                .collect();
        for scale in lengths {
            let variant = cost_split::variant(scale);
            let first = self.runs.len();
            for i in 0..self.ctx.settings.warmup + self.ctx.settings.runs {
                let warmup = i < self.ctx.settings.warmup;
                for kind in [RunKind::Baseline, RunKind::Profiled] {
                    let run = self.run_variant(kind, i, warmup, Some(&variant))?;
                    if let Some((category, error)) = self.failure_of(&self.runs[run]) {
                        return Ok(Err(format!(
                            "cost split: a run at length {scale} failed ({category}): {}",
                            error.lines().next().unwrap_or_default()
                        )));
                    }
                }
            }
            let runs: Vec<&RunRecord> = self.runs[first..].iter().collect();
            points.extend(cost_split::point(scale, &RunRecord::measured_pairs(&runs)));
        }
        Ok(Ok(cost_split::split(points, rate_hz)))
    }

    /// One more profiled run with known work added to one phase (the workload's `perturb=`).
    fn actionability(
        &mut self,
        base: Option<&Accuracy>,
    ) -> Result<Part<Actionability>, Interrupted> {
        let (Some(spec), Some(base)) = (self.workload.perturb.clone(), base) else {
            return Ok(Ok(None));
        };
        let variant = format!("perturb={spec}");
        let run = self.run_variant(RunKind::Profiled, 0, false, Some(&variant))?;
        let r = &self.runs[run];
        if let Some((category, error)) = self.failure_of(r) {
            return Ok(Err(format!(
                "actionability: the perturbed run failed ({category}): {}",
                error.lines().next().unwrap_or_default()
            )));
        }
        let Some(perturbed) = r.accuracy.as_ref() else {
            return Ok(Err(format!(
                "actionability: no accuracy for the perturbed run ({})",
                r.note.clone().unwrap_or_default()
            )));
        };
        Ok(actionability::assess(&spec, base, perturbed)
            .map(Some)
            .map_err(|e| format!("actionability: {e}")))
    }

    /// A separate baseline run with tracemalloc and per-phase peak RSS on: memory truth that
    /// does not distort the timed runs (docs/method.md, "Ground truth").
    fn memory_truth(&mut self) -> Result<Option<Truth>, Interrupted> {
        let env = vec![("PROFBENCH_MEMORY_TRUTH".into(), "1".into())];
        let i = self.run_labelled(RunKind::Baseline, "memory-truth", true, env)?;
        let run = self.runs.remove(i);
        let path = self.raw_dir().join("memory-truth").join("truth.json");
        Ok(run
            .measured
            .succeeded()
            .then(|| Truth::load(&path).ok())
            .flatten())
    }

    fn run_labelled(
        &mut self,
        kind: RunKind,
        label: &str,
        warmup: bool,
        extra_env: Vec<(OsString, OsString)>,
    ) -> Result<usize, Interrupted> {
        let dir = self.raw_dir().join(label);
        let out_dir = dir.join("out");
        // A profiler run without its output folder would be blamed for writing nothing.
        if let Err(fault) = fresh_dir(&dir).and_then(|()| create_dir(&out_dir)) {
            self.ctx.progress.inc(1);
            self.runs
                .push(RunRecord::harness_fault(kind, warmup, fault));
            return Ok(self.runs.len() - 1);
        }
        let truth_path = dir.join("truth.json");
        let tool_bin = match self.ctx.tool_bins.get(self.backend.name()) {
            Some(Ok(p)) => p.clone(),
            _ => self.ctx.env.bin_dir.clone(),
        };
        // The program's own arguments, then where it writes its own timing, if it does.
        let own_time_path = dir.join("own-time.json");
        let mut args: Vec<OsString> = self.workload.args.iter().map(OsString::from).collect();
        if let Some(own) = &self.workload.own_time {
            args.extend(own.args(&own_time_path));
        }
        let launch = Launch {
            python: &self.launcher.python,
            bin_dir: &self.ctx.env.bin_dir,
            tool_bin_dir: &tool_bin,
            script: &self.workload.script,
            args: &args,
            out_dir: &out_dir,
            profbench_exe: &self.ctx.settings.profbench_exe,
        };
        let (argv, backend_env) = match kind {
            RunKind::Baseline => (
                profbench_profilers::none::NoProfiler.command(&launch),
                vec![],
            ),
            RunKind::Profiled => (self.backend.command(&launch), self.backend.env(&launch)),
        };
        let mut env: Vec<(OsString, OsString)> =
            vec![("PROFBENCH_TRUTH".into(), truth_path.clone().into())];
        env.extend(extra_env);
        env.extend(self.launcher.env.iter().cloned());
        env.extend(backend_env);
        // Ray: a private, short temp dir per run, so this run's cluster is found and ended.
        let ray_tmp = self
            .workload
            .uses_ray
            .then(|| {
                tempfile::Builder::new()
                    .prefix("pbray")
                    .tempdir_in("/tmp")
                    .ok()
            })
            .flatten();
        if let Some(t) = &ray_tmp {
            env.push(("RAY_TMPDIR".into(), t.path().into()));
            env.push(("RAY_USAGE_STATS_ENABLED".into(), "0".into()));
        }
        let spec = Spec {
            argv,
            env,
            cwd: out_dir.clone(),
            timeout: self.ctx.settings.timeout,
            log_dir: dir.clone(),
            output_cap_bytes: self.ctx.settings.output_cap_bytes,
        };
        let measured =
            runner::run(&spec).unwrap_or_else(|e| Measured::not_started(format!("{e:#}")));
        self.ctx.progress.inc(1);
        if measured.ending == Ending::Interrupted {
            return Err(Interrupted);
        }
        let mut record = RunRecord {
            kind,
            warmup,
            phase_wall_s: BTreeMap::new(),
            output_bytes: None,
            postprocess_s: None,
            accuracy: None,
            note: None,
            parse_error: None,
            harness_fault: None,
            variant: None,
            checks: vec![],
            self_time: None,
            own_time_s: None,
            shared_from: vec![],
            measured,
        };
        if record.measured.succeeded() {
            if let Some(own) = &self.workload.own_time {
                match own.read(&own_time_path) {
                    Ok(s) => record.own_time_s = Some(s),
                    Err(e) => record.note = Some(e),
                }
            }
            // A program from outside (`--script`, `--suite`) may mark no phases at all.
            let no_phases = self.workload.truth_optional && !truth_path.exists();
            let truth = if no_phases {
                Err(anyhow::anyhow!("no truth: the program marks no phases"))
            } else {
                Truth::load(&truth_path)
            };
            if let Ok(t) = &truth {
                record.phase_wall_s = t
                    .phases
                    .iter()
                    .map(|p| (p.name.clone(), p.wall_ns as f64 / 1e9))
                    .collect();
            }
            if kind == RunKind::Profiled {
                // A profiler can exit 0 although the program under it failed (py-spy does):
                // a program that did not reach its declared phases did not finish.
                if let Some(why) = unfinished(self.workload, no_phases, &truth) {
                    let m = &record.measured;
                    let text = format!("{}\n{}", m.stderr_tail, m.stdout_tail);
                    record.parse_error = Some((
                        Failure::Crashed,
                        format!(
                            "the program did not finish under the profiler, which exited 0: {why}\n{}",
                            last_lines(&text, 8)
                        ),
                    ));
                }
                self.finish_profiled(&mut record, &launch, &out_dir, truth);
            } else if let (Err(e), false) = (truth, no_phases) {
                record.note = Some(format!("{e:#}"));
            }
        }
        self.runs.push(record);
        Ok(self.runs.len() - 1)
    }

    /// Post-processes and parses a profiled run's output, and scores it against truth.
    fn finish_profiled(
        &mut self,
        record: &mut RunRecord,
        launch: &Launch,
        out_dir: &Path,
        truth: Result<Truth>,
    ) {
        let post = self.backend.postprocess(launch);
        if !post.is_empty() {
            let start = Instant::now();
            for (i, argv) in post.into_iter().enumerate() {
                // Post-processing runs under the same launcher: `uv run` needs its settings too.
                let spec = Spec {
                    argv,
                    env: self.launcher.env.clone(),
                    cwd: out_dir.to_path_buf(),
                    timeout: self.ctx.settings.timeout,
                    log_dir: out_dir.join(format!("postprocess-{i}")),
                    output_cap_bytes: self.ctx.settings.output_cap_bytes,
                };
                match runner::run(&spec) {
                    Ok(m) if m.succeeded() => {}
                    Ok(m) => {
                        record.note = Some(format!(
                            "post-processing failed: {}",
                            last_lines(&m.stderr_tail, 6)
                        ))
                    }
                    Err(e) => record.note = Some(format!("post-processing failed: {e:#}")),
                }
            }
            record.postprocess_s = Some(start.elapsed().as_secs_f64());
        }
        record.output_bytes = Some(runner::dir_size(out_dir));
        let parsed = self.backend.parse(out_dir, &record.measured.stdout_tail);
        match parsed {
            None => {}
            // The program's own failure, if any, says more than its profile's.
            Some(Err(e)) => {
                record
                    .parse_error
                    .get_or_insert((e.failure(), e.to_string()));
            }
            Some(Ok(profile)) => {
                record.self_time =
                    crate::self_time::distribution(&profile, self.backend.is_sampler());
                match &truth {
                    Ok(t) => match accuracy::assess(&profile, t, self.backend.is_sampler()) {
                        Ok(a) => record.accuracy = Some(a),
                        Err(why) => record.note = Some(why),
                    },
                    Err(e) => record.note = Some(format!("{e:#}")),
                }
                if !record.warmup {
                    record.checks = checks::evaluate_run(&checks::Inputs {
                        workload: &self.key.workload,
                        targets: &self.workload.targets,
                        profile: Some(&profile),
                        truth: truth.as_ref().ok(),
                        memory_truth: self.memory_truth,
                        wall_ratio: None,
                    });
                    // Each measured run's parsed profile is kept beside its raw output, so
                    // that `report --recheck` can re-decide every run's checks under new rules.
                    if let Some(run_dir) = out_dir.parent() {
                        if let Err(fault) = keep_profile(&run_dir.join("profile.json"), &profile) {
                            record.harness_fault = Some(fault);
                        }
                    }
                }
                self.last_profile = Some(profile);
                self.last_truth = truth.ok();
            }
        }
        if !self.ctx.settings.keep_raw && record.output_bytes.unwrap_or(0) > RAW_CAP_BYTES {
            let note = format!(
                "raw output of {} bytes dropped after parsing (over the cap; use --keep-raw)\n",
                record.output_bytes.unwrap_or(0)
            );
            let dropped = fresh_dir(out_dir).and_then(|()| {
                let path = out_dir.join("DROPPED.txt");
                fs::write(&path, note).map_err(|e| fault("write", &path, &e))
            });
            if let Err(fault) = dropped {
                record.harness_fault.get_or_insert(fault);
            }
        }
    }

    /// Whether to run pair `i`: the planned runs first, then, with --until-ci, more pairs
    /// until the wall ratio's interval is narrow enough or --max-runs is reached.
    fn wants_more(&self, i: usize, warmup: usize, baseline_only: bool) -> bool {
        let s = self.ctx.settings;
        let goal = self.goal;
        if i < warmup + goal.pairs {
            return true;
        }
        let Some(target) = s.until_ci.filter(|_| goal.adaptive) else {
            return false;
        };
        if i >= warmup + s.max_runs.max(goal.pairs) {
            return false;
        }
        let side = |kind| {
            self.runs
                .iter()
                .filter(move |r| !r.warmup && r.kind == kind)
        };
        let values: Vec<f64> = if baseline_only {
            side(RunKind::Baseline).map(|r| r.measured.wall_s).collect()
        } else {
            side(RunKind::Baseline)
                .zip(side(RunKind::Profiled))
                .map(|(b, p)| p.measured.wall_s / b.measured.wall_s)
                .collect()
        };
        Estimate::of(&values).is_some_and(|e| e.relative_width() > target)
    }

    /// The failure a run stands for, if it failed (`None` when it is fine).
    fn failure_of(&self, r: &RunRecord) -> Option<(Failure, String)> {
        if let Some(fault) = &r.harness_fault {
            return Some((Failure::HarnessFault, fault.clone()));
        }
        let m = &r.measured;
        let text = format!("{}\n{}", m.stderr_tail, m.stdout_tail);
        let (category, error) = match &m.ending {
            Ending::Exited(0) => {
                return match r.kind {
                    // A baseline without usable truth is a broken workload.
                    RunKind::Baseline => r.note.clone().map(|n| (Failure::WorkloadFailed, n)),
                    RunKind::Profiled => r
                        .parse_error
                        .clone()
                        .map(|(category, error)| (category, with_tool_words(error, &m.stderr_tail))),
                };
            }
            Ending::NotStarted(why) => (Failure::NotInstallable, why.clone()),
            Ending::Interrupted => (Failure::Interrupted, "interrupted".into()),
            // A profiler that writes without end is broken, whatever it was doing.
            Ending::OutputCapped(n) => (
                Failure::Crashed,
                format!(
                    "ended by profbench: wrote {} MiB, over the {} MiB output cap (--output-cap-mb)\n{}",
                    n >> 20,
                    self.ctx.settings.output_cap_bytes >> 20,
                    last_lines(&text, 4)
                ),
            ),
            ending => {
                let info = ExitInfo {
                    code: if let Ending::Exited(c) = ending {
                        Some(*c)
                    } else {
                        None
                    },
                    signal: if let Ending::Signalled(s) = ending {
                        Some(*s)
                    } else {
                        None
                    },
                    timed_out: *ending == Ending::TimedOut,
                    stderr: text.clone(),
                    workload_file: self
                        .workload
                        .script
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                };
                let category = if r.kind == RunKind::Baseline {
                    Failure::WorkloadFailed
                } else {
                    self.backend.classify(&info)
                };
                // A reader from outside on a platform that refuses it: the refusal is the
                // cause, whatever the tool's words ("no python processes found").
                if let (Some(denied), true, false) = (
                    &self.ctx.settings.outside_reads_denied,
                    self.backend.reads_from_outside() && r.kind == RunKind::Profiled,
                    category == Failure::BinaryIncompatible,
                ) {
                    return Some((
                        Failure::PermissionDenied,
                        format!(
                            "this platform refuses to read another process ({denied}), which {} needs; its own words:\n{}",
                            self.backend.name(),
                            last_lines(&text, 6)
                        ),
                    ));
                }
                let head = match ending {
                    Ending::TimedOut => format!(
                        "timed out after {:.0} s",
                        self.ctx.settings.timeout.as_secs_f64()
                    ),
                    Ending::Signalled(s) => format!("killed by signal {s}"),
                    Ending::Exited(c) => format!("exit code {c}"),
                    _ => String::new(),
                };
                (category, format!("{head}\n{}", last_lines(&text, 8)))
            }
        };
        Some((category, error.trim().to_string()))
    }
}

/// Why a run that exited 0 did not run the program to its end, judged by the truth it wrote:
/// none at all, or not every phase its header declares. None when it finished (or marks no
/// phases, so nothing can tell).
fn unfinished(workload: &Workload, no_phases: bool, truth: &Result<Truth>) -> Option<String> {
    if no_phases {
        return None;
    }
    match truth {
        Err(e) => Some(format!("{e:#}")),
        Ok(t) => {
            let missing: Vec<&str> = workload
                .phases
                .iter()
                .filter(|p| !t.phases.iter().any(|seen| &seen.name == *p))
                .map(|p| p.as_str())
                .collect();
            (!missing.is_empty()).then(|| format!("it never reached {}", missing.join(", ")))
        }
    }
}

/// A harness fault in words: what profbench was doing, on which path, and the OS error.
fn fault(what: &str, path: &Path, e: &std::io::Error) -> String {
    format!(
        "profbench could not {what} {}: {e} (fix: make the results folder writable, or pass another --out)",
        path.display()
    )
}

/// Empties `dir` (gone already is fine) and creates it again.
fn fresh_dir(dir: &Path) -> Result<(), String> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(fault("remove the folder", dir, &e))
        }
        _ => {}
    }
    create_dir(dir)
}

fn create_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| fault("create the folder", dir, &e))
}

/// Writes a parsed profile beside a run's output (small ones only: above the raw cap it is
/// not kept, as the raw output is not).
fn keep_profile(path: &Path, profile: &Profile) -> Result<(), String> {
    let bytes = serde_json::to_vec(profile).map_err(|e| {
        format!(
            "profbench could not serialise the profile for {}: {e}",
            path.display()
        )
    })?;
    if (bytes.len() as u64) >= RAW_CAP_BYTES {
        return Ok(());
    }
    crate::results::write_atomic(path, &bytes)
        .map_err(|e| format!("profbench could not write {}: {e:#}", path.display()))
}

/// A distribution's installed version, names compared as PEP 503 normalises them
/// (`line_profiler`, `Line-Profiler` and `line.profiler` are one distribution).
fn installed_version(versions: &BTreeMap<String, String>, distribution: &str) -> Option<String> {
    let normal = |n: &str| n.to_lowercase().replace(['_', '.'], "-");
    let wanted = normal(distribution);
    versions
        .iter()
        .find(|(name, _)| normal(name) == wanted)
        .map(|(_, v)| v.clone())
}

/// Runs one cell to its record, or (given its `prior` record) on from where it stopped, to
/// `goal`. Err only on Ctrl-C.
#[allow(clippy::too_many_arguments)]
pub fn run_cell(
    ctx: &Context,
    key: CellKey,
    workload: &Workload,
    backend: &dyn Backend,
    launcher: &Launcher,
    workload_failed: Option<&str>,
    memory_truth: Option<&Truth>,
    prior: Option<CellRecord>,
    goal: Goal,
) -> Result<CellRecord, Interrupted> {
    if let Some(prior) = prior.filter(|p| p.status == Status::Ok) {
        return continue_cell(ctx, workload, backend, launcher, memory_truth, prior, goal);
    }
    let started = now();
    let version = Some(backend.distribution())
        .filter(|d| !d.is_empty())
        .and_then(|d| installed_version(&ctx.env.versions, d));
    let mut record = CellRecord {
        schema: SCHEMA,
        key: key.clone(),
        platform_id: ctx.settings.platform_id.clone(),
        backend_description: backend.description(),
        backend_version: version,
        status: Status::Ok,
        overhead: None,
        accuracy: None,
        accuracy_note: None,
        output_bytes: None,
        postprocess_s: None,
        memory_truth: None,
        profile_warnings: vec![],
        checks: vec![],
        checks_rules: None,
        cost_split: None,
        actionability: None,
        function_bias: None,
        notes: vec![],
        runs: vec![],
        started,
        finished: String::new(),
    };
    let fail = |record: CellRecord, category: Failure, error: String| {
        ctx.progress.inc(
            planned_runs(ctx.settings, &goal, backend.name(), workload)
                .saturating_sub(record.runs.len() as u64),
        );
        Ok(mark_failed(record, category, error))
    };
    // Reasons not to run at all, each decided here and now.
    if let Some(why) = &workload.unavailable {
        // The program's own requirements failed: no profiler ran, none gets verdicts.
        let mut failed = fail(record, Failure::NotInstallable, why.clone())?;
        failed.checks.clear();
        return Ok(failed);
    }
    if let Some(why) = &launcher.unavailable {
        return fail(record, Failure::NotInstallable, why.clone());
    }
    if let Some(why) = workload_failed {
        return fail(
            record,
            Failure::WorkloadFailed,
            format!("the workload fails without any profiler:\n{why}"),
        );
    }
    if let Some(Install::Failed(why)) = ctx.installs.get(backend.name()) {
        return fail(record, Failure::NotInstallable, why.clone());
    }
    if let Some(Err(why)) = ctx.tool_bins.get(backend.name()) {
        return fail(record, Failure::NotInstallable, why.clone());
    }
    let facts = PythonFacts {
        version: ctx.env.version,
        bin_dir: ctx.env.bin_dir.clone(),
    };
    if let Err((category, why)) = backend.check(&facts) {
        return fail(record, category, why);
    }
    let mut cell = Cell::new(ctx, key, workload, backend, launcher, memory_truth, goal);
    match cell.run_pairs(0, goal.warmup)? {
        Ok(()) => {}
        Err((category, error)) => {
            record.runs = std::mem::take(&mut cell.runs);
            record.notes.append(&mut cell.notes());
            return fail(record, category, error);
        }
    }
    if backend.name() == crate::results::BASELINE && workload.memory_truth {
        ctx.progress.set_message(format!(
            "{} / {}: memory truth run",
            record.key.launcher, record.key.workload
        ));
        record.memory_truth = cell.memory_truth()?;
    }
    cell.finish(record)
}

/// Runs more pairs of a cell that is ok so far, then summarises it again from all its runs.
fn continue_cell(
    ctx: &Context,
    workload: &Workload,
    backend: &dyn Backend,
    launcher: &Launcher,
    memory_truth: Option<&Truth>,
    mut record: CellRecord,
    goal: Goal,
) -> Result<CellRecord, Interrupted> {
    let runs = std::mem::take(&mut record.runs);
    let count = |kind: RunKind, warmup: bool| {
        runs.iter()
            .filter(|r| r.variant.is_none() && r.kind == kind && r.warmup == warmup)
            .count()
    };
    let warmup = count(RunKind::Baseline, true).max(count(RunKind::Profiled, true));
    let paired = count(RunKind::Baseline, false);
    let profiled = count(RunKind::Profiled, false);
    // A status run has no baseline yet: it gets one now and becomes the first pair (in a
    // round, its baseline comes from the round instead).
    let unpaired = if backend.name() == crate::results::BASELINE || goal.shared_baseline {
        0
    } else {
        profiled.saturating_sub(paired)
    };
    let mut cell = Cell::new(
        ctx,
        record.key.clone(),
        workload,
        backend,
        launcher,
        memory_truth,
        goal,
    );
    cell.runs = runs;
    // The profile kept is that of the newest run: re-read it for the whole-cell checks.
    cell.last_profile = fs::read(ctx.run_dir.raw_dir(&record.key).join("profile.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut outcome = Ok(());
    for k in 0..unpaired {
        outcome = cell.run_checked(RunKind::Baseline, warmup + paired + k, false)?;
        if outcome.is_err() {
            break;
        }
    }
    if outcome.is_ok() {
        let next = if goal.shared_baseline {
            warmup + profiled
        } else {
            warmup + paired + unpaired
        };
        outcome = cell.run_pairs(next, warmup)?;
    }
    if let Err((category, error)) = outcome {
        record.runs = std::mem::take(&mut cell.runs);
        record.notes.append(&mut cell.notes());
        return Ok(mark_failed(record, category, error));
    }
    cell.finish(record)
}

impl Cell<'_> {
    /// Runs pairs from index `i` (warm-ups first) while the goal wants more. A failed run is
    /// tried once more before it decides the cell: a failure that repeats is the status.
    fn run_pairs(
        &mut self,
        mut i: usize,
        warmup: usize,
    ) -> Result<Result<(), (Failure, String)>, Interrupted> {
        let ctx = self.ctx;
        ctx.progress.set_message(format!(
            "{} / {} / {}",
            self.key.launcher, self.key.workload, self.key.backend
        ));
        let baseline_only = self.backend.name() == crate::results::BASELINE;
        if self.goal.pairs == 0 {
            // A status run: one measured run, nothing to pair it with.
            if self.runs.iter().any(|r| r.is_main()) {
                return Ok(Ok(()));
            }
            let kind = if baseline_only {
                RunKind::Baseline
            } else {
                RunKind::Profiled
            };
            return self.run_checked(kind, i, false);
        }
        while self.wants_more(i, warmup, baseline_only) {
            let warm = i < warmup;
            // A cell's very first run is its profiled one, so a backend that cannot run here
            // costs one run, not a baseline as well (a warm-up pair's order does not matter).
            let sides: &[RunKind] = if baseline_only {
                &[RunKind::Baseline]
            } else if self.goal.shared_baseline || (warm && self.goal.lean_warmup) {
                &[RunKind::Profiled]
            } else if self.runs.is_empty() {
                &[RunKind::Profiled, RunKind::Baseline]
            } else {
                &[RunKind::Baseline, RunKind::Profiled]
            };
            for &kind in sides {
                if let Err(failed) = self.run_checked(kind, i, warm)? {
                    return Ok(Err(failed));
                }
            }
            i += 1;
        }
        Ok(Ok(()))
    }

    /// One run; if it fails, one more try. The failed try is kept out of the pairs and said in
    /// the cell's notes; a second failure is returned. A run that timed out is not tried
    /// again: the time-out is already many times the run's length, and a second one would
    /// double the costliest failure there is.
    fn run_checked(
        &mut self,
        kind: RunKind,
        i: usize,
        warm: bool,
    ) -> Result<Result<(), (Failure, String)>, Interrupted> {
        let run = self.run_once(kind, i, warm)?;
        let Some((category, error)) = self.failure_of(&self.runs[run]) else {
            return Ok(Ok(()));
        };
        if category == Failure::TimedOut {
            return Ok(Err((category, self.after_those_that_worked(kind, error))));
        }
        self.runs.remove(run);
        self.retried.push(format!(
            "{} run {i} failed once ({category}) and was run again: {}",
            side_name(kind),
            error.lines().next().unwrap_or_default()
        ));
        let run = self.run_once(kind, i, warm)?;
        let Some((category, error)) = self.failure_of(&self.runs[run]) else {
            return Ok(Ok(()));
        };
        Ok(Err((category, self.after_those_that_worked(kind, error))))
    }

    /// An intermittent failure reads differently from one that never worked: the error
    /// says how many runs of the same side worked before it (a hang after good pairs, say).
    fn after_those_that_worked(&self, kind: RunKind, error: String) -> String {
        let worked = self
            .runs
            .iter()
            .filter(|r| r.kind == kind && self.failure_of(r).is_none())
            .count();
        if worked > 0 {
            format!(
                "{} run {} failed after {worked} that worked: {error}",
                side_name(kind),
                worked + 1
            )
        } else {
            error
        }
    }

    /// The retries said as notes (a run that failed once and then worked is data too).
    fn notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.retried)
    }

    /// Summarises the main pairs, then runs the variants the goal asks for, and decides the
    /// checks.
    fn finish(mut self, mut record: CellRecord) -> Result<CellRecord, Interrupted> {
        let ctx = self.ctx;
        let backend = self.backend;
        let workload = self.workload;
        let memory_truth = self.memory_truth;
        let baseline_only = backend.name() == crate::results::BASELINE;
        record.notes.append(&mut self.notes());
        let load_at_start = self.load_at_start.take();
        // The main pairs are summarised before the variants run: the checks, and the profile
        // kept, are those of the main pairs.
        summarise(&mut record, &self.runs, baseline_only);
        let main_profile = self.last_profile.take();
        let main_truth = self.last_truth.take();
        if !baseline_only && self.goal.variants {
            let rate = record.accuracy.as_ref().and_then(|a| a.rate_hz);
            match self.cost_split(rate)? {
                Ok(split) => record.cost_split = split,
                Err(note) => record.notes.push(note),
            }
            match self.actionability(record.accuracy.as_ref())? {
                Ok(a) => record.actionability = a,
                Err(note) => record.notes.push(note),
            }
        }
        note_other_load(&mut record, load_at_start.and_then(|s| s.others_cores()));
        record.runs = std::mem::take(&mut self.runs);
        if let (false, Some((inline, calls))) = (baseline_only, &workload.bias) {
            record.function_bias = record.function_bias(inline, calls);
        }
        if !baseline_only {
            let wall_ratio = record.overhead.as_ref().and_then(|o| o.wall);
            let whole_cell = checks::evaluate(&checks::Inputs {
                workload: &record.key.workload,
                targets: &workload.targets,
                profile: main_profile.as_ref(),
                truth: main_truth.as_ref(),
                memory_truth,
                wall_ratio: wall_ratio.as_ref(),
            });
            record.checks = checks::combine(&record.main_run_checks(), whole_cell);
            record.checks_rules = Some(checks::RULES_VERSION);
        }
        if let Some(profile) = &main_profile {
            record.profile_warnings = profile.warnings.clone();
            // The last parsed profile, for checks and re-reading.
            let path = ctx.run_dir.raw_dir(&record.key).join("profile.json");
            if let Err(fault) = keep_profile(&path, profile) {
                record.status = Status::Failed {
                    category: Failure::HarnessFault,
                    error: fault,
                };
                record.checks.clear();
            }
        }
        record.finished = now();
        Ok(record)
    }
}

/// The cores other programs kept busy during the cell, on its overhead, with a warning above
/// `stats::OTHER_LOAD_CORES`.
fn note_other_load(record: &mut CellRecord, cores: Option<f64>) {
    if let (Some(o), Some(cores)) = (record.overhead.as_mut(), cores) {
        o.other_load_cores = Some(cores);
        if cores > stats::OTHER_LOAD_CORES {
            let w = stats::Warning::OtherLoad { cores };
            o.warning_text.push(w.to_string());
            o.warnings.push(w);
        }
    }
}

/// Pairs a cell's newest profiled run, run in a round, with the baseline the round shares
/// (`rounds::shared_baseline`), then summarises the cell again: its overhead, and axis 7,
/// the one check decided on the whole cell's wall ratio. Nothing is attached to a cell that
/// failed, or whose profiled runs are already paired.
pub fn attach_shared_baseline(record: &mut CellRecord, baseline: RunRecord, workload: &Workload) {
    if record.status != Status::Ok || !record.has_unpaired_run() {
        return;
    }
    let other_load = record.overhead.as_ref().and_then(|o| o.other_load_cores);
    record.runs.push(baseline);
    let runs = std::mem::take(&mut record.runs);
    summarise(record, &runs, false);
    record.runs = runs;
    note_other_load(record, other_load);
    let wall_ratio = record.overhead.as_ref().and_then(|o| o.wall);
    let whole_cell = checks::evaluate(&checks::Inputs {
        workload: &record.key.workload,
        targets: &workload.targets,
        profile: None,
        truth: None,
        memory_truth: None,
        wall_ratio: wall_ratio.as_ref(),
    });
    for check in whole_cell
        .into_iter()
        .filter(|c| c.axis == checks::WHOLE_CELL_AXIS)
    {
        match record.checks.iter_mut().find(|c| c.axis == check.axis) {
            Some(old) => *old = check,
            None => record.checks.push(check),
        }
    }
}

/// The record of a cell that ended in a failure. A failed cell has no verdicts: its checks
/// were never run, which is not the same as a run whose output lacks what a check looks for.
fn mark_failed(mut record: CellRecord, category: Failure, error: String) -> CellRecord {
    record.status = Status::Failed { category, error };
    record.checks.clear();
    record.finished = now();
    record
}

fn side_name(kind: RunKind) -> &'static str {
    if kind == RunKind::Profiled {
        "profiled"
    } else {
        "baseline"
    }
}

/// Computes the cell's overhead and accuracy from its measured (non-warm-up) main runs.
fn summarise(record: &mut CellRecord, runs: &[RunRecord], baseline_only: bool) {
    let measured: Vec<&RunRecord> = runs.iter().filter(|r| r.is_main()).collect();
    let base: Vec<&RunRecord> = measured
        .iter()
        .copied()
        .filter(|r| r.kind == RunKind::Baseline)
        .collect();
    let prof: Vec<&RunRecord> = measured
        .iter()
        .copied()
        .filter(|r| r.kind == RunKind::Profiled)
        .collect();
    if baseline_only {
        // The baseline row reports absolute seconds, not ratios.
        let walls: Vec<f64> = base.iter().map(|r| r.measured.wall_s).collect();
        let own: Vec<f64> = base.iter().filter_map(|r| r.own_time_s).collect();
        let mut o = Overhead {
            wall: Estimate::of(&walls),
            own_time: Estimate::of(&own),
            ..Default::default()
        };
        if let Some(w) = &o.wall {
            o.warnings = stats::warnings(w, &walls);
            o.warnings.extend(stats::slow_first_run(&walls));
            o.warning_text = o.warnings.iter().map(|w| w.to_string()).collect();
        }
        record.overhead = Some(o);
        return;
    }
    let pairs: Vec<(&RunRecord, &RunRecord)> =
        base.iter().copied().zip(prof.iter().copied()).collect();
    let ratios = |f: &dyn Fn(&RunRecord) -> Option<f64>| -> Vec<f64> {
        pairs
            .iter()
            .filter_map(|(b, p)| Some(f(p)? / f(b)?))
            .filter(|r| r.is_finite())
            .collect()
    };
    let wall = ratios(&|r| Some(r.measured.wall_s));
    let mut o = Overhead {
        wall: Estimate::of(&wall),
        cpu: Estimate::of(&ratios(&|r| r.measured.cpu_s)),
        peak_rss: Estimate::of(&ratios(&|r| r.measured.peak_rss_bytes.map(|b| b as f64))),
        own_time: Estimate::of(&ratios(&|r| r.own_time_s)),
        ..Default::default()
    };
    let phase_names: Vec<String> = base
        .first()
        .map(|b| b.phase_wall_s.keys().cloned().collect())
        .unwrap_or_default();
    for name in phase_names {
        if let Some(e) = Estimate::of(&ratios(&|r| r.phase_wall_s.get(&name).copied())) {
            o.phases.insert(name, e);
        }
    }
    if let Some(w) = &o.wall {
        o.warnings = stats::warnings(w, &wall);
        let walls =
            |side: &[&RunRecord]| side.iter().map(|r| r.measured.wall_s).collect::<Vec<_>>();
        o.warnings.extend(
            stats::slow_first_run(&walls(&base)).or_else(|| stats::slow_first_run(&walls(&prof))),
        );
        o.warning_text = o.warnings.iter().map(|w| w.to_string()).collect();
    }
    // A status run has nothing to pair with: no overhead, rather than an empty one.
    record.overhead = (!pairs.is_empty()).then_some(o);
    let sizes: Vec<f64> = prof
        .iter()
        .filter_map(|r| r.output_bytes.map(|b| b as f64))
        .collect();
    record.output_bytes = Estimate::of(&sizes).map(|e| e.median as u64);
    record.postprocess_s = Estimate::of(
        &prof
            .iter()
            .filter_map(|r| r.postprocess_s)
            .collect::<Vec<_>>(),
    )
    .map(|e| e.median);
    let accs: Vec<&Accuracy> = prof.iter().filter_map(|r| r.accuracy.as_ref()).collect();
    record.accuracy = accuracy::combine(&accs);
    if record.accuracy.is_none() {
        record.accuracy_note = prof.iter().find_map(|r| r.note.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_failure_carries_the_tools_own_last_lines() {
        let stderr = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/scalene/errors/too-short-to-profile.txt"
        ))
        .unwrap();
        let said = with_tool_words(
            "no output: scalene wrote an empty profile ({})".into(),
            &stderr,
        );
        assert!(
            said.starts_with("no output: scalene wrote an empty profile"),
            "{said}"
        );
        assert!(
            said.contains("did not run for long enough to profile"),
            "{said}"
        );
        assert_eq!(with_tool_words("e".into(), "  \n"), "e");
    }

    #[test]
    fn versions_are_found_under_any_spelling_of_the_name() {
        let versions = BTreeMap::from([("line_profiler".to_string(), "5.1.0".to_string())]);
        assert_eq!(
            installed_version(&versions, "line-profiler").as_deref(),
            Some("5.1.0")
        );
        assert_eq!(installed_version(&versions, "py-spy"), None);
    }

    #[test]
    fn a_program_that_stopped_before_its_declared_phases_did_not_finish() {
        let workload = Workload {
            phases: vec!["load".into(), "compute".into()],
            ..Workload::default()
        };
        let truth = |phases: &[&str]| -> Result<Truth> {
            let phases: Vec<String> = phases
                .iter()
                .map(|p| format!(r#"{{"name":"{p}","function":"f","file":"w.py","line":1,"start_ns":0,"end_ns":1,"wall_ns":1,"cpu_process_ns":1,"cpu_thread_ns":1}}"#))
                .collect();
            let text = format!(
                r#"{{"schema":1,"workload":"w","pid":1,"python":"3.11","phases":[{}]}}"#,
                phases.join(",")
            );
            Ok(serde_json::from_str(&text)?)
        };
        assert_eq!(
            unfinished(&workload, false, &truth(&["load", "compute"])),
            None
        );
        assert_eq!(
            unfinished(&workload, false, &truth(&["load"])).as_deref(),
            Some("it never reached compute")
        );
        let none = Err(anyhow::anyhow!("the workload wrote no truth file t.json"));
        assert!(unfinished(&workload, false, &none)
            .unwrap()
            .contains("no truth file"));
        // A program that marks no phases: nothing can tell.
        assert_eq!(unfinished(&workload, true, &none), None);
    }
}
