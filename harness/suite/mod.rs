//! Programs nobody here wrote, as workloads: benchmark suites (`matrix --suite
//! pyperformance[:NAME,…]`), each benchmark one process, with the timing it reports itself.

pub mod osdi23;
pub mod pyperformance;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::fs;
use std::path::Path;

/// The suites `--suite` knows.
pub const SUITES: &[&str] = &["pyperformance", "scalene-osdi23"];

/// `--suite NAME[:BENCH,BENCH]`: the suite and the benchmarks asked for (all when empty).
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteSpec {
    pub suite: String,
    pub benchmarks: Vec<String>,
}

impl SuiteSpec {
    pub fn parse(text: &str) -> Result<SuiteSpec> {
        let (suite, list) = text.split_once(':').unwrap_or((text, ""));
        let suite = suite.trim();
        if !SUITES.contains(&suite) {
            bail!(
                "unknown suite '{suite}': valid suites are {}",
                SUITES.join(", ")
            );
        }
        if suite == "scalene-osdi23" && !list.trim().is_empty() {
            bail!("the suite scalene-osdi23 is the paper's fixed set of benchmarks: give no list");
        }
        Ok(SuiteSpec {
            suite: suite.to_string(),
            benchmarks: list
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        })
    }
}

impl SuiteSpec {
    /// The pyperformance benchmarks to run (all when empty).
    pub fn pyperformance_benchmarks(&self) -> Vec<String> {
        match self.suite.as_str() {
            "scalene-osdi23" => osdi23::paper().benchmarks.into_values().collect(),
            _ => self.benchmarks.clone(),
        }
    }

    /// The backends run when `--backends` is not given: for scalene-osdi23 the paper's
    /// profilers in its configurations (and the baseline); otherwise none are implied (every
    /// backend runs).
    pub fn implied_backends(&self) -> Vec<String> {
        match self.suite.as_str() {
            "scalene-osdi23" => osdi23::paper()
                .median_slowdown
                .into_iter()
                .filter_map(|r| r.backend)
                .collect(),
            _ => vec![],
        }
    }

    /// The launchers run when `--launchers` is not given: scalene-osdi23 runs `python
    /// bm.py` as the paper did; otherwise none are implied.
    pub fn implied_launchers(&self) -> Vec<String> {
        match self.suite.as_str() {
            "scalene-osdi23" => vec!["direct".into()],
            _ => vec![],
        }
    }
}

/// How a program reports its own timing.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum OwnTime {
    /// A pyperf worker (`--worker`): `--output PATH` writes its JSON; the timed seconds are
    /// the values times loops (and inner loops).
    PyperfWorker,
}

impl OwnTime {
    /// Arguments that make the program write its timing to `path`.
    pub fn args(&self, path: &Path) -> Vec<OsString> {
        match self {
            OwnTime::PyperfWorker => vec!["--output".into(), path.into()],
        }
    }

    /// The seconds the program timed itself, from what it wrote at `path`.
    pub fn read(&self, path: &Path) -> Result<f64, String> {
        match self {
            OwnTime::PyperfWorker => {
                let bytes = fs::read(path).map_err(|e| {
                    format!("the benchmark wrote no timing {}: {e}", path.display())
                })?;
                pyperf_seconds(&bytes)
                    .ok_or_else(|| format!("unreadable pyperf timing {}", path.display()))
            }
        }
    }
}

/// Timed seconds in a pyperf JSON: each measured value is seconds per loop (and inner loop),
/// so the run timed values × loops × inner_loops; warm-ups are left out.
pub fn pyperf_seconds(bytes: &[u8]) -> Option<f64> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let bench = doc.get("benchmarks")?.get(0)?;
    let meta = |key: &str, run: &serde_json::Value| {
        [
            run.get("metadata"),
            bench.get("metadata"),
            doc.get("metadata"),
        ]
        .into_iter()
        .flatten()
        .find_map(|m| m.get(key).and_then(serde_json::Value::as_f64))
    };
    let mut total = 0.0;
    let mut any = false;
    for run in bench.get("runs")?.as_array()? {
        let loops = meta("loops", run).unwrap_or(1.0) * meta("inner_loops", run).unwrap_or(1.0);
        for v in run
            .get("values")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            total += v.as_f64()? * loops;
            any = true;
        }
    }
    any.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_a_suite_and_benchmarks() {
        let s = SuiteSpec::parse("pyperformance:raytrace, chaos").unwrap();
        assert_eq!(s.suite, "pyperformance");
        assert_eq!(s.benchmarks, vec!["raytrace", "chaos"]);
        assert!(SuiteSpec::parse("pyperformance")
            .unwrap()
            .benchmarks
            .is_empty());
        let err = SuiteSpec::parse("pyperfomance:x").unwrap_err().to_string();
        assert!(err.contains("unknown suite 'pyperfomance'") && err.contains("pyperformance"));
    }

    #[test]
    fn the_papers_suite_implies_its_profilers_run_directly() {
        let s = SuiteSpec::parse("scalene-osdi23").unwrap();
        let implied = s.implied_backends();
        assert_eq!(implied.len(), osdi23::paper().median_slowdown.len());
        assert!(implied.contains(&"austin3-full".to_string()));
        assert!(implied.contains(&"memray-pyalloc".to_string()));
        assert_eq!(s.implied_launchers(), vec!["direct"]);
        let p = SuiteSpec::parse("pyperformance:raytrace").unwrap();
        assert!(p.implied_backends().is_empty() && p.implied_launchers().is_empty());
    }

    #[test]
    fn pyperf_worker_output_gives_the_timed_seconds() {
        // Captured from `run_benchmark.py --worker -l 1 -n 1 -w 0 --output` (pyperf 2.11.0),
        // metadata trimmed.
        let text = br#"{"benchmarks": [{"runs": [{"values": [0.4688030089999984]}]}], "metadata": {"loops": 1, "name": "raytrace", "unit": "second"}, "version": "1.0"}"#;
        assert!((pyperf_seconds(text).unwrap() - 0.4688).abs() < 1e-3);
        let looped = br#"{"benchmarks": [{"runs": [{"metadata": {"loops": 8, "inner_loops": 2}, "values": [0.5]}]}], "metadata": {}}"#;
        assert_eq!(pyperf_seconds(looped), Some(8.0));
        assert_eq!(pyperf_seconds(b"{}"), None);
    }
}
