//! `cargo bench --bench ingest`: how fast profbench reads what profilers write.
//!
//! 1. The own sampler's collector ingest rate (records/s): the sampler crate's own benchmark
//!    (`profilers/sampler/benches/ingest.rs`, included below as a module, not copied), run
//!    here so that `cargo bench` at the root reports it.
//! 2. Parse throughput (MB/s) of the largest peer outputs, real files made once at the first
//!    run by the real profilers from profbench's environment on `workloads/single.py` and kept
//!    under `target/bench-data/`:
//!    - a VizTracer trace (`python -m viztracer -o trace.json single.py`: its default
//!      1M-entry buffer fills, ~100 MB), read by `profbench_profilers::viztracer::parse_trace`;
//!    - an Austin 3 sample file (`austin -i 100 -o austin.txt python single.py`, austin-dist
//!      3.7.0 from the tool environment the matrix uses), read by
//!      `profbench_profilers::austin::parse_text`.
//!
//!    Beside each, the same file read by the profiler's own Python tooling (VizTracer's
//!    `report_builder.get_json`, the loader behind `viztracer --combine` and `vizviewer`;
//!    austin-python's `AustinFileReader` + `Sample.parse`, the reader behind
//!    `austin2speedscope`), timed inside the Python process over a few runs, and the ratio
//!    profbench MB/s ÷ Python MB/s is printed.
//!
//! A part whose tool is missing is skipped with the reason printed; nothing here panics on a
//! missing tool.

#[allow(dead_code, unused_imports)]
#[path = "../profilers/sampler/benches/ingest.rs"]
mod sampler_ingest;

use criterion::{Criterion, SamplingMode, Throughput};
use profbench::cli::CommonArgs;
use profbench::commands;
use profbench::pyenv::{self, Install, PythonEnv};
use profbench::reaper;
use profbench::runner::{self, Ending, Spec, INTERRUPTED};
use profbench_profilers::{austin, viztracer, Clock};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

/// austin-python's last line for Austin 3's text format (2.x reads Austin 4's MOJO).
const AUSTIN_PYTHON_PIN: &str = "austin-python==1.7.1";
/// Runs of each Python reference.
const REFERENCE_RUNS: usize = 3;
const GENERATE_TIMEOUT: Duration = Duration::from_secs(900);

const VIZTRACER_REFERENCE: &str = r#"import sys, time
from viztracer import report_builder
t = time.perf_counter()
d = report_builder.get_json(sys.argv[1])
elapsed = time.perf_counter() - t
print("PARSE", elapsed, "%d events with the %s module" % (len(d["traceEvents"]), report_builder.json.__name__))
"#;

const AUSTIN_REFERENCE: &str = r#"import sys, time
from austin.stats import AustinFileReader, InvalidSample, MetricType, Sample
t = time.perf_counter()
n = bad = 0
with AustinFileReader(sys.argv[1]) as f:
    metric = MetricType.from_mode(f.metadata.get("mode", "wall"))
    for line in f:
        try:
            n += len(Sample.parse(line, metric))
        except InvalidSample:
            bad += 1
elapsed = time.perf_counter() - t
print("PARSE", elapsed, "%d samples, %d invalid" % (n, bad))
"#;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

fn criterion_dir() -> PathBuf {
    std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("criterion"))
}

/// criterion's estimate (seconds per iteration: "median" or "mean") of a benchmark measured
/// in this process (an older report, e.g. of a benchmark filtered out, is not read).
fn criterion_estimate(group: &str, bench: &str, which: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(bench)
        .join("new")
        .join("estimates.json");
    if fs::metadata(&path).ok()?.modified().ok()? < since {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    v[which]["point_estimate"].as_f64().map(|ns| ns / 1e9)
}

/// Elements per iteration criterion recorded for a benchmark (its `Throughput::Elements`).
fn criterion_elements(group: &str, bench: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(bench)
        .join("new")
        .join("benchmark.json");
    let v: serde_json::Value = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    v["throughput"]["Elements"].as_f64()
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

fn run(argv: Vec<OsString>, cwd: &Path, log_dir: &Path) -> Result<runner::Measured, String> {
    let spec = Spec {
        argv,
        env: vec![],
        cwd: cwd.to_path_buf(),
        timeout: GENERATE_TIMEOUT,
        log_dir: log_dir.to_path_buf(),
        output_cap_bytes: 8 << 30,
    };
    let m = runner::run(&spec).map_err(|e| format!("{e:#}"))?;
    if m.ending == Ending::Interrupted {
        eprintln!("ingest bench: interrupted");
        reaper::end_descendants();
        std::process::exit(130);
    }
    if !m.succeeded() {
        return Err(format!(
            "ended {:?}: {}",
            m.ending,
            last_lines(&format!("{}\n{}", m.stderr_tail, m.stdout_tail), 4)
        ));
    }
    Ok(m)
}

/// Makes `file` in the data folder once with `argv_for(partial path)`; reused afterwards.
fn generate(
    data: &Path,
    file: &str,
    what: &str,
    argv_for: impl Fn(&Path) -> Vec<OsString>,
) -> Result<PathBuf, String> {
    let path = data.join(file);
    if fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(false) {
        return Ok(path);
    }
    let work = data.join(format!("{file}.work"));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    // The output keeps the final name's extension (VizTracer picks its format from it).
    let partial = work.join(file);
    eprintln!(
        "ingest bench: generating {} ({what}), once...",
        path.display()
    );
    let started = Instant::now();
    run(argv_for(&partial), &work, &work)?;
    fs::rename(&partial, &path).map_err(|e| {
        format!(
            "{what} wrote no {} ({e}); see {}",
            partial.display(),
            work.join("stderr.txt").display()
        )
    })?;
    let _ = fs::remove_dir_all(&work);
    eprintln!(
        "ingest bench: generated {} ({:.1} MB) in {:.0} s",
        path.display(),
        size_mb(&path),
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

fn size_mb(path: &Path) -> f64 {
    fs::metadata(path)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0)
}

/// The Python reference: `script file` run REFERENCE_RUNS times; median of the parse time the
/// script measured itself (interpreter start and imports excluded), and what it printed.
fn reference(
    python: &Path,
    script: &str,
    file: &Path,
    data: &Path,
) -> Result<(f64, String), String> {
    let mut times = Vec::new();
    let mut said = String::new();
    let log = data.join("reference-log");
    for _ in 0..REFERENCE_RUNS {
        let argv = vec![
            python.as_os_str().to_owned(),
            "-c".into(),
            script.into(),
            file.as_os_str().to_owned(),
        ];
        let m = run(argv, data, &log)?;
        let line = m
            .stdout_tail
            .lines()
            .find(|l| l.starts_with("PARSE "))
            .ok_or_else(|| {
                format!(
                    "no PARSE line in its output: {}",
                    last_lines(&m.stdout_tail, 2)
                )
            })?;
        let mut parts = line.split_whitespace().skip(1);
        let t: f64 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("unreadable line: {line}"))?;
        times.push(t);
        said = parts.collect::<Vec<_>>().join(" ");
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((times[times.len() / 2], said))
}

struct ParseCase {
    bench: &'static str,
    what: &'static str,
    file: PathBuf,
    reference: Result<(f64, String), String>,
    reference_name: String,
}

fn main() {
    let started = Instant::now();
    let since = SystemTime::now();
    reaper::become_subreaper();
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ningest bench: interrupted; ending the running process tree...");
    });

    // profbench's plotters draws text with ab_glyph, from a font registered at run time (the
    // crate features are shared with criterion's charts): register it, or go without charts.
    let font = profbench::plot::ensure_font();
    let mut notes: Vec<String> = Vec::new();

    // 1. The collector's ingest rate: the sampler crate's own benchmark, as it is.
    match &font {
        Ok(()) => sampler_ingest::benches(),
        // Its own Criterion draws charts, which need the font: run it where it lives instead.
        Err(why) => notes.push(format!(
            "collector ingest skipped: criterion's charts need a font ({why}); \
             or run `cargo bench -p profbench-sampler -- --noplot`"
        )),
    }

    // 2. Parse throughput on real, large outputs.
    let mut cases: Vec<ParseCase> = Vec::new();
    let data = target_dir().join("bench-data");
    match prepare(&data, &mut notes) {
        Ok(c) => cases = c,
        Err(why) => notes.push(format!("parse benches skipped: {why}")),
    }

    let mut criterion = Criterion::default().configure_from_args();
    if let Err(why) = &font {
        eprintln!("ingest bench: criterion's charts are off ({why}); its numbers are still in target/criterion/");
        criterion = criterion.without_plots();
    }
    let mut group = criterion.benchmark_group("parse");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let mut benched: Vec<(&ParseCase, u64)> = Vec::new();
    for case in &cases {
        let bytes = match fs::read(&case.file) {
            Ok(b) => b,
            Err(e) => {
                notes.push(format!(
                    "{} skipped: {}: {e}",
                    case.bench,
                    case.file.display()
                ));
                continue;
            }
        };
        // Check once that it parses: a failing parser is reported, never benchmarked.
        let parse: fn(&[u8]) -> Result<usize, String> = match case.bench {
            "viztracer-trace" => |b| {
                viztracer::parse_trace(b)
                    .map(|t| t.events)
                    .map_err(|e| e.to_string())
            },
            _ => |b| {
                austin::parse_text(b, Clock::Wall)
                    .map(|p| p.samples.len())
                    .map_err(|e| e.to_string())
            },
        };
        match parse(&bytes) {
            Ok(n) => eprintln!(
                "ingest bench: {} parses: {n} {} in {:.1} MB",
                case.bench,
                if case.bench == "viztracer-trace" {
                    "complete events"
                } else {
                    "distinct stacks"
                },
                bytes.len() as f64 / 1e6
            ),
            Err(e) => {
                notes.push(format!(
                    "{} skipped: profbench cannot parse {}: {e}",
                    case.bench,
                    case.file.display()
                ));
                continue;
            }
        }
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(case.bench, |b| b.iter(|| parse(&bytes)));
        benched.push((case, bytes.len() as u64));
    }
    group.finish();
    criterion.final_summary();
    reaper::end_descendants();

    // The summary.
    println!();
    println!("== ingest summary ==");
    let collector = "ingest 10k records (20-frame stacks)";
    match (
        criterion_estimate("collector", collector, "mean", since),
        criterion_elements("collector", collector),
    ) {
        (Some(s), Some(n)) => println!(
            "collector ingest (profbench's own sampler): {:.2} M records/s ({n:.0} records in {:.2} ms, criterion mean)",
            n / s / 1e6,
            s * 1e3
        ),
        _ => println!("collector ingest: no estimate from this run (filtered out?)"),
    }
    for (case, len) in &benched {
        let mb = *len as f64 / 1e6;
        let ours = criterion_estimate("parse", case.bench, "median", since).map(|s| mb / s);
        let line = match ours {
            Some(r) => format!("{r:.1} MB/s"),
            None => "no estimate from this run (filtered out?)".into(),
        };
        println!(
            "{} ({}, {:.1} MB): profbench {line}",
            case.bench, case.what, mb
        );
        match &case.reference {
            Ok((t, said)) => {
                let theirs = mb / t;
                print!(
                    "    reference {}: {theirs:.1} MB/s (median of {REFERENCE_RUNS} runs, {t:.2} s each; it read {said})",
                    case.reference_name
                );
                match ours {
                    Some(r) => println!("\n    ratio profbench / Python tool: {:.1}x", r / theirs),
                    None => println!(),
                }
            }
            Err(why) => println!("    reference {}: not measured: {why}", case.reference_name),
        }
    }
    for n in &notes {
        println!("{n}");
    }
    println!(
        "MB = 10^6 bytes (criterion's own lines say MiB/s = 2^20 bytes/s). profbench's time is a parse \
         of bytes already in memory; the Python tools' time is measured inside their process \
         (interpreter start-up and imports excluded) and includes reading the file from the page cache."
    );
    println!(
        "criterion's report: {}/report/index.html; the generated files: {}",
        criterion_dir().display(),
        data.display()
    );
    println!("ingest bench took {:.0} s", started.elapsed().as_secs_f64());
}

/// The environment, the two real output files and the Python references.
fn prepare(data: &Path, notes: &mut Vec<String>) -> Result<Vec<ParseCase>, String> {
    fs::create_dir_all(data).map_err(|e| format!("creating {}: {e}", data.display()))?;
    let wanted = vec![
        "viztracer".to_string(),
        austin::Austin::V3_WALL.name.to_string(),
    ];
    let backends = commands::select_backends(&wanted, None).map_err(|e| format!("{e:#}"))?;
    let common = CommonArgs {
        python: None,
        workloads_dir: repo_root().join("workloads"),
    };
    eprintln!("ingest bench: preparing the Python environment (created on first use)...");
    let (env, base, installs, tool_bins) = commands::prepare_env(&common, &backends)
        .map_err(|e| format!("no Python environment: {e:#}"))?;
    let single = repo_root().join("workloads").join("single.py");
    let mut cases = Vec::new();

    // VizTracer.
    match installs.get("viztracer") {
        Some(Install::Failed(e)) => notes.push(format!(
            "viztracer-trace skipped: viztracer is not installable here: {}",
            last_lines(e, 2)
        )),
        _ => {
            let version = env.versions.get("viztracer").cloned().unwrap_or_default();
            let python = env.python.clone();
            let script = single.clone();
            match generate(
                data,
                &format!("viztracer-{version}-single.json"),
                "viztracer on workloads/single.py",
                |out| {
                    vec![
                        python.clone().into(),
                        "-m".into(),
                        "viztracer".into(),
                        "--quiet".into(),
                        "-o".into(),
                        out.into(),
                        "--".into(),
                        script.clone().into(),
                    ]
                },
            ) {
                Ok(file) => cases.push(ParseCase {
                    bench: "viztracer-trace",
                    what: "VizTracer trace of workloads/single.py",
                    reference: reference(&env.python, VIZTRACER_REFERENCE, &file, data),
                    file,
                    reference_name: format!("viztracer {version} report_builder.get_json"),
                }),
                Err(e) => notes.push(format!(
                    "viztracer-trace skipped: generating the trace failed: {e}"
                )),
            }
        }
    }

    // Austin 3.
    match tool_bins.get(austin::Austin::V3_WALL.name) {
        Some(Ok(bin)) => {
            let austin_exe = bin.join("austin");
            let python = env.python.clone();
            let script = single.clone();
            match generate(
                data,
                "austin-3.7.0-single.txt",
                "austin 3.7.0 -i 100 on workloads/single.py",
                |out| {
                    vec![
                        austin_exe.clone().into(),
                        "-i".into(),
                        "100".into(),
                        "-o".into(),
                        out.into(),
                        python.clone().into(),
                        script.clone().into(),
                    ]
                },
            ) {
                Ok(file) => cases.push(ParseCase {
                    bench: "austin3-text",
                    what: "Austin 3.7.0 samples of workloads/single.py at 100 µs",
                    reference: austin_reference(&env, &base, &file, data),
                    file,
                    reference_name: format!("{AUSTIN_PYTHON_PIN} AustinFileReader + Sample.parse"),
                }),
                Err(e) => notes.push(format!(
                    "austin3-text skipped: generating the sample file failed: {e}"
                )),
            }
        }
        Some(Err(e)) => notes.push(format!(
            "austin3-text skipped: austin-dist 3.7.0 is not installable here: {}",
            last_lines(e, 2)
        )),
        None => notes.push("austin3-text skipped: no Austin 3 tool environment".into()),
    }
    Ok(cases)
}

/// austin-python in a tool environment of its own (the matrix's Austin environment is left as
/// the matrix made it), then the reference runs.
fn austin_reference(
    env: &PythonEnv,
    base: &Path,
    file: &Path,
    data: &Path,
) -> Result<(f64, String), String> {
    let bin = pyenv::ensure_tool_env(env, base, "austin-python", &[AUSTIN_PYTHON_PIN.to_string()])
        .map_err(|e| {
            format!(
                "{AUSTIN_PYTHON_PIN} is not installable here: {}",
                last_lines(&e, 2)
            )
        })?;
    reference(
        &pyenv::venv_python(bin.parent().unwrap_or(&bin)),
        AUSTIN_REFERENCE,
        file,
        data,
    )
}
