//! The subcommands: set up what a command needs (environment, plan, run folder), run it, and
//! tell the user where the results are.

use crate::cli::{CommonArgs, MatrixArgs};
use crate::launcher::{self, Launcher};
use crate::matrix::{self, Context, Settings};
use crate::platform;
use crate::pyenv::{self, Install, PythonEnv};
use crate::reaper;
use crate::report;
use crate::results::{self, CellKey, RunDir, RunInfo, Status, SCHEMA};
use crate::rounds::{self, Pairing, Round};
use crate::runner::INTERRUPTED;
use crate::schedule;
use crate::workload::{self, Workload};
use anyhow::{bail, Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use profbench_profilers::{all_backends, Backend, Failure, PythonFacts};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Picks backends by name (all when empty), erroring with the valid names.
pub fn select_backends(
    wanted: &[String],
    backend_file: Option<&Path>,
) -> Result<Vec<Box<dyn Backend>>> {
    let mut all = all_backends();
    if let Some(file) = backend_file {
        for b in profbench_profilers::custom::load(file).map_err(anyhow::Error::msg)? {
            if all.iter().any(|known| known.name() == b.name) {
                bail!(
                    "backend '{}' in {} is already defined: give it another name",
                    b.name,
                    file.display()
                );
            }
            all.push(Box::new(b));
        }
    }
    if wanted.is_empty() {
        return Ok(all);
    }
    let names: Vec<String> = all.iter().map(|b| b.name().to_string()).collect();
    for w in wanted {
        if !names.contains(w) {
            bail!(
                "unknown backend '{w}': valid backends are {}",
                names.join(", ")
            );
        }
    }
    // `none` is always in: it is the baseline row and tells workload failures apart.
    Ok(all
        .into_iter()
        .filter(|b| b.name() == crate::results::BASELINE || wanted.iter().any(|w| w == b.name()))
        .collect())
}

fn core_requirements(workloads_dir: &Path) -> Result<Vec<String>> {
    let path = workloads_dir.join("requirements.txt");
    let text = fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (fix: run from the profbench checkout or pass --workloads-dir)",
            path.display()
        )
    })?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

/// Per backend with isolated requirements, its tool environment's bin folder (or why not).
pub use crate::matrix::ToolBins;

/// Creates or reuses the Python environment for these backends, and their tool environments.
/// Public so that the criterion benches (`benches/overhead.rs`, `benches/ingest.rs`) run in the
/// very environment the matrix uses. Returns the env, the base interpreter, each backend's
/// install outcome and, per backend with isolated requirements, its tool env's bin folder.
pub fn prepare_env(
    common: &CommonArgs,
    backends: &[Box<dyn Backend>],
) -> Result<(PythonEnv, PathBuf, BTreeMap<String, Install>, ToolBins)> {
    let base = pyenv::find_base_python(common.python.as_deref())?;
    let core = core_requirements(&common.workloads_dir)?;
    let wanted: Vec<(String, Vec<String>)> = backends
        .iter()
        .map(|b| {
            (
                b.name().to_string(),
                b.requirements().iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();
    let (env, installs) = pyenv::ensure(&base, &core, &wanted)?;
    let mut tool_bins = BTreeMap::new();
    for b in backends {
        let reqs: Vec<String> = b
            .isolated_requirements()
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !reqs.is_empty() {
            tool_bins.insert(
                b.name().to_string(),
                pyenv::ensure_tool_env(&env, &base, b.name(), &reqs),
            );
        }
    }
    Ok((env, base, installs, tool_bins))
}

pub fn install_ctrlc() {
    // A second Ctrl-C while cleaning up is left to the default handler's patience: we exit soon.
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\nprofbench: second interrupt, exiting now");
            // Exiting skips destructors: a chroot's mounts are undone here.
            #[cfg(target_os = "linux")]
            crate::platforms::mounts::unmount_all_active();
            std::process::exit(130);
        }
        eprintln!("\nprofbench: interrupted; ending the current run and keeping finished cells...");
    });
}

/// Pairs per cell when --runs is not given, and the interval (% of the median) that pairs are
/// added past them until.
const DEFAULT_PAIRS: usize = 6;
const DEFAULT_UNTIL_CI: f64 = 10.0;
/// `--quick`: a first answer in minutes.
const QUICK_BUDGET: Duration = Duration::from_secs(10 * 60);
/// `--quick`'s pairs on the workloads whose overhead it measures.
const QUICK_PAIRS: usize = 3;
/// While pairs are being added, the reports are rewritten at most this often.
const REPORT_EVERY: Duration = Duration::from_secs(60);
/// Without a terminal (no progress bar), the ETA is said at most this often.
const ETA_LINE_EVERY: Duration = Duration::from_secs(60);

/// A line above the progress bar, or on stderr when there is no bar (output not a terminal),
/// so that a log of the run still says what was planned and how each cell ended.
fn say(progress: &ProgressBar, line: String) {
    if progress.is_hidden() {
        eprintln!("{line}");
    } else {
        progress.println(line);
    }
}

/// How a run is planned, for the line said before its first run.
struct Plan<'a> {
    cells: &'a [CellKey],
    budget: Option<Duration>,
    hard_budget: bool,
    in_rounds: bool,
    /// Seconds of the whole run, and of its first pass alone, as estimated now.
    estimate_s: f64,
    first_pass_s: f64,
}

/// The plan, said before the first run.
fn plan_line(p: &Plan, workloads: &[Workload], est: &schedule::Estimator) -> String {
    let Plan {
        cells: plan,
        budget,
        hard_budget,
        in_rounds,
        estimate_s,
        first_pass_s,
    } = *p;
    let unknown: Vec<&str> = workloads
        .iter()
        .filter(|w| {
            plan.iter()
                .all(|k| est.baseline_s(&k.launcher, &w.name).is_none())
        })
        .map(|w| w.name.as_str())
        .collect();
    let mut line = format!(
        "plan: {} cells; about {} of runs",
        plan.len(),
        schedule::human(Duration::from_secs_f64(estimate_s))
    );
    match budget {
        Some(b) if hard_budget => line.push_str(&format!(
            " within a hard budget of {}: baselines, each tool's main row, then its variants, cheapest first; cells that do not fit are listed as not run",
            schedule::human(b)
        )),
        Some(b) => {
            line.push_str(&format!(
                " within a budget of {}: every cell's status and first pair, then pairs where the intervals are widest",
                schedule::human(b)
            ));
            if first_pass_s > b.as_secs_f64() {
                line.push_str(&format!(
                    "; the first pass alone takes about {}, past the budget (fewer --backends, --workloads or --launchers fit it{})",
                    schedule::human(Duration::from_secs_f64(first_pass_s)),
                    if in_rounds { "" } else { "; --pairing rounds needs fewer runs" }
                ));
            }
        }
        None => {}
    }
    if in_rounds {
        line.push_str("; pairs in rounds that share a baseline run");
    }
    if !unknown.is_empty() {
        line.push_str(&format!(
            " (a first guess: {} not timed yet; the ETA follows the runs)",
            unknown.join(", ")
        ));
    }
    line
}

/// How the schedule went, in one line: the run's length, and how far off the ETA was.
fn schedule_summary(log: &schedule::ScheduleLog) -> String {
    let total = log.total_s.unwrap_or(0.0);
    let errors: Vec<String> = log
        .eta_error
        .iter()
        .map(|(q, e)| format!("{:.0}%: {:+.0}%", q * 100.0, e * 100.0))
        .collect();
    let mut line = format!(
        "ran {}; ETA error at {}",
        schedule::human(Duration::from_secs_f64(total)),
        if errors.is_empty() {
            "-".to_string()
        } else {
            errors.join(", ")
        }
    );
    if !log.cut_short.is_empty() {
        line.push_str(&format!(
            "; {} cell(s) cut short by the budget (see their notes)",
            log.cut_short.len()
        ));
    }
    if !log.not_run.is_empty() {
        line.push_str(&format!(
            "; {} cell(s) not run within the budget: {} (the same command with --resume runs them)",
            log.not_run.len(),
            log.not_run.join(", ")
        ));
    }
    line
}

pub fn matrix(args: &MatrixArgs) -> Result<i32> {
    // A bare --resume continues the run as it was started (resume.rs).
    if let Some((started, command)) = crate::resume::recorded_args(args)? {
        eprintln!("resuming as started: {}", command.join(" "));
        return matrix_as(&started, command);
    }
    matrix_as(args, std::env::args().collect())
}

/// The matrix of `args`; `command` is recorded as the run's command.
fn matrix_as(args: &MatrixArgs, command: Vec<String>) -> Result<i32> {
    if !args.platforms.is_empty() {
        return crate::platforms::run::matrix(args);
    }
    let suite = args
        .suite
        .as_deref()
        .map(crate::suite::SuiteSpec::parse)
        .transpose()?;
    let implied =
        |f: fn(&crate::suite::SuiteSpec) -> Vec<String>| suite.as_ref().map(f).unwrap_or_default();
    // Both launchers by default; --quick measures the direct one only; a suite may say.
    let suite_launchers = implied(crate::suite::SuiteSpec::implied_launchers);
    let launcher_names: Vec<String> = if !args.launchers.is_empty() {
        args.launchers.clone()
    } else if !suite_launchers.is_empty() {
        suite_launchers
    } else if args.quick {
        vec!["direct".into()]
    } else {
        vec!["direct".into(), "uv".into()]
    };
    launcher::check_names(&launcher_names)?;
    let wanted = if args.backends.is_empty() {
        implied(crate::suite::SuiteSpec::implied_backends)
    } else {
        args.backends.clone()
    };
    let backends = select_backends(&wanted, args.backend_file.as_deref())?;
    // What to run: the workloads folder, a user's program (--script) or a suite (--suite).
    let mut workloads = match (&args.script, &suite) {
        (Some(script), _) => {
            let words = args.script_args.as_deref().unwrap_or("");
            vec![workload::from_script(script, workload::split_args(words)?)?]
        }
        (None, Some(_)) => vec![],
        (None, None) => {
            let all_workloads = workload::discover(&args.common.workloads_dir)?;
            if args.workloads.is_empty() {
                workload::default_selection(&all_workloads, args.quick)
            } else {
                workload::select(&all_workloads, &args.workloads)?
            }
        }
    };
    if workloads.is_empty() && suite.is_none() {
        bail!(
            "no workloads found in {} (fix: pass --workloads-dir)",
            args.common.workloads_dir.display()
        );
    }
    reaper::become_subreaper();
    install_ctrlc();
    let (mut env, base, installs, tool_bins) = prepare_env(&args.common, &backends)?;
    workload::install_truth_module(&env, &args.common.workloads_dir)?;
    let launchers: Vec<Launcher> = launcher_names
        .iter()
        .map(|n| launcher::make(n, &env))
        .collect::<Result<_>>()?;

    let run_dir = open_run_dir(args)?;
    if let Some(spec) = &suite {
        let core = core_requirements(&args.common.workloads_dir)?;
        let (suite_workloads, refreshed) = crate::suite::pyperformance::prepare(
            &spec.pyperformance_benchmarks(),
            &base,
            &core,
            &env,
            &run_dir.root,
            Duration::from_secs(args.timeout),
        )?;
        workloads = suite_workloads;
        env = refreshed;
    }
    let mut plan = Vec::new();
    for l in &launchers {
        for w in &workloads {
            for b in backends.iter().filter(|b| w.uses_ray || !b.needs_ray()) {
                plan.push(CellKey {
                    launcher: l.name.clone(),
                    workload: w.name.clone(),
                    backend: b.name().to_string(),
                });
            }
        }
    }
    let mut platform = platform::describe(env.version);
    let (runs, warmup) = if args.quick {
        (QUICK_PAIRS, 0)
    } else {
        (args.runs.unwrap_or(DEFAULT_PAIRS).max(1), args.warmup)
    };
    let budget = if args.quick {
        Some(QUICK_BUDGET)
    } else {
        args.budget.0
    };
    let mut info = RunInfo {
        schema: SCHEMA,
        run_id: run_dir
            .root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        platform: platform.clone(),
        profbench_version: env!("CARGO_PKG_VERSION").into(),
        python_packages: env.versions.clone(),
        workloads: workloads
            .iter()
            .map(|w| (w.name.clone(), w.sha256.clone()))
            .collect(),
        plan: plan.clone(),
        runs_per_cell: runs,
        command,
    };
    if args.resume {
        // Keep the original plan and platform; add anything newly asked for.
        if let Ok(old) = run_dir.read_info() {
            let mut merged = old.plan.clone();
            merged.extend(plan.iter().filter(|k| !old.plan.contains(k)).cloned());
            info.plan = merged;
            info.platform = old.platform;
            platform = info.platform.clone();
        }
    }
    run_dir.write_info(&info)?;
    let settings = Settings {
        runs,
        until_ci: args
            .until_ci
            .or((args.runs.is_none() && !args.quick).then_some(DEFAULT_UNTIL_CI))
            .filter(|p| *p > 0.0)
            .map(|p| p / 100.0),
        max_runs: args.max_runs,
        warmup,
        timeout: Duration::from_secs(args.timeout),
        keep_raw: args.keep_raw,
        output_cap_bytes: args.output_cap_mb << 20,
        platform_id: platform.id.clone(),
        profbench_exe: std::env::current_exe().context("locating the profbench executable")?,
        outside_reads_denied: crate::platform::outside_reads_denied(),
        lengths: args.lengths.clone(),
    };
    // The pairs each cell is asked for: with --quick, a status run where the workload asks
    // for one (`quick=status`).
    let target_pairs = |w: &Workload| match (args.quick, w.quick) {
        (true, Some(workload::QuickRole::Status)) => 0,
        _ => settings.runs,
    };
    // Baseline cells first: every workload's seconds are then known early, for the ETA.
    let mut order: Vec<&CellKey> = plan.iter().collect();
    order.sort_by_key(|k| !k.is_baseline());
    let (existing, _) = run_dir.read_cells();
    let mut records: BTreeMap<CellKey, results::CellRecord> = existing
        .into_iter()
        .filter(|c| plan.contains(&c.key))
        .map(|c| (c.key.clone(), c))
        .collect();
    if !records.is_empty() {
        eprintln!(
            "resuming {}: {} finished cell(s) kept, {} to run",
            run_dir.root.display(),
            records.len(),
            plan.len() - records.len()
        );
    }
    let find = |k: &CellKey| {
        (
            workloads.iter().find(|w| w.name == k.workload).unwrap(),
            backends.iter().find(|b| b.name() == k.backend).unwrap(),
            launchers.iter().find(|l| l.name == k.launcher).unwrap(),
        )
    };
    // Rounds share each workload's baseline runs among a few cells (rounds.rs); --quick's
    // hard budget picks cells one at a time, interleaved.
    let in_rounds = args.pairing == Pairing::Rounds && !args.quick;
    // The first pass: each cell's whole goal, or with a budget its status and one pair; in
    // rounds, one profiled run (its baseline comes from its round).
    let first_goal = |k: &CellKey| {
        let w = find(k).0;
        let pairs = target_pairs(w);
        if in_rounds && !k.is_baseline() {
            rounds::profiled_goal(None, true)
        } else if budget.is_some() || in_rounds {
            matrix::Goal {
                pairs: pairs.min(1),
                warmup: settings.warmup,
                lean_warmup: true,
                adaptive: false,
                variants: true,
                shared_baseline: false,
            }
        } else {
            matrix::Goal {
                pairs,
                ..matrix::Goal::whole(&settings)
            }
        }
    };
    let total: u64 = order
        .iter()
        .filter(|k| !records.contains_key(*k))
        .map(|k| {
            let w = find(k).0;
            matrix::planned_runs(&settings, &first_goal(k), &k.backend, w)
        })
        .sum();
    let progress = ProgressBar::new(total);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs, {prefix} {msg}").unwrap(),
    );
    let ctx = Context {
        env: &env,
        installs: &installs,
        tool_bins: &tool_bins,
        settings: &settings,
        run_dir: &run_dir,
        progress: &progress,
    };
    let started = std::time::Instant::now();
    let mut estimator = schedule::Estimator::default();
    for r in records.values() {
        estimator.observe(r);
    }
    let mut log = schedule::ScheduleLog {
        budget_s: budget.map(|b| b.as_secs_f64()),
        planned_cells: plan.len(),
        ..Default::default()
    };
    // Seconds of `b` baseline and `p` profiled runs of a cell (in rounds, the baseline runs
    // are the cell's share of its rounds').
    let cost = |est: &schedule::Estimator, k: &CellKey, b: usize, p: usize| {
        if in_rounds && !k.is_baseline() {
            est.cost_in_rounds_s(k, p)
        } else {
            est.cost_s(k, b, p)
        }
    };
    // Seconds of work still wanted: every cell to its asked pairs (with a budget, no more than
    // the budget left, but never less than the first pass still to run).
    let first_pass_s = |est: &schedule::Estimator,
                        records: &BTreeMap<CellKey, results::CellRecord>| {
        plan.iter()
            .filter(|k| !records.contains_key(*k))
            .map(|k| {
                let g = first_goal(k);
                let (b, p) = schedule::runs_needed(None, &k.backend, g.pairs, g.warmup);
                cost(est, k, b, p)
            })
            .sum::<f64>()
    };
    let remaining_s = |est: &schedule::Estimator,
                       records: &BTreeMap<CellKey, results::CellRecord>,
                       elapsed: f64| {
        let first = first_pass_s(est, records);
        let mut rest = 0.0;
        for k in &plan {
            let w = find(k).0;
            let r = records.get(k);
            let (b, p) = schedule::runs_needed(
                r,
                &k.backend,
                if k.is_baseline() { 0 } else { target_pairs(w) },
                if r.is_none() && (!in_rounds || k.is_baseline()) {
                    settings.warmup
                } else {
                    0
                },
            );
            rest += cost(est, k, b, p);
            // A cell already at its pairs whose interval is still too wide goes on to
            // --max-runs, as far as anyone can tell now.
            if let Some(r) = r.filter(|r| schedule::measured_pairs(r) >= target_pairs(w)) {
                if schedule::need(r, target_pairs(w), settings.until_ci, settings.max_runs)
                    .is_some()
                {
                    let more = settings
                        .max_runs
                        .saturating_sub(schedule::measured_pairs(r));
                    rest += cost(est, k, more, more);
                }
            }
        }
        match budget {
            // --quick's budget is hard: what does not fit is not run.
            Some(b) if args.quick => rest.min((b.as_secs_f64() - elapsed).max(0.0)),
            Some(b) => rest.min((b.as_secs_f64() - elapsed).max(first)),
            None => rest,
        }
    };
    let eta_said = std::cell::Cell::new(started);
    let note_eta = |est: &schedule::Estimator,
                    records: &BTreeMap<CellKey, results::CellRecord>,
                    log: &mut schedule::ScheduleLog| {
        let elapsed = started.elapsed().as_secs_f64();
        let left = remaining_s(est, records, elapsed);
        log.eta.push(schedule::EtaPoint {
            elapsed_s: elapsed,
            predicted_total_s: elapsed + left,
        });
        let eta = format!("ETA {}", schedule::human(Duration::from_secs_f64(left)));
        // Without a terminal there is no bar to show it: a line now and then instead.
        if progress.is_hidden() && eta_said.get().elapsed() >= ETA_LINE_EVERY {
            eprintln!(
                "{eta} ({} elapsed)",
                schedule::human(Duration::from_secs_f64(elapsed))
            );
            eta_said.set(std::time::Instant::now());
        }
        progress.set_prefix(eta);
        left
    };
    let first_estimate = note_eta(&estimator, &records, &mut log);
    log.first_estimate_s = Some(first_estimate);
    say(
        &progress,
        plan_line(
            &Plan {
                cells: &plan,
                budget,
                hard_budget: args.quick,
                in_rounds,
                estimate_s: first_estimate,
                first_pass_s: first_pass_s(&estimator, &records),
            },
            &workloads,
            &estimator,
        ),
    );

    let mut interrupted = false;
    let mut last_report = std::time::Instant::now();
    // Keeps finished records: the estimator learns from each, each is written, and the
    // reports are written again now and then.
    let mut keep = |new: Vec<results::CellRecord>,
                    records: &mut BTreeMap<CellKey, results::CellRecord>,
                    est: &mut schedule::Estimator,
                    force_report: bool|
     -> Result<()> {
        for record in new {
            est.observe(&record);
            run_dir.write_cell(&record)?;
            records.insert(record.key.clone(), record);
        }
        if force_report || last_report.elapsed() > REPORT_EVERY {
            let cells: Vec<results::CellRecord> = records.values().cloned().collect();
            report::write_all(&run_dir.root, &info, &cells)?;
            last_report = std::time::Instant::now();
        }
        Ok(())
    };
    // The first pass. With --quick the budget is a hard one: the cells that fit, main rows
    // before variants and cheapest first (schedule::next_within); the rest are said not run.
    let mut todo: Vec<CellKey> = order
        .iter()
        .filter(|k| !records.contains_key(*k))
        .map(|k| (*k).clone())
        .collect();
    let is_variant = |k: &CellKey| find(k).1.variant_of().is_some();
    // The baseline row of a (launcher, workload), which opens and closes its rounds.
    let row_of = |group: &(String, String)| {
        let key = CellKey {
            launcher: group.0.clone(),
            workload: group.1.clone(),
            backend: results::BASELINE.into(),
        };
        let (workload, backend, launcher) = find(&key);
        rounds::Baseline {
            key,
            workload,
            backend: backend.as_ref(),
            launcher,
        }
    };
    let mut round: Option<Round> = None;
    while !todo.is_empty() {
        let next = match budget.filter(|_| args.quick) {
            None => Some(0),
            Some(b) => {
                let left = b.as_secs_f64() - started.elapsed().as_secs_f64();
                let cell_cost = |k: &CellKey| {
                    let g = first_goal(k);
                    let (b, p) = schedule::runs_needed(None, &k.backend, g.pairs, g.warmup);
                    cost(&estimator, k, b, p)
                };
                schedule::next_within(&todo, is_variant, cell_cost, left)
            }
        };
        let Some(i) = next else {
            for k in todo.drain(..) {
                let w = find(&k).0;
                let runs = matrix::planned_runs(&settings, &first_goal(&k), &k.backend, w);
                progress.set_length(progress.length().unwrap_or(0).saturating_sub(runs));
                log.not_run
                    .push(format!("{} / {} / {}", k.launcher, k.workload, k.backend));
            }
            break;
        };
        let key = &todo.remove(i);
        if in_rounds && !key.is_baseline() {
            // The open round takes this cell unless it belongs to another (launcher,
            // workload) or is full; then it closes, and a round opens for this cell.
            let group = (key.launcher.clone(), key.workload.clone());
            let base_s = estimator
                .baseline_s(&key.launcher, &key.workload)
                .unwrap_or(0.0);
            if let Some(r) = round.take_if(|r| r.group != group || r.is_full(base_s)) {
                let same = r.group == group;
                let Ok((written, after)) =
                    rounds::close_round(&ctx, &row_of(&r.group), r, &records)
                else {
                    interrupted = true;
                    break;
                };
                keep(written, &mut records, &mut estimator, false)?;
                round = after
                    .filter(|_| same)
                    .map(|i| Round::open(group.clone(), i));
            }
            if round.is_none() {
                let Ok((row, opened)) = rounds::open(&ctx, &row_of(&group), &records) else {
                    interrupted = true;
                    break;
                };
                keep(
                    row.into_iter().collect(),
                    &mut records,
                    &mut estimator,
                    false,
                )?;
                round = opened;
            }
        }
        let (w, b, l) = find(key);
        let baseline = baseline_record(&run_dir, l, w);
        // A baseline that failed makes the row a workload failure, unless profbench itself
        // was at fault: then each cell meets (and reports) the fault itself.
        let failed = baseline.as_ref().and_then(|r| match &r.status {
            Status::Failed { category, error } if *category != Failure::HarnessFault => {
                Some(error.clone())
            }
            _ => None,
        });
        let memory_truth = baseline.as_ref().and_then(|r| r.memory_truth.as_ref());
        match matrix::run_cell(
            &ctx,
            key.clone(),
            w,
            b.as_ref(),
            l,
            failed.as_deref(),
            memory_truth,
            None,
            first_goal(key),
        ) {
            Ok(record) => {
                say(
                    &progress,
                    format!(
                        "{:>8} {} / {} / {}: {}",
                        if record.status == Status::Ok {
                            "ok"
                        } else {
                            "failed"
                        },
                        key.launcher,
                        key.workload,
                        key.backend,
                        summary_line(&record)
                    ),
                );
                if let Some(r) = round.as_mut().filter(|_| record.has_unpaired_run()) {
                    r.add(key.clone(), last_profiled_wall(&record));
                }
                keep(vec![record], &mut records, &mut estimator, true)?;
                note_eta(&estimator, &records, &mut log);
            }
            Err(matrix::Interrupted) => {
                interrupted = true;
                break;
            }
        }
    }
    if let (Some(r), false) = (round.take(), interrupted) {
        match rounds::close_round(&ctx, &row_of(&r.group), r, &records) {
            Ok((written, _)) => {
                keep(written, &mut records, &mut estimator, true)?;
            }
            Err(matrix::Interrupted) => interrupted = true,
        }
    }
    // Then one more pair at a time for the cell that needs it most, while the pair fits in the
    // budget left (with no budget, in rounds, until every cell has what it asks for). In
    // rounds, the cells of its (launcher, workload) that need a pair share the round.
    while (budget.is_some() || in_rounds) && !interrupted {
        let left = budget.map_or(f64::INFINITY, |b| {
            b.as_secs_f64() - started.elapsed().as_secs_f64()
        });
        let need = |r: &results::CellRecord| {
            let w = find(&r.key).0;
            schedule::need(r, target_pairs(w), settings.until_ci, settings.max_runs)
        };
        // A round costs its two baseline runs besides the profiled one.
        let pair_cost = |k: &CellKey| estimator.cost_s(k, if in_rounds { 2 } else { 1 }, 1);
        let pick = records
            .values()
            .filter_map(|r| Some((need(r)?, r)))
            .filter(|(_, r)| pair_cost(&r.key) <= left)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, r)| r.key.clone());
        let Some(key) = pick else { break };
        let (w, b, l) = find(&key);
        let prior = records.get(&key).cloned();
        if in_rounds && !prior.as_ref().is_some_and(|r| r.has_unpaired_run()) {
            let group = (key.launcher.clone(), key.workload.clone());
            let mut members: Vec<(f64, CellKey)> = records
                .values()
                .filter(|r| (r.key.launcher.clone(), r.key.workload.clone()) == group)
                .filter(|r| r.key != key && !r.has_unpaired_run())
                .filter_map(|r| Some((need(r)?, r.key.clone())))
                .collect();
            members.sort_by(|a, b| b.0.total_cmp(&a.0));
            let members = std::iter::once(key.clone()).chain(members.into_iter().map(|(_, k)| k));
            let row = row_of(&group);
            let Ok((row_record, opened)) = rounds::open(&ctx, &row, &records) else {
                interrupted = true;
                break;
            };
            keep(
                row_record.into_iter().collect(),
                &mut records,
                &mut estimator,
                false,
            )?;
            // No round without a baseline run to open it: this cell is paired the
            // interleaved way below.
            if let Some(mut round) = opened {
                let base_s = estimator
                    .baseline_s(&key.launcher, &key.workload)
                    .unwrap_or(0.0);
                let memory_truth = records.get(&row.key).and_then(|r| r.memory_truth.clone());
                for k in members {
                    let left = budget.map_or(f64::INFINITY, |b| {
                        b.as_secs_f64() - started.elapsed().as_secs_f64()
                    });
                    let fits = estimator.cost_s(&k, 1, 1) <= left;
                    if round.is_full(base_s) || (!round.cells.is_empty() && !fits) {
                        break;
                    }
                    let (w, b, l) = find(&k);
                    let prior = records.get(&k).cloned();
                    let goal = rounds::profiled_goal(prior.as_ref(), false);
                    progress.inc_length(1);
                    let cell = matrix::run_cell(
                        &ctx,
                        k.clone(),
                        w,
                        b.as_ref(),
                        l,
                        None,
                        memory_truth.as_ref(),
                        prior,
                        goal,
                    );
                    let Ok(record) = cell else {
                        interrupted = true;
                        break;
                    };
                    if record.has_unpaired_run() {
                        round.add(k.clone(), last_profiled_wall(&record));
                    }
                    keep(vec![record], &mut records, &mut estimator, false)?;
                }
                if interrupted {
                    break;
                }
                let Ok((written, _)) = rounds::close_round(&ctx, &row, round, &records) else {
                    interrupted = true;
                    break;
                };
                keep(written, &mut records, &mut estimator, false)?;
                note_eta(&estimator, &records, &mut log);
                continue;
            }
        }
        // Interleaved: a baseline run, then the profiled one.
        let pairs = prior.as_ref().map(schedule::measured_pairs).unwrap_or(0) + 1;
        progress.inc_length(2);
        let memory_truth = baseline_record(&run_dir, l, w).and_then(|r| r.memory_truth);
        match matrix::run_cell(
            &ctx,
            key.clone(),
            w,
            b.as_ref(),
            l,
            None,
            memory_truth.as_ref(),
            prior,
            matrix::Goal {
                pairs,
                warmup: 0,
                lean_warmup: true,
                adaptive: false,
                variants: false,
                shared_baseline: false,
            },
        ) {
            Ok(record) => {
                keep(vec![record], &mut records, &mut estimator, false)?;
                note_eta(&estimator, &records, &mut log);
            }
            Err(matrix::Interrupted) => interrupted = true,
        }
    }
    if budget.is_some() {
        for record in records.values_mut() {
            let w = find(&record.key).0;
            let before = record.notes.clone();
            record.notes.retain(|n| !schedule::is_schedule_note(n));
            if let Some(note) = schedule::cut_short_note(record, target_pairs(w), settings.until_ci)
            {
                let k = &record.key;
                log.cut_short.push(format!(
                    "{} / {} / {}: {note}",
                    k.launcher, k.workload, k.backend
                ));
                record.notes.push(note);
            }
            // Only a record whose notes changed is written again: a finished cell's file
            // stays as it was (its numbers are not re-serialised).
            if record.notes != before {
                run_dir.write_cell(record)?;
            }
        }
    }
    log.close(started.elapsed().as_secs_f64());
    results::write_atomic(
        &run_dir.root.join("schedule.json"),
        &serde_json::to_vec_pretty(&log)?,
    )?;
    progress.finish_and_clear();
    info.platform.load_at_end = Some(platform::load_average());
    run_dir.write_info(&info)?;
    let (cells, problems) = run_dir.read_cells();
    for p in problems {
        eprintln!("warning: unreadable cell record {p}");
    }
    let written = report::write_all(&run_dir.root, &info, &cells)?;
    let table = fs::read_to_string(&written[0]).unwrap_or_default();
    println!("{table}");
    let left = reaper::end_descendants();
    if !left.is_empty() {
        eprintln!(
            "warning: ended {} leftover process(es): {}",
            left.len(),
            left.join(", ")
        );
    }
    for p in &written {
        println!("wrote {}", p.display());
    }
    println!("{}", schedule_summary(&log));
    if interrupted {
        eprintln!("interrupted: {} cell(s) finished and kept in {}; continue with `profbench matrix --resume --out {}`", cells.len(), run_dir.root.display(), run_dir.root.display());
        return Ok(130);
    }
    Ok(0)
}

/// Why this (launcher, workload) fails without any profiler, from its finished `none` cell.
/// The finished `none` cell of this (launcher, workload): whether the workload fails without
/// any profiler, and its memory truth.
fn baseline_record(run_dir: &RunDir, l: &Launcher, w: &Workload) -> Option<results::CellRecord> {
    let key = CellKey {
        launcher: l.name.clone(),
        workload: w.name.clone(),
        backend: crate::results::BASELINE.into(),
    };
    let path = run_dir.cells_dir().join(key.file_name());
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// Wall seconds of a cell's newest profiled run of the main pairs.
fn last_profiled_wall(r: &results::CellRecord) -> f64 {
    r.runs
        .iter()
        .rev()
        .find(|r| r.kind == results::RunKind::Profiled && r.is_main())
        .map_or(0.0, |r| r.measured.wall_s)
}

fn summary_line(r: &results::CellRecord) -> String {
    let row = report::markdown::row(r);
    format!("{} | {} | {}", row[3], row[4], row[6])
}

fn open_run_dir(args: &MatrixArgs) -> Result<RunDir> {
    let root = if args.resume {
        crate::resume::folder(args)?
    } else {
        match &args.out {
            Some(o) => o.clone(),
            None => args
                .results_dir
                .join(chrono::Local::now().format("%Y-%m-%dT%H-%M-%S").to_string()),
        }
    };
    if !args.resume
        && root.join("cells").exists()
        && fs::read_dir(root.join("cells"))?.next().is_some()
    {
        bail!(
            "{} already holds results: pass --resume to continue it, or another --out",
            root.display()
        );
    }
    fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    // Runs start in their own output folder: every path handed to them must be absolute.
    let root =
        std::path::absolute(&root).with_context(|| format!("resolving {}", root.display()))?;
    Ok(RunDir { root })
}

pub fn list(args: &CommonArgs) -> Result<i32> {
    // Decided from the base interpreter, without building the environment (that is doctor's).
    let facts = pyenv::find_base_python(args.python.as_deref()).and_then(|p| {
        let version = pyenv::python_version(&p)?;
        Ok(PythonFacts {
            version,
            bin_dir: p.parent().map(Path::to_path_buf).unwrap_or_default(),
        })
    });
    match &facts {
        Ok(f) => println!("python: {}.{}.{}", f.version.0, f.version.1, f.version.2),
        Err(e) => println!("python: none usable ({e:#})"),
    }
    println!("backends:");
    for b in all_backends() {
        let mut reqs = b.requirements();
        reqs.extend(b.isolated_requirements());
        let here = match &facts {
            Err(_) => "cannot run here: no Python".to_string(),
            Ok(f) => match b.check(f) {
                Err((category, why)) => format!("cannot run here: {category}: {why}"),
                Ok(()) => "can run here (the matrix decides)".to_string(),
            },
        };
        let pins = if reqs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", reqs.join(" "))
        };
        println!(
            "  {:<22} {}{pins}\n  {:<22} {here}",
            b.name(),
            b.description(),
            ""
        );
    }
    println!("workloads ({}):", args.workloads_dir.display());
    for w in workload::discover(&args.workloads_dir)? {
        let ray = if w.uses_ray {
            " (starts a local Ray cluster)"
        } else {
            ""
        };
        println!("  {:<22} phases: {}{ray}", w.name, w.phases.join(", "));
    }
    println!("launchers: {}", launcher::NAMES.join(", "));
    println!("(`profbench doctor` installs the environment and checks every backend's install)");
    Ok(0)
}

pub fn doctor(args: &CommonArgs) -> Result<i32> {
    let backends = all_backends();
    let (env, _base, installs, tool_bins) = prepare_env(args, &backends)?;
    let p = platform::describe(env.version);
    println!("{}", serde_json::to_string_pretty(&p)?);
    println!(
        "python env: {} (uv: {})",
        env.root.display(),
        env.uv
            .as_ref()
            .map(|u| u.display().to_string())
            .unwrap_or_else(|| "not available, pip used".into())
    );
    let facts = PythonFacts {
        version: env.version,
        bin_dir: env.bin_dir.clone(),
    };
    for b in &backends {
        let verdict = match (
            installs.get(b.name()),
            tool_bins.get(b.name()),
            b.check(&facts),
        ) {
            (Some(Install::Failed(e)), _, _) => format!(
                "cannot run: not installable: {}",
                e.lines().last().unwrap_or("")
            ),
            (_, Some(Err(e)), _) => format!(
                "cannot run: not installable: {}",
                e.lines().last().unwrap_or("")
            ),
            (_, _, Err((cat, why))) => format!("cannot run: {cat}: {why}"),
            _ => {
                let v = env
                    .versions
                    .get(&b.distribution().to_lowercase())
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default();
                format!("installed{v}; runs are decided by the matrix")
            }
        };
        println!("  {:<22} {verdict}", b.name());
    }
    // On a platform's own run (`platform build`), the list would describe the platform from inside.
    if std::env::var_os(platform::NAME_VAR).is_none() {
        println!("platforms (`profbench platform list`):");
        for line in crate::platforms::describe_all(&crate::platforms::discover()) {
            println!("{line}");
        }
    }
    Ok(0)
}
