//! Workloads: Python scripts in the workloads folder whose header declares their phases, and
//! the ground truth they write (workloads/README.md documents the format).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workload {
    pub name: String,
    pub script: PathBuf,
    pub phases: Vec<String>,
    pub uses_ray: bool,
    /// Whether the `none` cell also makes a memory truth run (tracemalloc is slow: only
    /// workloads with a memory question ask for it).
    pub memory_truth: bool,
    /// `# profbench: scalable`: the script multiplies its work by $PROFBENCH_SCALE, so the
    /// matrix can run it at several lengths and split a profiler's cost (`--lengths`).
    #[serde(default)]
    pub scalable: bool,
    /// `# profbench: perturb=PHASE:SECONDS`: the script adds that much work to that phase
    /// when $PROFBENCH_PERTURB says so, for the actionability run.
    #[serde(default)]
    pub perturb: Option<String>,
    /// `# profbench: bias=INLINE,CALLS`: two phases doing the same work inline and as many
    /// small calls (function bias).
    #[serde(default)]
    pub bias: Option<(String, String)>,
    /// sha256 of the script, stored with results.
    pub sha256: String,
}

/// Finds every `*.py` with a `# profbench: phases=` header in `dir`.
pub fn discover(dir: &Path) -> Result<Vec<Workload>> {
    let mut found = Vec::new();
    let entries = fs::read_dir(dir).with_context(|| {
        format!(
            "reading workloads folder {} (fix: pass --workloads-dir)",
            dir.display()
        )
    })?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("py") {
            continue;
        }
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        if let Some(w) = from_header(&path, &text) {
            found.push(w);
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

fn from_header(path: &Path, text: &str) -> Option<Workload> {
    let mut phases = None;
    let mut uses_ray = false;
    let mut name = None;
    let mut memory_truth = false;
    let mut scalable = false;
    let mut perturb = None;
    let mut bias = None;
    for line in text.lines().take(40) {
        let Some(rest) = line.trim().strip_prefix("# profbench:") else {
            continue;
        };
        let rest = rest.trim();
        if let Some(list) = rest.strip_prefix("phases=") {
            phases = Some(
                list.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>(),
            );
        } else if let Some(n) = rest.strip_prefix("name=") {
            name = Some(n.trim().to_string());
        } else if rest == "memory-truth" {
            memory_truth = true;
        } else if rest == "uses-ray" {
            uses_ray = true;
        } else if rest == "scalable" {
            scalable = true;
        } else if let Some(p) = rest.strip_prefix("perturb=") {
            perturb = Some(p.trim().to_string());
        } else if let Some(p) = rest.strip_prefix("bias=") {
            bias = crate::function_bias::parse_pair(p);
        }
    }
    use sha2::Digest;
    Some(Workload {
        name: name.unwrap_or(path.file_stem()?.to_string_lossy().into_owned()),
        script: path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
        phases: phases?,
        uses_ray,
        memory_truth,
        scalable,
        perturb,
        bias,
        sha256: format!("{:x}", sha2::Sha256::digest(text.as_bytes())),
    })
}

/// Picks the workloads named in `wanted` (all when empty), erroring with the valid names.
pub fn select(all: &[Workload], wanted: &[String]) -> Result<Vec<Workload>> {
    if wanted.is_empty() {
        return Ok(all.to_vec());
    }
    let names: Vec<&str> = all.iter().map(|w| w.name.as_str()).collect();
    wanted
        .iter()
        .map(|n| {
            all.iter().find(|w| &w.name == n).cloned().with_context(|| {
                format!(
                    "unknown workload '{n}': valid workloads are {}",
                    names.join(", ")
                )
            })
        })
        .collect()
}

/// One phase as the workload measured it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseTruth {
    pub name: String,
    pub function: String,
    pub file: String,
    pub line: u32,
    pub start_ns: i64,
    pub end_ns: i64,
    pub wall_ns: i64,
    pub cpu_process_ns: i64,
    pub cpu_thread_ns: i64,
    #[serde(default)]
    pub tracemalloc_peak_bytes: Option<u64>,
    #[serde(default)]
    pub rss_peak_bytes: Option<u64>,
}

/// One remote task as it measured itself, inside its worker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskTruth {
    pub function: String,
    pub pid: u32,
    pub tid: u64,
    pub start_ns: i64,
    pub end_ns: i64,
    #[serde(default)]
    pub cpu_thread_ns: i64,
    #[serde(default)]
    pub cpu_process_ns: i64,
    /// time.time_ns() at start and end: the clock Ray's own timestamps are in.
    #[serde(default)]
    pub unix_start_ns: Option<i64>,
    #[serde(default)]
    pub unix_end_ns: Option<i64>,
    /// In-memory bytes of the task's arguments and result, when the workload gave them.
    #[serde(default)]
    pub arg_bytes: Option<u64>,
    #[serde(default)]
    pub result_bytes: Option<u64>,
    /// The Ray worker the task ran in (hex id), when it ran in one.
    #[serde(default)]
    pub ray_worker_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Truth {
    pub schema: u32,
    pub workload: String,
    pub pid: u32,
    pub python: String,
    pub phases: Vec<PhaseTruth>,
    #[serde(default)]
    pub tasks: Vec<TaskTruth>,
    #[serde(default)]
    pub tasks_file: Option<String>,
}

impl Truth {
    /// Reads a truth file and the task lines beside it. A missing or broken file is an error
    /// naming the file: the run produced no usable ground truth.
    pub fn load(path: &Path) -> Result<Truth> {
        let bytes = fs::read(path)
            .with_context(|| format!("the workload wrote no truth file {}", path.display()))?;
        let mut truth: Truth = serde_json::from_slice(&bytes)
            .with_context(|| format!("malformed truth file {}", path.display()))?;
        if truth.schema != 1 {
            bail!(
                "truth file {} has schema {}, profbench reads 1",
                path.display(),
                truth.schema
            );
        }
        let tasks_path = PathBuf::from(format!("{}.tasks.jsonl", path.display()));
        if let Ok(text) = fs::read_to_string(&tasks_path) {
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let task = serde_json::from_str(line).with_context(|| {
                    format!("malformed task line {} in {}", i + 1, tasks_path.display())
                })?;
                truth.tasks.push(task);
            }
        }
        Ok(truth)
    }

    pub fn phase(&self, name: &str) -> Option<&PhaseTruth> {
        self.phases.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_declares_phases_and_ray() {
        let text = "\"\"\"doc\"\"\"\n# profbench: phases=a, b\n# profbench: uses-ray\n# profbench: name=ray\nimport ray\n";
        let w = from_header(Path::new("/x/ray_workload.py"), text).unwrap();
        assert_eq!(w.phases, vec!["a", "b"]);
        assert!(w.uses_ray);
        assert_eq!(w.name, "ray");
        assert!(from_header(Path::new("/x/truth.py"), "import os\n").is_none());
    }

    #[test]
    fn unknown_workload_lists_valid_names() {
        let w = from_header(Path::new("/x/line.py"), "# profbench: phases=a\n").unwrap();
        let err = select(&[w], &["nope".into()]).unwrap_err().to_string();
        assert!(
            err.contains("unknown workload 'nope'") && err.contains("line"),
            "{err}"
        );
    }

    #[test]
    fn truth_file_and_tasks_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        fs::write(&path, r#"{"schema":1,"workload":"w","script":"/w.py","pid":5,"python":"3.11.7","phases":[{"name":"p","function":"f","file":"/w.py","line":3,"start_ns":1,"end_ns":11,"wall_ns":10,"cpu_process_ns":8,"cpu_thread_ns":7,"tracemalloc_peak_bytes":null,"rss_peak_bytes":null}],"tasks_file":null}"#).unwrap();
        fs::write(dir.path().join("t.json.tasks.jsonl"), "{\"function\":\"g\",\"pid\":9,\"tid\":9,\"start_ns\":1,\"end_ns\":2,\"unix_start_ns\":0,\"unix_end_ns\":0,\"cpu_thread_ns\":1,\"cpu_process_ns\":1}\n").unwrap();
        let t = Truth::load(&path).unwrap();
        assert_eq!(t.phase("p").unwrap().wall_ns, 10);
        assert_eq!(t.tasks.len(), 1);
        fs::write(&path, "{\"schema\":1").unwrap();
        assert!(Truth::load(&path)
            .unwrap_err()
            .to_string()
            .contains("malformed truth file"));
    }
}
