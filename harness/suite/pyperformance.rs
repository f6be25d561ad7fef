//! pyperformance's benchmarks from the pinned package's data files, each run as one pyperf
//! worker process (`--worker -l LOOPS -n 1 -w 0`) with LOOPS calibrated so that one run lasts
//! about `TARGET_S` here; the calibration is written to `suite.json` in the run folder and
//! reused by `--resume`.

use super::OwnTime;
use crate::pyenv::{self, Install, PythonEnv};
use crate::results::write_atomic;
use crate::workload::Workload;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The suite's package and its runner, pinned.
pub const PINS: &[&str] = &["pyperformance==1.14.0", "pyperf==2.11.0"];
/// Seconds one benchmark run (one process) should last.
pub const TARGET_S: f64 = 4.0;

const MANIFEST_PY: &str = include_str!("pyperformance_manifest.py");

/// One benchmark as the package's data files describe it.
#[derive(Debug, Clone, Deserialize)]
pub struct Benchmark {
    pub name: String,
    pub script: PathBuf,
    pub extra_opts: Vec<String>,
    pub dependencies: Vec<String>,
    pub requirements: Vec<String>,
    pub requires_python: String,
    pub python_ok: bool,
}

impl Benchmark {
    /// What to install for it: its requirements.txt pins when it has them (pyperformance's
    /// own lock), else its pyproject dependencies; pyperf itself is pinned with the suite.
    pub fn to_install(&self) -> Vec<String> {
        let from = if self.requirements.is_empty() {
            &self.dependencies
        } else {
            &self.requirements
        };
        from.iter()
            .filter(|r| !r.eq_ignore_ascii_case("pyperf"))
            .cloned()
            .collect()
    }
}

#[derive(Debug, Deserialize)]
struct Manifest {
    version: String,
    benchmarks: Vec<Benchmark>,
}

/// One benchmark's calibration, as `suite.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Calibration {
    pub loops: u64,
    /// The benchmark's own seconds for one loop in the calibration run (`-l 1`); None when
    /// that run failed (LOOPS is then 1 and the baseline row shows the failure).
    pub seconds_per_loop: Option<f64>,
    pub how: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SuiteFile {
    pub suite: String,
    pub version: String,
    pub target_s: f64,
    pub benchmarks: BTreeMap<String, Calibration>,
}

/// Reads the manifest with the environment's Python.
fn manifest(python: &Path) -> Result<Manifest> {
    let out = Command::new(python)
        .arg("-c")
        .arg(MANIFEST_PY)
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "cannot read pyperformance's MANIFEST: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).context("reading pyperformance's benchmark list")
}

/// The benchmarks asked for (all when `names` is empty), or one line listing the valid ones.
pub fn pick(all: &[Benchmark], names: &[String]) -> Result<Vec<Benchmark>> {
    if names.is_empty() {
        return Ok(all.to_vec());
    }
    names
        .iter()
        .map(|n| {
            all.iter().find(|b| &b.name == n).cloned().with_context(|| {
                let valid: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
                format!(
                    "unknown pyperformance benchmark '{n}': valid benchmarks are {}",
                    valid.join(", ")
                )
            })
        })
        .collect()
}

/// Copies a benchmark's folder out of the installed package into `home` and gives its script
/// there. Run from site-packages, a benchmark is library code to the profilers that leave
/// libraries out (Scalene then keeps no sample of it); from a folder of its own it is the
/// program, as in a checkout of the benchmarks.
fn checkout(script: &Path, home: &Path) -> Result<PathBuf> {
    let (Some(from), Some(file)) = (script.parent(), script.file_name()) else {
        bail!(
            "pyperformance names no benchmark folder for {}",
            script.display()
        );
    };
    let to = home.join(from.file_name().unwrap_or_default());
    copy_tree(from, &to).with_context(|| {
        format!(
            "copying the benchmark {} to {} (fix: free space or rights there, or set PROFBENCH_CACHE)",
            from.display(),
            to.display()
        )
    })?;
    Ok(to.join(file))
}

/// Copies a folder's files and subfolders (not `__pycache__`) over `to`.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_tree(&entry.path(), &target)?;
            }
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// LOOPS from one calibration run's seconds per loop.
pub fn loops_for(seconds_per_loop: f64) -> u64 {
    if seconds_per_loop > 0.0 && seconds_per_loop.is_finite() {
        (TARGET_S / seconds_per_loop).round().max(1.0) as u64
    } else {
        1
    }
}

/// The worker arguments of one benchmark run.
pub fn worker_args(b: &Benchmark, loops: u64) -> Vec<String> {
    let mut args: Vec<String> = ["--worker", "-l", &loops.to_string(), "-n", "1", "-w", "0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(b.extra_opts.iter().cloned());
    args
}

/// One run at one loop, the benchmark's own seconds for it.
fn calibrate(python: &Path, b: &Benchmark, timeout: Duration) -> Result<f64, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("a temporary folder: {e}"))?;
    let out = dir.path().join("calibration.json");
    let mut argv: Vec<std::ffi::OsString> = vec![python.into(), b.script.clone().into()];
    argv.extend(worker_args(b, 1).into_iter().map(Into::into));
    argv.extend(OwnTime::PyperfWorker.args(&out));
    let spec = crate::runner::Spec {
        argv,
        env: vec![],
        cwd: dir.path().to_path_buf(),
        timeout,
        log_dir: dir.path().to_path_buf(),
        output_cap_bytes: 64 << 20,
    };
    let m = crate::runner::run(&spec).map_err(|e| format!("{e:#}"))?;
    if !m.succeeded() {
        return Err(format!("calibration run failed: {}", m.stderr_tail.trim()));
    }
    OwnTime::PyperfWorker.read(&out)
}

/// Installs the suite, resolves the benchmarks, installs each one's requirements (a failure
/// makes that benchmark "not installable") and calibrates LOOPS; returns the workloads and
/// the environment with its package list refreshed.
pub fn prepare(
    names: &[String],
    base_python: &Path,
    core: &[String],
    env: &PythonEnv,
    run_root: &Path,
    timeout: Duration,
) -> Result<(Vec<Workload>, PythonEnv)> {
    let pins: Vec<String> = PINS.iter().map(|s| s.to_string()).collect();
    let (_, installs) = pyenv::ensure(base_python, core, &[("suite-pyperformance".into(), pins)])?;
    if let Some(Install::Failed(why)) = installs.get("suite-pyperformance") {
        bail!("cannot install {}: {why}", PINS.join(" "));
    }
    let manifest = manifest(&env.python)?;
    let home = env
        .cache
        .join(format!("pyperformance-{}", manifest.version));
    let chosen = pick(&manifest.benchmarks, names)?
        .into_iter()
        .map(|mut b| {
            b.script = checkout(&b.script, &home)?;
            Ok(b)
        })
        .collect::<Result<Vec<_>>>()?;
    let wanted: Vec<(String, Vec<String>)> = chosen
        .iter()
        .filter(|b| b.python_ok)
        .map(|b| (format!("pyperformance-{}", b.name), b.to_install()))
        .collect();
    let (env, installs) = pyenv::ensure(base_python, core, &wanted)?;
    let suite_path = run_root.join("suite.json");
    let mut file: SuiteFile = std::fs::read(&suite_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(SuiteFile {
            suite: "pyperformance".into(),
            version: manifest.version.clone(),
            target_s: TARGET_S,
            benchmarks: BTreeMap::new(),
        });
    let mut workloads = Vec::new();
    for b in &chosen {
        let unavailable = if !b.python_ok {
            Some(format!(
                "{} needs Python {}, this is {}.{}.{}",
                b.name, b.requires_python, env.version.0, env.version.1, env.version.2
            ))
        } else {
            match installs.get(&format!("pyperformance-{}", b.name)) {
                Some(Install::Failed(why)) => Some(format!(
                    "its requirements ({}) did not install:\n{why}",
                    b.to_install().join(" ")
                )),
                _ => None,
            }
        };
        let loops = match (&unavailable, file.benchmarks.get(&b.name)) {
            (Some(_), _) => 1,
            (None, Some(c)) => c.loops,
            (None, None) => {
                eprintln!("calibrating pyperformance {} (one run at -l 1)", b.name);
                let c = match calibrate(&env.python, b, timeout) {
                    Ok(s) => Calibration {
                        loops: loops_for(s),
                        seconds_per_loop: Some(s),
                        how: format!("one worker run at -l 1 timed {s:.4} s by the benchmark itself; LOOPS = round({TARGET_S} s / that)"),
                    },
                    Err(why) => Calibration {
                        loops: 1,
                        seconds_per_loop: None,
                        how: why,
                    },
                };
                let loops = c.loops;
                file.benchmarks.insert(b.name.clone(), c);
                write_atomic(&suite_path, &serde_json::to_vec_pretty(&file)?)?;
                loops
            }
        };
        use sha2::Digest;
        let sha = std::fs::read(&b.script)
            .map(|bytes| format!("{:x}", sha2::Sha256::digest(&bytes)))
            .unwrap_or_default();
        workloads.push(Workload {
            name: b.name.clone(),
            script: b.script.clone(),
            phases: vec![],
            uses_ray: false,
            memory_truth: false,
            scalable: false,
            perturb: None,
            bias: None,
            sha256: sha,
            args: worker_args(b, loops),
            truth_optional: true,
            unavailable,
            own_time: Some(OwnTime::PyperfWorker),
            ..Default::default()
        });
    }
    Ok((workloads, env))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(name: &str, deps: &[&str], reqs: &[&str]) -> Benchmark {
        Benchmark {
            name: name.into(),
            script: PathBuf::from(format!("/x/bm_{name}/run_benchmark.py")),
            extra_opts: vec![],
            dependencies: deps.iter().map(|s| s.to_string()).collect(),
            requirements: reqs.iter().map(|s| s.to_string()).collect(),
            requires_python: ">=3.8".into(),
            python_ok: true,
        }
    }

    #[test]
    fn a_benchmark_runs_from_a_copy_of_its_folder() {
        let site = tempfile::tempdir().unwrap();
        let bm = site.path().join("bm_x");
        std::fs::create_dir_all(bm.join("data/docs")).unwrap();
        std::fs::create_dir_all(bm.join("__pycache__")).unwrap();
        std::fs::write(bm.join("run_benchmark.py"), "print(1)\n").unwrap();
        std::fs::write(bm.join("data/docs/a.txt"), "text").unwrap();
        let home = tempfile::tempdir().unwrap();
        let script = checkout(&bm.join("run_benchmark.py"), home.path()).unwrap();
        assert_eq!(script, home.path().join("bm_x/run_benchmark.py"));
        assert_eq!(std::fs::read_to_string(&script).unwrap(), "print(1)\n");
        assert!(home.path().join("bm_x/data/docs/a.txt").is_file());
        assert!(!home.path().join("bm_x/__pycache__").exists());
        // Again over the copy: the same files.
        assert_eq!(
            checkout(&bm.join("run_benchmark.py"), home.path()).unwrap(),
            script
        );
    }

    #[test]
    fn unknown_benchmarks_are_named_with_the_valid_ones() {
        let all = vec![
            bench("raytrace", &["pyperf"], &[]),
            bench("chaos", &["pyperf"], &[]),
        ];
        let err = pick(&all, &["raytrace".into(), "raytrce".into()])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unknown pyperformance benchmark 'raytrce': valid benchmarks are raytrace, chaos"
        );
        assert_eq!(pick(&all, &[]).unwrap().len(), 2);
    }

    #[test]
    fn requirements_prefer_the_pinned_file() {
        assert!(bench("raytrace", &["pyperf"], &[]).to_install().is_empty());
        assert_eq!(
            bench(
                "sympy",
                &["pyperf", "sympy"],
                &["mpmath==1.2.1", "sympy==1.8"]
            )
            .to_install(),
            vec!["mpmath==1.2.1", "sympy==1.8"]
        );
        assert_eq!(
            bench("x", &["pyperf", "pyaes"], &[]).to_install(),
            vec!["pyaes"]
        );
    }

    #[test]
    fn loops_fill_the_target_and_variants_keep_their_options() {
        assert_eq!(loops_for(0.47), 9);
        assert_eq!(loops_for(10.0), 1);
        assert_eq!(loops_for(f64::NAN), 1);
        let mut b = bench("async_tree_io", &["pyperf"], &[]);
        b.extra_opts = vec!["io".into()];
        assert_eq!(worker_args(&b, 3).join(" "), "--worker -l 3 -n 1 -w 0 io");
    }
}
