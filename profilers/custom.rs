//! Backends defined in a JSON file instead of code (`matrix --backend-file F`): a profiler
//! profbench has no adapter for yet, or a deliberately broken one to test the harness with.
//!
//! ```json
//! [{"name": "my-tracer", "description": "...", "clock": "wall",
//!   "command": ["{python}", "-m", "mytracer", "-o", "{out}/prof.pstats", "{script}"],
//!   "output": "pstats", "output_file": "prof.pstats"}]
//! ```
//! In `command`, `{python}` expands to the launcher's whole Python argv, `{script}` to the
//! workload, `{out}` to the run's output folder, `{bin}` to the environment's bin folder.

use crate::backend::{Backend, Launch, ParseError};
use crate::profile::{Clock, Profile};
use serde::Deserialize;
use std::ffi::OsString;
use std::path::Path;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// Nothing to parse (a baseline-like backend).
    None,
    /// A pstats file (cProfile, yappi -f pstat).
    Pstats,
    /// profbench's normalised profile as JSON.
    Profile,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CommandBackend {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub command: Vec<String>,
    pub output: OutputKind,
    #[serde(default)]
    pub output_file: Option<String>,
    #[serde(default = "wall")]
    pub clock: Clock,
    #[serde(default)]
    pub requirements: Vec<String>,
}

fn wall() -> Clock {
    Clock::Wall
}

/// Reads a backend file; the error names the file and what is wrong with it.
pub fn load(path: &Path) -> Result<Vec<CommandBackend>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read backend file {}: {e}", path.display()))?;
    parse_backend_file(&text, &path.display().to_string())
}

/// The part of `load` after reading the file (public for the fuzz target); `source` names the
/// file in messages.
pub fn parse_backend_file(text: &str, source: &str) -> Result<Vec<CommandBackend>, String> {
    let path = source;
    let list: Vec<CommandBackend> =
        serde_json::from_str(text).map_err(|e| format!("malformed backend file {path}: {e}"))?;
    for b in &list {
        if b.command.is_empty() {
            return Err(format!(
                "backend '{}' in {} has an empty command",
                b.name, path
            ));
        }
        if b.output != OutputKind::None && b.output_file.is_none() {
            return Err(format!(
                "backend '{}' in {} needs an output_file",
                b.name, path
            ));
        }
    }
    Ok(list)
}

impl Backend for CommandBackend {
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> String {
        if self.description.is_empty() {
            format!("custom: {}", self.command.join(" "))
        } else {
            self.description.clone()
        }
    }
    fn requirements(&self) -> Vec<&'static str> {
        // Pins of custom backends are leaked once per process: a handful of short strings.
        self.requirements
            .iter()
            .map(|s| &*Box::leak(s.clone().into_boxed_str()))
            .collect()
    }
    fn clock(&self) -> Clock {
        self.clock
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        let mut argv = Vec::new();
        for part in &self.command {
            if part == "{python}" {
                argv.extend(launch.python.iter().cloned());
                continue;
            }
            let expanded = part
                .replace("{script}", &launch.script.to_string_lossy())
                .replace("{out}", &launch.out_dir.to_string_lossy())
                .replace("{bin}", &launch.bin_dir.to_string_lossy());
            argv.push(expanded.into());
        }
        argv
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        let file = out_dir.join(self.output_file.as_deref()?);
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                return Some(Err(ParseError::NoOutput(format!(
                    "{}: {e}",
                    file.display()
                ))))
            }
        };
        parse_bytes(self.output, &bytes, &file.display().to_string())
    }
}

/// Parses a custom backend's output file once read (public for the fuzz target); `source`
/// names the file in messages. None for `OutputKind::None`.
pub fn parse_bytes(
    kind: OutputKind,
    bytes: &[u8],
    source: &str,
) -> Option<Result<Profile, ParseError>> {
    Some(match kind {
        OutputKind::None => return None,
        OutputKind::Pstats => crate::cprofile::parse_pstats(bytes),
        OutputKind::Profile => serde_json::from_slice(bytes)
            .map_err(|e| ParseError::Unparseable(format!("{source}: {e}")))
            // Frame indices must point at frames, as in the own sampler's JSON (fuzzing).
            .and_then(|p| crate::profbench::check_frame_indices(&p, source).map(|()| p)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn placeholders_expand_and_python_splices() {
        let dir = tempfile_dir();
        let f = dir.join("b.json");
        std::fs::write(&f, r#"[{"name":"t","command":["{python}","-m","x","-o","{out}/p","{script}"],"output":"pstats","output_file":"p"}]"#).unwrap();
        let b = &load(&f).unwrap()[0];
        let python = [OsString::from("uv"), "run".into(), "python".into()];
        let launch = Launch {
            python: &python,
            bin_dir: Path::new("/b"),
            tool_bin_dir: Path::new("/b"),
            script: Path::new("/w/s.py"),
            args: &[],
            out_dir: Path::new("/o"),
            profbench_exe: Path::new("/pb"),
        };
        let argv: Vec<String> = b
            .command(&launch)
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv,
            ["uv", "run", "python", "-m", "x", "-o", "/o/p", "/w/s.py"]
        );
    }

    #[test]
    fn bad_files_name_the_problem() {
        let dir = tempfile_dir();
        let f = dir.join("bad.json");
        std::fs::write(&f, "[{").unwrap();
        assert!(load(&f).unwrap_err().contains("malformed backend file"));
        std::fs::write(&f, r#"[{"name":"t","command":[],"output":"none"}]"#).unwrap();
        assert!(load(&f).unwrap_err().contains("empty command"));
        assert!(load(&dir.join("missing.json"))
            .unwrap_err()
            .contains("cannot read"));
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pb-custom-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
