//! `cargo bench --bench overhead`: each backend's overhead on short workloads, measured by
//! criterion (its statistics, its HTML report under `target/criterion/`).
//!
//! One criterion group per workload in `benches/workloads/` (`overhead-<workload>`), one
//! benchmark per backend that can run here, always including `none` (the baseline). Every
//! iteration runs the whole command (profiler + Python + workload) through `runner::run`, in a
//! fresh temporary folder, and returns the wall time the runner measured (`iter_custom`), so
//! criterion's "time" is one profiled run's wall time. At the end a summary prints each
//! backend's median wall / `none`'s median wall.
//!
//! Why a dedicated short workload: criterion needs at least 10 samples per benchmark
//! (`sample_size(10)`, one run per sample here), plus its warm-up run and our trial run: 12
//! runs per backend. With ~24 backends, a 2-4 s workload (`workloads/line.py`,
//! `workloads/calibrated.py`) at an average overhead of ~2x costs 24 × 12 × 3 s × 2 ≈ 29 min
//! per workload; the ~0.5 s `benches/workloads/short.py` costs ≈ 24 × 12 × 0.5 s × 2 ≈ 5 min,
//! which leaves room for the ingest bench in a ~15-minute `cargo bench` on 2 cores.
//!
//! Not docs/method.md's method: criterion runs one benchmark after the other (all `none` runs, then
//! all `cprofile` runs, ...), never interleaved A B A B, so drift of the machine's load between
//! benchmarks lands in the ratios. `profbench matrix` measures the paired, interleaved ratios
//! with their 95% intervals; when the two disagree, the matrix is the number to trust.
//!
//! A backend that cannot run here (not installable, `check()` refuses this Python, or its
//! trial run fails) is skipped with its reason printed.
//!
//! Environment:
//!   PROFBENCH_BENCH_QUICK=1          only `none` and `cprofile` (for developing the bench)
//!   PROFBENCH_BENCH_BACKENDS=a,b     only these backends (and `none`)
//!   PROFBENCH_PYTHON=/path/python3   the interpreter the environment is built from (as the CLI)

use criterion::{Criterion, SamplingMode};
use profbench::cli::CommonArgs;
use profbench::commands;
use profbench::launcher::{self, Launcher};
use profbench::pyenv::{Install, PythonEnv};
use profbench::reaper;
use profbench::runner::{self, Ending, Measured, Spec, INTERRUPTED};
use profbench::workload::{self, Workload};
use profbench_profilers::{Backend, ExitInfo, Launch, PythonFacts};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// criterion's minimum; each sample is one run.
const SAMPLES: usize = 10;
/// A run of a ~0.5 s workload that takes a minute is stuck: it is ended and the backend skipped.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const OUTPUT_CAP_BYTES: u64 = 2 << 30;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where criterion writes its report: $CRITERION_HOME, else <target>/criterion, the target
/// folder being $CARGO_TARGET_DIR or the workspace's `target/` (as criterion decides it).
fn criterion_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(h);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("criterion")
}

/// A backend's measured runs (criterion's warm-up run first, then one per sample) and the
/// failures among them.
#[derive(Default)]
struct Collected {
    walls: Vec<f64>,
    failures: Vec<String>,
}

struct Bench<'a> {
    env: &'a PythonEnv,
    launcher: &'a Launcher,
    tool_bins: &'a BTreeMap<String, Result<PathBuf, String>>,
    profbench_exe: PathBuf,
}

/// One finished run: what the runner measured, and its folder (dropped with it).
struct Run {
    measured: Measured,
    dir: tempfile::TempDir,
}

impl Bench<'_> {
    /// Runs `backend` on `w` once, in a fresh temporary folder.
    fn run(&self, backend: &dyn Backend, w: &Workload) -> anyhow::Result<Run> {
        let dir = tempfile::Builder::new().prefix("pbbench").tempdir()?;
        let out_dir = dir.path().join("out");
        std::fs::create_dir_all(&out_dir)?;
        let tool_bin = match self.tool_bins.get(backend.name()) {
            Some(Ok(p)) => p.clone(),
            _ => self.env.bin_dir.clone(),
        };
        let launch = self.launch(&tool_bin, w, &out_dir);
        let mut env: Vec<(OsString, OsString)> = vec![(
            "PROFBENCH_TRUTH".into(),
            dir.path().join("truth.json").into(),
        )];
        env.extend(self.launcher.env.iter().cloned());
        env.extend(backend.env(&launch));
        let spec = Spec {
            argv: backend.command(&launch),
            env,
            cwd: out_dir.clone(),
            timeout: RUN_TIMEOUT,
            log_dir: dir.path().to_path_buf(),
            output_cap_bytes: OUTPUT_CAP_BYTES,
        };
        let measured = runner::run(&spec)?;
        if measured.ending == Ending::Interrupted {
            eprintln!("overhead bench: interrupted");
            reaper::end_descendants();
            std::process::exit(130);
        }
        Ok(Run { measured, dir })
    }

    fn launch<'b>(&'b self, tool_bin: &'b Path, w: &'b Workload, out_dir: &'b Path) -> Launch<'b> {
        Launch {
            python: &self.launcher.python,
            bin_dir: &self.env.bin_dir,
            tool_bin_dir: tool_bin,
            script: &w.script,
            args: &[],
            out_dir,
            profbench_exe: &self.profbench_exe,
        }
    }

    /// The trial run: Ok(wall seconds, note) when the backend runs here, else why not.
    fn trial(&self, backend: &dyn Backend, w: &Workload) -> Result<(f64, Option<String>), String> {
        let run = self.run(backend, w).map_err(|e| format!("{e:#}"))?;
        let m = &run.measured;
        if !m.succeeded() {
            let text = format!("{}\n{}", m.stderr_tail, m.stdout_tail);
            let info = ExitInfo {
                code: match m.ending {
                    Ending::Exited(c) => Some(c),
                    _ => None,
                },
                signal: match m.ending {
                    Ending::Signalled(s) => Some(s),
                    _ => None,
                },
                timed_out: m.ending == Ending::TimedOut,
                stderr: text.clone(),
                workload_file: w
                    .script
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            };
            return Err(format!(
                "{}: trial run ended {:?}: {}",
                backend.classify(&info),
                m.ending,
                last_lines(&text, 3)
            ));
        }
        // The run worked; say so if what it wrote does not parse (its time is still measured).
        let out_dir = run.dir.path().join("out");
        let tool_bin = match self.tool_bins.get(backend.name()) {
            Some(Ok(p)) => p.clone(),
            _ => self.env.bin_dir.clone(),
        };
        let launch = self.launch(&tool_bin, w, &out_dir);
        for (i, argv) in backend.postprocess(&launch).into_iter().enumerate() {
            let spec = Spec {
                argv,
                env: vec![],
                cwd: out_dir.clone(),
                timeout: RUN_TIMEOUT,
                log_dir: out_dir.join(format!("postprocess-{i}")),
                output_cap_bytes: OUTPUT_CAP_BYTES,
            };
            let _ = runner::run(&spec);
        }
        let note = match backend.parse(&out_dir, &m.stdout_tail) {
            Some(Err(e)) => Some(format!(
                "its output does not parse ({e}); its time is still measured"
            )),
            _ => None,
        };
        Ok((m.wall_s, note))
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Why a backend cannot run here before any run: its install or its check().
fn cannot_run(
    b: &dyn Backend,
    installs: &BTreeMap<String, Install>,
    tool_bins: &BTreeMap<String, Result<PathBuf, String>>,
    facts: &PythonFacts,
) -> Option<String> {
    if let Some(Install::Failed(e)) = installs.get(b.name()) {
        return Some(format!("not installable: {}", last_lines(e, 2)));
    }
    if let Some(Err(e)) = tool_bins.get(b.name()) {
        return Some(format!("not installable: {}", last_lines(e, 2)));
    }
    if let Err((category, why)) = b.check(facts) {
        return Some(format!("{category}: {why}"));
    }
    None
}

/// criterion's median estimate (seconds) and its 95% interval, from its estimates.json.
fn criterion_median(group: &str, bench: &str) -> Option<(f64, f64, f64)> {
    let path = criterion_dir()
        .join(group)
        .join(bench)
        .join("new")
        .join("estimates.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let m = &v["median"];
    let get = |x: &serde_json::Value| x.as_f64().map(|ns| ns / 1e9);
    Some((
        get(&m["point_estimate"])?,
        get(&m["confidence_interval"]["lower_bound"])?,
        get(&m["confidence_interval"]["upper_bound"])?,
    ))
}

fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

struct Row {
    backend: String,
    /// (median s, CI low, CI high, source)
    median: Option<(f64, f64, f64, &'static str)>,
    runs: usize,
    failures: Vec<String>,
    note: Option<String>,
}

fn main() {
    let started = Instant::now();
    reaper::become_subreaper();
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\noverhead bench: interrupted; ending the running process tree...");
    });

    let quick = std::env::var("PROFBENCH_BENCH_QUICK").is_ok_and(|v| v == "1");
    let wanted: Vec<String> = match std::env::var("PROFBENCH_BENCH_BACKENDS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        _ if quick => vec!["cprofile".into()],
        _ => vec![],
    };
    let backends = match commands::select_backends(&wanted, None) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("overhead bench: {e:#}");
            return;
        }
    };
    let workloads = match workload::discover(&repo_root().join("benches").join("workloads")) {
        Ok(w) if !w.is_empty() => w,
        Ok(_) => {
            eprintln!("overhead bench: no workload in benches/workloads/: nothing to measure");
            return;
        }
        Err(e) => {
            eprintln!("overhead bench: {e:#}");
            return;
        }
    };
    let common = CommonArgs {
        python: None,
        workloads_dir: repo_root().join("workloads"),
    };
    eprintln!("overhead bench: preparing the Python environment (created on first use)...");
    let (env, _base, installs, tool_bins) = match commands::prepare_env(&common, &backends) {
        Ok(x) => x,
        Err(e) => {
            eprintln!(
                "overhead bench: skipped entirely: cannot prepare the Python environment: {e:#}"
            );
            return;
        }
    };
    let launcher = match launcher::make("direct", &env) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("overhead bench: {e:#}");
            return;
        }
    };
    let bench = Bench {
        env: &env,
        launcher: &launcher,
        tool_bins: &tool_bins,
        profbench_exe: PathBuf::from(env!("CARGO_BIN_EXE_profbench")),
    };
    let facts = PythonFacts {
        version: env.version,
        bin_dir: env.bin_dir.clone(),
    };
    let (a, b, c) = env.version;
    eprintln!(
        "overhead bench: Python {a}.{b}.{c} at {}; {} backend(s), {} workload(s): {}",
        env.python.display(),
        backends.len(),
        workloads.len(),
        workloads
            .iter()
            .map(|w| w.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut criterion = Criterion::default().configure_from_args();
    // profbench's plotters draws text with ab_glyph, from a font registered at run time (the
    // crate features are shared with criterion's charts): register it, or go without charts.
    if let Err(why) = profbench::plot::ensure_font() {
        eprintln!("overhead bench: criterion's charts are off ({why}); its numbers are still in target/criterion/");
        criterion = criterion.without_plots();
    }
    let mut summary: Vec<Summary> = Vec::new();
    for w in &workloads {
        let group_name = format!("overhead-{}", w.name);
        let mut rows = Vec::new();
        let mut skipped: Vec<(String, String)> = Vec::new();
        let mut group = criterion.benchmark_group(&group_name);
        group
            .sample_size(SAMPLES)
            .sampling_mode(SamplingMode::Flat)
            // One warm-up run: its duration already exceeds this.
            .warm_up_time(Duration::from_millis(1));
        for b in &backends {
            let name = b.name().to_string();
            if let Some(why) = cannot_run(b.as_ref(), &installs, &tool_bins, &facts) {
                eprintln!("skipped {group_name}/{name}: {why}");
                skipped.push((name, why));
                continue;
            }
            let (trial_wall, note) = match bench.trial(b.as_ref(), w) {
                Ok(t) => t,
                Err(why) => {
                    eprintln!("skipped {group_name}/{name}: {why}");
                    skipped.push((name, why));
                    continue;
                }
            };
            eprintln!("trial {group_name}/{name}: ran in {trial_wall:.2} s");
            if let Some(n) = &note {
                eprintln!("note {group_name}/{name}: {n}");
            }
            // One run per sample: criterion asks for `measurement_time / SAMPLES / warm-up
            // time` runs per sample, rounded up, so ask for half a trial's time per sample.
            // criterion then warns that it "cannot complete 10 samples" in that time: expected.
            group.measurement_time(Duration::from_secs_f64(
                (trial_wall * SAMPLES as f64 * 0.5).max(0.01),
            ));
            let collected = RefCell::new(Collected::default());
            group.bench_function(name.as_str(), |bencher| {
                bencher.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        match bench.run(b.as_ref(), w) {
                            Ok(run) => {
                                let m = &run.measured;
                                let mut c = collected.borrow_mut();
                                if !m.succeeded() {
                                    c.failures.push(format!(
                                        "{:?}: {}",
                                        m.ending,
                                        last_lines(&m.stderr_tail, 2)
                                    ));
                                }
                                c.walls.push(m.wall_s);
                                total += Duration::from_secs_f64(m.wall_s);
                            }
                            Err(e) => collected
                                .borrow_mut()
                                .failures
                                .push(format!("not started: {e:#}")),
                        }
                    }
                    total
                })
            });
            let c = collected.into_inner();
            // criterion's first call is its warm-up run; the rest are its samples.
            let measured: Vec<f64> = c.walls.iter().skip(1).copied().collect();
            let median = criterion_median(&group_name, &name)
                .map(|(m, lo, hi)| (m, lo, hi, "criterion"))
                .or_else(|| median(&measured).map(|m| (m, m, m, "own samples")));
            rows.push(Row {
                backend: name,
                median,
                runs: measured.len(),
                failures: c.failures,
                note,
            });
        }
        group.finish();
        summary.push((w.clone(), rows, skipped));
    }
    criterion.final_summary();
    let left = reaper::end_descendants();
    if !left.is_empty() {
        eprintln!(
            "overhead bench: ended {} leftover process(es): {}",
            left.len(),
            left.join(", ")
        );
    }
    print_summary(&summary, started.elapsed());
}

/// Per workload: its rows and the backends skipped there, with why.
type Summary = (Workload, Vec<Row>, Vec<(String, String)>);

fn print_summary(summary: &[Summary], took: Duration) {
    println!();
    println!("== overhead summary: each backend's median wall / none's median wall ==");
    for (w, rows, skipped) in summary {
        println!();
        println!(
            "workload {} ({}; criterion group overhead-{}):",
            w.name,
            w.script.display(),
            w.name
        );
        let base = rows
            .iter()
            .find(|r| r.backend == "none")
            .and_then(|r| r.median);
        println!(
            "  {:<20} {:>10} {:>22} {:>8}  runs",
            "backend", "median s", "95% CI of median (s)", "ratio"
        );
        for r in rows {
            let (m, ci, ratio) = match r.median {
                Some((m, lo, hi, source)) => (
                    format!("{m:.3}"),
                    if source == "criterion" {
                        format!("[{lo:.3}, {hi:.3}]")
                    } else {
                        "(own samples)".into()
                    },
                    base.map(|(b, ..)| format!("{:.2}x", m / b))
                        .unwrap_or_else(|| "n/a".into()),
                ),
                None => ("n/a".into(), String::new(), "n/a".into()),
            };
            let mut extra = String::new();
            if !r.failures.is_empty() {
                extra = format!(
                    "  ({} run(s) FAILED, their times are in the numbers: {})",
                    r.failures.len(),
                    r.failures[0]
                );
            }
            if let Some(n) = &r.note {
                extra.push_str(&format!("  (note: {n})"));
            }
            println!(
                "  {:<20} {:>10} {:>22} {:>8}  {}{extra}",
                r.backend, m, ci, ratio, r.runs
            );
        }
        if base.is_none() {
            println!("  (no ratio: the `none` baseline has no measurement)");
        }
        for (name, why) in skipped {
            println!("  skipped {name}: {why}");
        }
    }
    println!();
    println!(
        "Caveat: criterion runs each backend's runs in one block, one backend after the other \
         (none, none, ..., then cprofile, cprofile, ...), not interleaved A B A B as docs/method.md \
         asks; a change in the machine's load between blocks shows up in these ratios. For \
         paired ratios with 95% intervals run `profbench matrix` (e.g. `cargo run --release -- \
         matrix --workloads calibrated`); when the two disagree, trust the matrix."
    );
    println!(
        "criterion's report: {}/report/index.html",
        criterion_dir().display()
    );
    println!("overhead bench took {:.0} s", took.as_secs_f64());
}
