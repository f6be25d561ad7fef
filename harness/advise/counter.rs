//! The optional exact call counter (`--count-calls`): one more run of the command, unsampled,
//! with cProfile switched on from a `sitecustomize` in the main thread of the top-level
//! Python. Its calls per function replace the samples' lower bound; its cost is measured as
//! that run's wall time against the sampled run's.

use super::account::Accounts;
use anyhow::{bail, Context, Result};
use profbench_profilers::cprofile::parse_pstats;
use serde::Serialize;
use std::collections::HashMap;
use std::ffi::OsString;
use std::time::Instant;

const SITECUSTOMIZE: &str = include_str!("count_sitecustomize.py");
const OUT_ENV: &str = "PROFBENCH_COUNT_CALLS";

/// What the counting run cost: its wall time over the sampled run's (one run each, so a rough
/// figure: a loaded machine moves it).
#[derive(Debug, Clone, Serialize)]
pub struct CountCost {
    pub wall_s: f64,
    pub sampled_wall_s: Option<f64>,
    pub ratio: Option<f64>,
}

/// The counting run: each cProfile entry (file, bare function name, `def` line, calls) and
/// the run's wall seconds.
#[derive(Debug, Clone)]
pub struct Counted {
    pub entries: Vec<(String, String, u32, u64)>,
    pub wall_s: f64,
}

/// Runs the command once under cProfile and reads its calls.
pub fn count(command: &[OsString], env: &[(OsString, OsString)], json: bool) -> Result<Counted> {
    let (program, rest) = command.split_first().context("no command to run")?;
    let dir = tempfile::Builder::new()
        .prefix("profbench-count-")
        .tempdir()
        .context("creating a temporary folder for the call counter")?;
    let site = dir.path().join("sitecustomize.py");
    std::fs::write(&site, SITECUSTOMIZE).with_context(|| format!("writing {}", site.display()))?;
    let out = dir.path().join("calls.pstats");
    let mut paths = vec![dir.path().to_path_buf()];
    if let Some(existing) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
        paths.extend(std::env::split_paths(&existing));
    }
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest)
        .env("PYTHONPATH", std::env::join_paths(paths)?)
        .env(OUT_ENV, &out)
        .envs(env.iter().cloned());
    // Elsewhere the program's output stays on stdout (advise runs programs on Linux only).
    #[cfg(not(unix))]
    let _ = json;
    #[cfg(unix)]
    if json {
        use std::os::fd::AsFd;
        cmd.stdout(std::io::stderr().as_fd().try_clone_to_owned()?);
    }
    let started = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("could not start {}", program.to_string_lossy()))?;
    let wall = started.elapsed().as_secs_f64();
    let bytes = std::fs::read(&out).with_context(|| {
        format!(
            "the counting run (exit status {status}) wrote no call counts: its Python must run \
             site customisation (no -I, -E or -S)"
        )
    })?;
    let profile =
        parse_pstats(&bytes).map_err(|e| anyhow::anyhow!("reading the call counts: {e}"))?;
    if profile.functions.is_empty() {
        bail!("the counting run recorded no calls");
    }
    let entries = profile
        .functions
        .iter()
        .map(|f| {
            let fr = &profile.frames[f.frame as usize];
            (fr.file.clone(), fr.function.clone(), fr.line, f.calls)
        })
        .collect();
    Ok(Counted {
        entries,
        wall_s: wall,
    })
}

/// Matches counted functions to the sampled run's: same file (one path may be relative), the
/// same bare name (cProfile names `co_name`, the sampler the qualified name) and the closest
/// `def` line at or above the first line the samples saw.
pub fn match_counts(counted: &Counted, acc: &Accounts) -> HashMap<usize, u64> {
    let mut out = HashMap::new();
    for (f, key) in acc.funcs.iter().enumerate() {
        let bare = key.function.rsplit('.').next().unwrap_or(&key.function);
        let first = acc.tallies[f].first_line;
        let best = counted
            .entries
            .iter()
            .filter(|(file, name, line, _)| {
                name == bare && same_file(file, &key.file) && (first == 0 || *line <= first)
            })
            .max_by_key(|(_, _, line, _)| *line);
        if let Some((_, _, _, calls)) = best {
            out.insert(f, *calls);
        }
    }
    out
}

fn same_file(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_start_matches("./"), b.trim_start_matches("./"));
    a == b || a.ends_with(&format!("/{b}")) || b.ends_with(&format!("/{a}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_paths_of_one_file_match() {
        assert!(same_file("workloads/single.py", "/w/workloads/single.py"));
        assert!(same_file("./x.py", "x.py"));
        assert!(!same_file("a/x.py", "/w/b/x.py"));
    }
}
