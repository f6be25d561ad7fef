//! Workloads: Python scripts in the workloads folder whose header declares their phases, and
//! the ground truth they write (workloads/README.md documents the format).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// `# profbench: default`: run by a plain `matrix` (others are named or `--workloads all`).
    #[serde(default)]
    pub in_default: bool,
    /// `# profbench: quick=status|overhead`: what `matrix --quick` measures on it.
    #[serde(default)]
    pub quick: Option<QuickRole>,
    /// What the capability checks look for in this workload (header lines such as
    /// `calls=`, `sleep=`, `remote=`; see `targets.rs`).
    #[serde(default)]
    pub targets: crate::targets::Targets,
    /// sha256 of the script, stored with results.
    pub sha256: String,
    /// Arguments after the script (`--script-args`, a suite benchmark's options).
    #[serde(default)]
    pub args: Vec<String>,
    /// A program from outside this folder (`--script`, `--suite`): phase truth is optional,
    /// so a run that writes none is not a broken workload.
    #[serde(default)]
    pub truth_optional: bool,
    /// Why this workload cannot run here (its requirements did not install): every cell of
    /// it is "not installable" with this text, and no profiler is blamed.
    #[serde(default)]
    pub unavailable: Option<String>,
    /// The program reports its own timing in a file whose path is added to its arguments
    /// (`--output PATH` of a pyperf worker): recorded beside the whole-process wall.
    #[serde(default)]
    pub own_time: Option<crate::suite::OwnTime>,
}

/// What `matrix --quick` asks of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuickRole {
    /// Each backend's status, accuracy and checks from one profiled run.
    Status,
    /// Status and overhead pairs.
    Overhead,
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
        if let Some(mut w) = from_header(&path, &text) {
            w.targets = crate::targets::Targets::from_header(&text)
                .with_context(|| format!("reading the header of {}", path.display()))?;
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
    let mut in_default = false;
    let mut quick = None;
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
        } else if rest == "default" {
            in_default = true;
        } else if let Some(q) = rest.strip_prefix("quick=") {
            quick = match q.trim() {
                "status" => Some(QuickRole::Status),
                "overhead" => Some(QuickRole::Overhead),
                _ => None,
            };
        } else if let Some(p) = rest.strip_prefix("perturb=") {
            perturb = Some(p.trim().to_string());
        } else if let Some(p) = rest.strip_prefix("bias=") {
            bias = parse_pair(p);
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
        in_default,
        quick,
        targets: Default::default(),
        sha256: format!("{:x}", sha2::Sha256::digest(text.as_bytes())),
        args: vec![],
        truth_optional: false,
        unavailable: None,
        own_time: None,
    })
}

/// A user's program as a workload (`matrix --script PATH --script-args "…"`): named after its
/// file, phases from its header if it has one (`# profbench: phases=…`), truth optional.
pub fn from_script(path: &Path, args: Vec<String>) -> Result<Workload> {
    let bytes = fs::read(path).with_context(|| {
        format!(
            "cannot read the script {} (fix: pass the path of an existing Python file)",
            path.display()
        )
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let script = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut w = from_header(&script, &text).unwrap_or_else(|| Workload {
        name: String::new(),
        script: script.clone(),
        phases: vec![],
        uses_ray: false,
        memory_truth: false,
        scalable: false,
        perturb: None,
        bias: None,
        sha256: String::new(),
        args: vec![],
        truth_optional: true,
        unavailable: None,
        own_time: None,
        ..Default::default()
    });
    use sha2::Digest;
    w.sha256 = format!("{:x}", sha2::Sha256::digest(&bytes));
    // The path as given (a symlink's own name), not its target's.
    w.script = script;
    if w.name.is_empty() {
        w.name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .context("the script path has no file name")?;
    }
    w.args = args;
    w.truth_optional = true;
    Ok(w)
}

/// The module name a user's program imports phase markers from.
pub const TRUTH_MODULE: &str = "profbench_truth";

/// Makes `from profbench_truth import phase` importable in the environment: workloads/truth.py
/// under that name in its site-packages (rewritten only when it changed).
pub fn install_truth_module(env: &crate::pyenv::PythonEnv, workloads_dir: &Path) -> Result<()> {
    let source = workloads_dir.join("truth.py");
    let truth = fs::read_to_string(&source).with_context(|| {
        format!(
            "reading {} (fix: run from the profbench checkout or pass --workloads-dir)",
            source.display()
        )
    })?;
    let out = std::process::Command::new(&env.python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .with_context(|| format!("running {}", env.python.display()))?;
    let site = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !site.is_dir() {
        bail!(
            "cannot find the site-packages folder of {}",
            env.python.display()
        );
    }
    let text = format!(
        "# {TRUTH_MODULE}: profbench's phase markers (a copy of workloads/truth.py), for your own\n# programs: `from {TRUTH_MODULE} import phase` then `with phase(\"load\", load):`.\n{truth}"
    );
    let path = site.join(format!("{TRUTH_MODULE}.py"));
    if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        crate::results::write_atomic(&path, text.as_bytes())?;
    }
    Ok(())
}

/// Splits `--script-args` the way a POSIX shell splits words: `"'a b' c"` is two arguments.
pub fn split_args(text: &str) -> Result<Vec<String>> {
    shell_words::split(text).with_context(|| {
        format!("cannot split --script-args {text:?} into arguments (fix: close every quote)")
    })
}

/// `inline,calls` from a workload header's `bias=` value.
fn parse_pair(spec: &str) -> Option<(String, String)> {
    let (a, b) = spec.split_once(',')?;
    let (a, b) = (a.trim(), b.trim());
    (!a.is_empty() && !b.is_empty()).then(|| (a.to_string(), b.to_string()))
}

/// Picks the workloads named in `wanted` (all when empty or `all`), erroring with the valid
/// names.
pub fn select(all: &[Workload], wanted: &[String]) -> Result<Vec<Workload>> {
    if wanted.is_empty() || wanted == ["all"] {
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

/// The matrix's workloads when none are named: those marked `quick=` for `--quick`, else those
/// marked `default`; a folder that marks none gives all of its workloads.
pub fn default_selection(all: &[Workload], quick: bool) -> Vec<Workload> {
    let marked: Vec<Workload> = all
        .iter()
        .filter(|w| {
            if quick {
                w.quick.is_some()
            } else {
                w.in_default
            }
        })
        .cloned()
        .collect();
    if marked.is_empty() {
        all.to_vec()
    } else {
        marked
    }
}

/// One phase as the workload measured it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseTruth {
    pub name: String,
    /// Empty when the phase names no function (`with phase("load"):` in a user's program):
    /// its wall and CPU are known, but no profiler's attribution can be compared with it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub function: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub file: String,
    #[serde(default, deserialize_with = "null_as_default")]
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

/// JSON `null` read as the type's default (truth.py writes null for what it does not know).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
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
    fn a_bias_pair_is_two_names() {
        assert_eq!(
            parse_pair("inline_work, many_calls"),
            Some(("inline_work".into(), "many_calls".into()))
        );
        assert_eq!(parse_pair("only"), None);
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
