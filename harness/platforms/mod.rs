//! Platforms on one machine: the host as it is, every other CPython found on it (`py3.X`),
//! Debian chroots built with debootstrap (`debian13`, `sid-py315`), and the host with the
//! runs made unprivileged under a seccomp filter (`restricted`). `profbench platform
//! list|build|remove|run` and `matrix --platforms` (one run per platform, merged into one
//! table with a column per platform). Linux-only parts are behind cfg(target_os = "linux").

pub mod interpreters;
pub mod mirror;
pub mod run;

#[cfg(target_os = "linux")]
pub mod chroot;
#[cfg(target_os = "linux")]
pub mod mounts;
#[cfg(target_os = "linux")]
pub mod restricted;

use anyhow::{bail, Result};
use interpreters::Interpreter;
use std::path::PathBuf;

/// How a platform's runs are made.
#[derive(Debug, Clone)]
pub enum Kind {
    /// The host as it is, its default interpreter.
    Host,
    /// The host with another of its interpreters.
    Interpreter(Interpreter),
    #[cfg(target_os = "linux")]
    Chroot(&'static chroot::Spec),
    #[cfg(target_os = "linux")]
    Restricted,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    /// Why it cannot be had here, if it cannot.
    pub unavailable: Option<String>,
    /// What it is, one line.
    pub about: String,
    /// Left out of `all` (the same interpreter as `host`), with the reason.
    pub duplicate_of: Option<String>,
}

/// The oldest Python profbench runs on (the workloads and truth.py need it).
pub const MIN_PYTHON: (u32, u32) = (3, 8);

/// Every platform this machine knows of, available or not, in a stable order.
pub fn discover() -> Vec<Entry> {
    let host_python = crate::pyenv::find_base_python(None)
        .ok()
        .and_then(|p| interpreters::probe(&p));
    let mut out = vec![Entry {
        name: "host".into(),
        kind: Kind::Host,
        unavailable: host_python
            .is_none()
            .then(|| "no python3 on PATH that runs".to_string()),
        about: match &host_python {
            Some(i) => format!(
                "the host as it is: Python {} ({})",
                i.version_text(),
                i.executable.display()
            ),
            None => "the host as it is".into(),
        },
        duplicate_of: None,
    }];
    for (name, i) in interpreters::name_all(&interpreters::discover()) {
        let (a, b, _) = i.version;
        out.push(Entry {
            unavailable: ((a, b) < MIN_PYTHON)
                .then(|| format!("profbench needs Python ≥ {}.{}", MIN_PYTHON.0, MIN_PYTHON.1)),
            about: format!(
                "the host with Python {} ({})",
                i.version_text(),
                i.path.display()
            ),
            duplicate_of: host_python
                .as_ref()
                .filter(|h| h.executable == i.executable)
                .map(|_| "host".to_string()),
            name,
            kind: Kind::Interpreter(i),
        });
    }
    #[cfg(target_os = "linux")]
    {
        let why_not = chroot::unavailable();
        for spec in chroot::SPECS {
            let state = match chroot::built(spec) {
                Some(r) => format!("built {}", r.built_at),
                None => format!("not built: `profbench platform build {}`", spec.name),
            };
            out.push(Entry {
                name: spec.name.into(),
                kind: Kind::Chroot(spec),
                unavailable: why_not.clone(),
                about: format!(
                    "Debian {} chroot (debootstrap minbase; {}; {}), {state}",
                    spec.suite,
                    spec.packages.join(", "),
                    spec.python
                ),
                duplicate_of: None,
            });
        }
        out.push(Entry {
            name: "restricted".into(),
            kind: Kind::Restricted,
            unavailable: restricted::unavailable(),
            about: restricted::how_built(),
            duplicate_of: None,
        });
    }
    out
}

/// The platforms asked for: names, or `all` (every available one, duplicates left out).
/// Unknown names are an error naming the valid ones; known but unavailable ones are kept
/// (the run says why they were skipped).
pub fn select(wanted: &[String]) -> Result<Vec<Entry>> {
    let known = discover();
    if wanted.iter().any(|w| w == "all") {
        return Ok(known
            .into_iter()
            .filter(|e| e.duplicate_of.is_none())
            .collect());
    }
    let mut out = Vec::new();
    for w in wanted {
        match known.iter().find(|e| e.name == *w) {
            Some(e) => out.push(e.clone()),
            None => bail!(
                "unknown platform '{w}': valid platforms here are all, {}",
                known
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    Ok(out)
}

/// Platforms the host cannot be, said plainly (the Windows and macOS rows of the question).
pub fn elsewhere() -> Vec<(&'static str, &'static str)> {
    vec![
        ("windows", "not on this machine: a Windows host is needed (see docs/platforms.md for what builds there)"),
        ("macos", "not on this machine: a macOS host is needed"),
    ]
}

/// Lines for `platform list` and `doctor`: each platform, whether it can be had here and why not.
pub fn describe_all(entries: &[Entry]) -> Vec<String> {
    let mut lines = Vec::new();
    for e in entries {
        let state = match (&e.unavailable, &e.duplicate_of) {
            (Some(why), _) => format!("cannot be had here: {why}"),
            (None, Some(d)) => format!("available (same interpreter as {d}; left out of `all`)"),
            (None, None) => "available".into(),
        };
        lines.push(format!(
            "  {:<12} {state}\n  {:<12} {}",
            e.name, "", e.about
        ));
    }
    for (name, why) in elsewhere() {
        lines.push(format!("  {name:<12} {why}"));
    }
    lines
}

/// The cache a platform's runs keep their environments in, when it is not the host's.
pub fn restricted_cache() -> PathBuf {
    // nobody cannot reach the host's cache under a private home (/root is 0700): a folder
    // every user can traverse, writable by nobody only.
    PathBuf::from("/var/tmp/profbench-restricted")
}
