//! Every CPython on the host: pyenv's versions, `python3.X` on PATH, /usr/bin and
//! /usr/local/bin. Each candidate is asked for its own version and executable, so a list is
//! never assumed and one interpreter reached by two paths counts once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// An interpreter found on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Interpreter {
    /// The path it was found at.
    pub path: PathBuf,
    /// `sys.executable`, resolved: what tells two paths to one interpreter apart.
    pub executable: PathBuf,
    pub version: (u32, u32, u32),
}

impl Interpreter {
    pub fn version_text(&self) -> String {
        let (a, b, c) = self.version;
        format!("{a}.{b}.{c}")
    }
}

/// `python3.12` and the like; not `python3.12-config`, `python3.13t` or `python3`.
pub fn is_versioned_python3(name: &str) -> bool {
    name.strip_prefix("python3.")
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}

/// pyenv's root: `pyenv root` when pyenv is on PATH, else $PYENV_ROOT, else ~/.pyenv.
fn pyenv_root() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pyenv").arg("root").output() {
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !text.is_empty() {
            return Some(text.into());
        }
    }
    std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))
}

fn versioned_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| is_versioned_python3(&e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Paths worth asking, in order of preference: pyenv's versions, PATH (without pyenv's
/// shims, which only run the versions pyenv has selected), then the system folders.
pub fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(root) = pyenv_root() {
        let mut versions: Vec<PathBuf> = std::fs::read_dir(root.join("versions"))
            .map(|e| e.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        versions.sort();
        for v in versions {
            out.extend(versioned_in(&v.join("bin")));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if !dir.components().any(|c| c.as_os_str() == "shims") {
                out.extend(versioned_in(&dir));
            }
        }
    }
    for dir in ["/usr/local/bin", "/usr/bin"] {
        out.extend(versioned_in(Path::new(dir)));
    }
    out
}

/// Asks an interpreter what it is; None unless it is a CPython 3 that runs.
pub fn probe(path: &Path) -> Option<Interpreter> {
    let script = "import os, sys; print(sys.implementation.name, *sys.version_info[:3]); print(os.path.realpath(sys.executable))";
    let out = Command::new(path)
        .args(["-I", "-c", script])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next()?.split_whitespace().collect();
    let executable = PathBuf::from(lines.next()?.trim());
    match head[..] {
        ["cpython", a, b, c] => Some(Interpreter {
            path: path.to_path_buf(),
            executable,
            version: (a.parse().ok()?, b.parse().ok()?, c.parse().ok()?),
        }),
        _ => None,
    }
}

/// Every distinct CPython 3 found, in order of preference.
pub fn discover() -> Vec<Interpreter> {
    let mut seen = BTreeSet::new();
    candidates()
        .iter()
        .filter_map(|p| probe(p))
        .filter(|i| i.version.0 == 3 && seen.insert(i.executable.clone()))
        .collect()
}

/// Platform names: the first interpreter of each minor version is `py3.X`, another one of
/// the same minor `py3.X.Y`; a second interpreter with the very same version is dropped.
/// Sorted by version.
pub fn name_all(found: &[Interpreter]) -> Vec<(String, Interpreter)> {
    let mut named: Vec<(String, Interpreter)> = Vec::new();
    for i in found {
        let (a, b, _) = i.version;
        let short = format!("py{a}.{b}");
        let name = if named.iter().all(|(n, _)| *n != short) {
            short
        } else {
            format!("py{}", i.version_text())
        };
        if named
            .iter()
            .all(|(n, o)| *n != name && o.version != i.version)
        {
            named.push((name, i.clone()));
        }
    }
    named.sort_by_key(|(_, i)| i.version);
    named
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp(path: &str, version: (u32, u32, u32)) -> Interpreter {
        Interpreter {
            path: path.into(),
            executable: path.into(),
            version,
        }
    }

    #[test]
    fn only_versioned_python3_names_are_candidates() {
        for ok in ["python3.8", "python3.13", "python3.15"] {
            assert!(is_versioned_python3(ok), "{ok}");
        }
        for no in [
            "python3",
            "python3.11-config",
            "python3.13t",
            "python2.7",
            "python3.",
        ] {
            assert!(!is_versioned_python3(no), "{no}");
        }
    }

    #[test]
    fn names_are_per_minor_and_sorted() {
        let found = [
            interp("/pyenv/3.11.7/bin/python3.11", (3, 11, 7)),
            interp("/pyenv/3.9.18/bin/python3.9", (3, 9, 18)),
            interp("/usr/bin/python3.11", (3, 11, 2)),
            interp("/usr/local/bin/python3.9", (3, 9, 18)),
        ];
        let names: Vec<String> = name_all(&found).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["py3.9", "py3.11.2", "py3.11"]);
    }
}
