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
use crate::runner::INTERRUPTED;
use crate::workload::{self, Workload};
use anyhow::{bail, Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use profbench_profilers::{all_backends, Backend, PythonFacts};
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
        .filter(|b| b.name() == "none" || wanted.iter().any(|w| w == b.name()))
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
pub type ToolBins = BTreeMap<String, Result<PathBuf, String>>;

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

fn install_ctrlc() {
    // A second Ctrl-C while cleaning up is left to the default handler's patience: we exit soon.
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\nprofbench: second interrupt, exiting now");
            std::process::exit(130);
        }
        eprintln!("\nprofbench: interrupted; ending the current run and keeping finished cells...");
    });
}

pub fn matrix(args: &MatrixArgs) -> Result<i32> {
    launcher::check_names(&args.launchers)?;
    let backends = select_backends(&args.backends, args.backend_file.as_deref())?;
    let all_workloads = workload::discover(&args.common.workloads_dir)?;
    let workloads = workload::select(&all_workloads, &args.workloads)?;
    if workloads.is_empty() {
        bail!(
            "no workloads found in {} (fix: pass --workloads-dir)",
            args.common.workloads_dir.display()
        );
    }
    reaper::become_subreaper();
    install_ctrlc();
    let (env, _base, installs, tool_bins) = prepare_env(&args.common, &backends)?;
    let launchers: Vec<Launcher> = args
        .launchers
        .iter()
        .map(|n| launcher::make(n, &env))
        .collect::<Result<_>>()?;

    let run_dir = open_run_dir(args)?;
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
        (2, 0)
    } else {
        (args.runs.max(1), args.warmup)
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
        command: std::env::args().collect(),
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
        until_ci: args.until_ci.map(|p| p / 100.0),
        max_runs: args.max_runs,
        warmup,
        timeout: Duration::from_secs(args.timeout),
        keep_raw: args.keep_raw,
        output_cap_bytes: args.output_cap_mb << 20,
        platform_id: platform.id.clone(),
        profbench_exe: std::env::current_exe().context("locating the profbench executable")?,
        lengths: args.lengths.clone(),
    };
    let todo: Vec<&CellKey> = plan.iter().filter(|k| !run_dir.is_finished(k)).collect();
    let skipped = plan.len() - todo.len();
    if skipped > 0 {
        eprintln!(
            "resuming {}: {skipped} finished cell(s) kept, {} to run",
            run_dir.root.display(),
            todo.len()
        );
    }
    let total: u64 = todo
        .iter()
        .map(|k| {
            let w = workloads.iter().find(|w| w.name == k.workload).unwrap();
            matrix::planned_runs(&settings, &k.backend, w)
        })
        .sum();
    let progress = ProgressBar::new(total);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs, ETA {eta} {msg}").unwrap(),
    );
    let ctx = Context {
        env: &env,
        installs: &installs,
        tool_bins: &tool_bins,
        settings: &settings,
        run_dir: &run_dir,
        progress: &progress,
    };

    let mut interrupted = false;
    'cells: for key in todo {
        let w = workloads.iter().find(|w| w.name == key.workload).unwrap();
        let b = backends.iter().find(|b| b.name() == key.backend).unwrap();
        let l = launchers.iter().find(|l| l.name == key.launcher).unwrap();
        let baseline = baseline_record(&run_dir, l, w);
        let failed = baseline.as_ref().and_then(|r| match &r.status {
            Status::Failed { error, .. } => Some(error.clone()),
            Status::Ok => None,
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
        ) {
            Ok(record) => {
                progress.println(format!(
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
                ));
                run_dir.write_cell(&record)?;
                let (cells, _) = run_dir.read_cells();
                report::write_all(&run_dir.root, &info, &cells)?;
            }
            Err(matrix::Interrupted) => {
                interrupted = true;
                break 'cells;
            }
        }
    }
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
        backend: "none".into(),
    };
    let path = run_dir.cells_dir().join(key.file_name());
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

fn summary_line(r: &results::CellRecord) -> String {
    let row = report::markdown::row(r);
    format!("{} | {} | {}", row[3], row[4], row[6])
}

fn open_run_dir(args: &MatrixArgs) -> Result<RunDir> {
    let root = if args.resume {
        match &args.out {
            Some(o) => o.clone(),
            None => results::latest_run(&args.results_dir).with_context(|| {
                format!(
                    "nothing to resume in {} (fix: pass --out with the run folder)",
                    args.results_dir.display()
                )
            })?,
        }
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
    Ok(0)
}
