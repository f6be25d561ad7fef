//! The one trait every profiler adapter implements: what to install, how to launch the
//! workload under it, and how to read what it wrote.

use crate::profile::{Clock, Profile};
use crate::status::{classify_common, ExitInfo, Failure};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What an adapter needs to know to build its command line.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    /// argv that starts the environment's Python: `[/env/bin/python]` for the direct launcher,
    /// `[uv, run, ..., python]` for the uv launcher.
    pub python: &'a [OsString],
    /// The environment's bin folder (console scripts such as py-spy, austin, kernprof).
    pub bin_dir: &'a Path,
    /// Bin folder of this backend's isolated tool environment (see
    /// `Backend::isolated_requirements`); equals `bin_dir` when it has none.
    pub tool_bin_dir: &'a Path,
    /// The workload script and its arguments.
    pub script: &'a Path,
    pub args: &'a [OsString],
    /// Empty folder where the profiler must write its output.
    pub out_dir: &'a Path,
    /// The profbench executable itself (for the own sampler's `record`).
    pub profbench_exe: &'a Path,
}

impl Launch<'_> {
    /// `python -m <module> <options…> <script> <args…>`: an in-process profiler started as a
    /// module, running the workload as its program.
    pub fn python_module<I, S>(&self, module: &str, options: I) -> Vec<OsString>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut argv = self.python.to_vec();
        argv.push("-m".into());
        argv.push(module.into());
        argv.extend(options.into_iter().map(Into::into));
        argv.push(self.script.into());
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// A file in the profiler's output folder, as an argument.
    pub fn out(&self, name: &str) -> OsString {
        self.out_dir.join(name).into()
    }
}

/// Facts about the Python environment an adapter may check before running.
#[derive(Debug, Clone)]
pub struct PythonFacts {
    /// (major, minor, micro)
    pub version: (u32, u32, u32),
    pub bin_dir: PathBuf,
}

/// A parse failure: the cell becomes "no output" or "unparseable output".
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("no output: {0}")]
    NoOutput(String),
    #[error("unparseable output: {0}")]
    Unparseable(String),
}

/// Reads a profiler's output file; a missing or unreadable one is "no output".
pub fn read_output(path: &Path) -> Result<Vec<u8>, ParseError> {
    std::fs::read(path).map_err(|e| ParseError::NoOutput(format!("{}: {e}", path.display())))
}

impl ParseError {
    pub fn failure(&self) -> Failure {
        match self {
            ParseError::NoOutput(_) => Failure::NoOutput,
            ParseError::Unparseable(_) => Failure::UnparseableOutput,
        }
    }
}

pub trait Backend: Send + Sync {
    /// Unique row name, e.g. `py-spy` or `austin-3-wall`.
    fn name(&self) -> &str;

    /// One line a user reads in `list`: the profiler and the configuration.
    fn description(&self) -> String;

    /// Pinned PyPI requirement specs this backend needs in the environment.
    fn requirements(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Requirements installed in an environment of their own, for tools whose pins conflict
    /// with another backend's (austin-dist 3.x beside 4.x). Their console scripts are found in
    /// `Launch::tool_bin_dir`.
    fn isolated_requirements(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Distribution name whose installed version identifies this backend ("" for none).
    fn distribution(&self) -> &str {
        ""
    }

    /// The clock its times are in.
    fn clock(&self) -> Clock;

    /// Whether the backend is a sampler (its accuracy carries sampling error).
    fn is_sampler(&self) -> bool {
        false
    }

    /// Whether the backend is one of Ray's own tools, which only see programs that start a Ray
    /// cluster (workloads marked `uses-ray`); the matrix plans it on those alone.
    fn needs_ray(&self) -> bool {
        false
    }

    /// Whether it reads the target from another process (its memory, or by attaching with
    /// ptrace): on a platform that refuses that, its failure is a permission denial whatever
    /// its own words say.
    fn reads_from_outside(&self) -> bool {
        false
    }

    /// The row this one is another rate or mode of (`py-spy-1000hz` → `py-spy`), or None for
    /// a tool's main row. A schedule short of time measures the main rows first.
    fn variant_of(&self) -> Option<&'static str> {
        None
    }

    /// Ok when it can run with this Python, else why not (the cell's status is then a failure
    /// of the returned category, without running anything).
    fn check(&self, _python: &PythonFacts) -> Result<(), (Failure, String)> {
        Ok(())
    }

    /// The full argv to run, first element the program.
    fn command(&self, launch: &Launch) -> Vec<OsString>;

    /// Extra environment variables for the run.
    fn env(&self, _launch: &Launch) -> Vec<(OsString, OsString)> {
        Vec::new()
    }

    /// Commands run after the workload ended to turn the raw output into something `parse`
    /// reads (e.g. `memray stats --json`); their time is reported as post-processing time.
    fn postprocess(&self, _launch: &Launch) -> Vec<Vec<OsString>> {
        Vec::new()
    }

    /// Parses what the run left in `out_dir` (plus its stdout, for tools that print).
    /// `None` for the baseline.
    fn parse(&self, out_dir: &Path, stdout: &str) -> Option<Result<Profile, ParseError>>;

    /// Classifies a failed run; the default handles the patterns all profilers share.
    fn classify(&self, exit: &ExitInfo) -> Failure {
        classify_common(exit)
    }
}
