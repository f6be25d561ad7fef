//! Launchers: how the workload's Python is started. `direct` runs the environment's python;
//! `uv` runs `uv run python`, which puts a launcher process between a profiler and Python.

use crate::pyenv::{self, PythonEnv};
use anyhow::{bail, Result};
use std::ffi::OsString;

pub const NAMES: &[&str] = &["direct", "uv"];

#[derive(Debug, Clone)]
pub struct Launcher {
    pub name: String,
    /// argv that starts Python.
    pub python: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    /// Why this launcher cannot be used here, if it cannot.
    pub unavailable: Option<String>,
}

pub fn check_names(names: &[String]) -> Result<()> {
    for n in names {
        if !NAMES.contains(&n.as_str()) {
            bail!(
                "unknown launcher '{n}': valid launchers are {}",
                NAMES.join(", ")
            );
        }
    }
    Ok(())
}

pub fn make(name: &str, env: &PythonEnv) -> Result<Launcher> {
    Ok(match name {
        "direct" => Launcher {
            name: name.into(),
            python: vec![env.python.clone().into()],
            env: vec![],
            unavailable: None,
        },
        "uv" => match (&env.uv, pyenv::uv_project(env)) {
            (Some(uv), Ok(project)) => Launcher {
                name: name.into(),
                python: vec![
                    uv.clone().into(),
                    "run".into(),
                    "--project".into(),
                    project.into(),
                    "python".into(),
                ],
                env: pyenv::uv_run_env(env),
                unavailable: None,
            },
            (None, _) => Launcher {
                name: name.into(),
                python: vec![],
                env: vec![],
                unavailable: Some(format!("uv could not be installed ({})", pyenv::UV_PIN)),
            },
            (_, Err(e)) => Launcher {
                name: name.into(),
                python: vec![],
                env: vec![],
                unavailable: Some(format!("cannot create the uv project: {e}")),
            },
        },
        other => bail!(
            "unknown launcher '{other}': valid launchers are {}",
            NAMES.join(", ")
        ),
    })
}
