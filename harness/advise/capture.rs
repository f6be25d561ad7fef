//! One profile to advise on: the command run under profbench's own sampler (through its Rust
//! API, so the RSS readings over time come along), or a profile saved by `record -f json`.

use anyhow::{bail, Context, Result};
use profbench_profilers::profile::Profile;
#[cfg(target_os = "linux")]
use profbench_sampler::{bootstrap, collector, normalise};
use std::ffi::OsString;
#[cfg(target_os = "linux")]
use std::os::fd::AsFd;
use std::path::Path;
#[cfg(target_os = "linux")]
use std::sync::Once;
#[cfg(target_os = "linux")]
use std::time::{Duration, Instant};

/// RSS of one process at one moment: (pid, seconds since the profile's start, bytes).
pub type RssReading = (u32, f64, u64);

/// What one run (or saved profile) gives the analysis.
#[derive(Debug, Clone)]
pub struct Capture {
    pub profile: Profile,
    /// RSS over time; None for a saved profile (its JSON keeps only per-function peaks).
    pub rss: Option<Vec<RssReading>>,
    /// Sampling rounds per second achieved in the process with the most samples.
    pub achieved_hz: Option<f64>,
    /// The program's exit code (None for a saved profile).
    pub exit_code: Option<i32>,
    /// Wall seconds of the whole run, measured here (None for a saved profile).
    pub wall: Option<f64>,
}

/// How the command is run.
#[derive(Debug, Clone)]
pub struct RunSpec<'a> {
    pub command: &'a [OsString],
    pub rate: f64,
    pub subprocesses: bool,
    /// Extra environment (e.g. the size variable of `--sizes`).
    pub env: Vec<(OsString, OsString)>,
    /// Send the program's stdout to our stderr (so `--json` output stays parseable).
    pub stdout_to_stderr: bool,
}

/// Elsewhere than Linux the sampler cannot run a program: advise reads saved profiles only.
#[cfg(not(target_os = "linux"))]
pub fn record(_spec: &RunSpec) -> Result<Capture> {
    bail!(
        "unsupported platform: profbench's sampler runs programs on Linux only (this is {}); `advise --profile FILE` reads a profile recorded there",
        std::env::consts::OS
    )
}

/// Runs the command under the sampler and returns its profile and RSS readings.
#[cfg(target_os = "linux")]
pub fn record(spec: &RunSpec) -> Result<Capture> {
    let (program, rest) = spec.command.split_first().context(
        "no command to run: give it after `--`, e.g. `profbench advise -- python script.py`",
    )?;
    ignore_interrupts_once();
    let boot = bootstrap::Bootstrap::create()?;
    let config = collector::Config {
        rate: spec.rate,
        subprocesses: spec.subprocesses,
        stop_at_ns: 0,
    };
    let collector = collector::Collector::start(&boot.socket_path(), config)
        .with_context(|| format!("listening on {}", boot.socket_path().display()))?;
    let mut cmd = std::process::Command::new(program);
    if spec.stdout_to_stderr {
        let stderr = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .context("duplicating stderr for the program's output")?;
        cmd.stdout(stderr);
    }
    let started = Instant::now();
    let status = cmd
        .args(rest)
        .envs(boot.env(
            std::env::var_os("PYTHONPATH"),
            std::env::var_os(bootstrap::RAY_HOOK_ENV),
        ))
        .envs(spec.env.iter().cloned())
        .status()
        .with_context(|| format!("could not start {}", program.to_string_lossy()))?;
    let wall = started.elapsed().as_secs_f64();
    let recording = collector.finish(Duration::from_secs(2));
    let out = normalise::build(&recording);
    if out.profile.samples.is_empty() {
        bail!(
            "no samples: no Python process reported to the sampler (exit code {}). The command \
             must start Python without -I, -E or -S, e.g. `python script.py`",
            exit_code(&status)
        );
    }
    let achieved_hz = out
        .processes
        .iter()
        .max_by_key(|p| p.samples)
        .and_then(|p| p.achieved_hz);
    Ok(Capture {
        profile: out.profile,
        rss: Some(out.rss),
        achieved_hz,
        exit_code: Some(exit_code(&status)),
        wall: Some(wall),
    })
}

/// Reads a profile written by `profbench record -f json`.
pub fn load(path: &Path) -> Result<Capture> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let profile: Profile = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a profile written by `profbench record -f json`",
            path.display()
        )
    })?;
    if profile.samples.is_empty() {
        bail!(
            "{} holds no stack samples: advise needs a sampled profile (`profbench record -f json`)",
            path.display()
        );
    }
    Ok(Capture {
        profile,
        rss: None,
        achieved_hz: None,
        exit_code: None,
        wall: None,
    })
}

#[cfg(target_os = "linux")]
fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Ctrl-C reaches the program through the terminal; advise stays alive to report what ran.
#[cfg(target_os = "linux")]
fn ignore_interrupts_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {});
    });
}
