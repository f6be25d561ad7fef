//! profbench's own sampler: a Rust collector and a stdlib-only Python agent.
//!
//! `record` starts the command with the agent injected through PYTHONPATH (see `bootstrap`),
//! collects every Python process's samples over a private Unix socket (`collector`), adds
//! what the OS knows (thread CPU, RSS, the process tree) and writes one output format.

// Starting and reading Python processes needs Linux (/proc, a Unix socket, signals); the
// formats and the normalised profile build anywhere.
#[cfg(target_os = "linux")]
pub mod bootstrap;
pub mod chrome;
pub mod collapsed;
#[cfg(target_os = "linux")]
pub mod collector;
pub mod flamegraph;
pub mod ingest;
pub mod memory;
pub mod normalise;
#[cfg(target_os = "linux")]
pub mod procfs;
pub mod protocol;
pub mod ray;
pub mod recording;
pub mod speedscope;
#[cfg(test)]
mod testutil;

#[cfg(target_os = "linux")]
use anyhow::Context;
use anyhow::Result;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
#[cfg(target_os = "linux")]
use std::time::Duration;

/// Output formats of `record --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// speedscope JSON (https://www.speedscope.app), one profile per thread.
    Speedscope,
    /// Chrome trace / Perfetto JSON: the per-process, per-thread timeline.
    Chrome,
    /// Collapsed stacks, weights in microseconds.
    Collapsed,
    /// Flamegraph SVG.
    Flamegraph,
    /// profbench's normalised profile (the harness reads this).
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Speedscope => "speedscope.json",
            Format::Chrome => "trace.json",
            Format::Collapsed => "txt",
            Format::Flamegraph => "svg",
            Format::Json => "json",
        }
    }
}

/// How the native reader reads a thread's stack (`record --reader`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Reader {
    /// A running thread copies its own stack in a signal handler; the others are copied
    /// from outside in one read.
    #[default]
    Signal,
    /// Every thread's stack copied from outside in one read (no signals).
    Copy,
    /// Frame by frame while the thread runs on (the older reader, kept to compare).
    Walk,
}

impl Reader {
    pub fn name(self) -> &'static str {
        match self {
            Reader::Signal => "signal",
            Reader::Copy => "copy",
            Reader::Walk => "walk",
        }
    }
}

/// `profbench record [OPTIONS] -- python script.py ...`
#[derive(Debug, Clone, clap::Args)]
pub struct RecordArgs {
    /// Samples per second per thread (intervals are jittered around 1/rate).
    #[arg(short, long, default_value_t = 100.0, value_parser = parse_rate)]
    pub rate: f64,
    /// Output file [default: profbench-<pid>.<format's extension>].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[arg(short, long, value_enum, default_value_t = Format::Speedscope)]
    pub format: Format,
    /// Also sample the target's child Python processes (subprocess, multiprocessing, Ray workers).
    #[arg(short, long)]
    pub subprocesses: bool,
    /// Stop sampling after this many seconds (the program keeps running).
    #[arg(short, long)]
    pub duration_limit: Option<f64>,
    /// Seconds to wait after the target exits for its remaining processes' last records.
    #[arg(long, default_value_t = 2.0)]
    pub grace: f64,
    /// Print nothing but warnings.
    #[arg(short, long)]
    pub quiet: bool,
    /// Read stacks from a Python thread (which must wait for the GIL) instead of the native
    /// reader; what the agent does anyway on Pythons the reader does not know.
    #[arg(long)]
    pub no_native_reader: bool,
    /// How the native reader reads a stack (see the sampler's README).
    #[arg(long, value_enum, default_value_t = Reader::Signal)]
    pub reader: Reader,
    /// The command that starts Python, e.g. `python script.py`, `uv run python x.py`, `./run.sh`.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<OsString>,
}

fn parse_rate(s: &str) -> std::result::Result<f64, String> {
    let r: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if !(0.1..=10_000.0).contains(&r) {
        return Err("the rate must be between 0.1 and 10000 Hz".into());
    }
    Ok(r)
}

/// Elsewhere than Linux the sampler cannot start or read Python processes: one clear error.
#[cfg(not(target_os = "linux"))]
pub fn record(_args: &RecordArgs) -> Result<i32> {
    anyhow::bail!(
        "unsupported platform: profbench's sampler reads Python processes through Linux's /proc and process_vm_readv; this is {}",
        std::env::consts::OS
    )
}

/// Runs the command under the sampler, writes the output, returns the command's exit code
/// (128 + signal when it was killed).
#[cfg(target_os = "linux")]
pub fn record(args: &RecordArgs) -> Result<i32> {
    let (program, rest) = args.command.split_first().context("no command to run")?;
    let output = args.output.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "profbench-{}.{}",
            std::process::id(),
            args.format.extension()
        ))
    });
    let boot = bootstrap::Bootstrap::create()?;
    let stop_at_ns = args
        .duration_limit
        .map_or(0, |d| procfs::mono_ns() + (d.max(0.0) * 1e9) as u64);
    let config = collector::Config {
        rate: args.rate,
        subprocesses: args.subprocesses,
        stop_at_ns,
    };
    let collector = collector::Collector::start(&boot.socket_path(), config)
        .with_context(|| format!("listening on {}", boot.socket_path().display()))?;

    let mut cmd = std::process::Command::new(program);
    cmd.args(rest).envs(boot.env(
        std::env::var_os("PYTHONPATH"),
        std::env::var_os(bootstrap::RAY_HOOK_ENV),
    ));
    let reader = if args.no_native_reader {
        "off"
    } else {
        args.reader.name()
    };
    cmd.env(bootstrap::READER_ENV, reader);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("could not start {}", program.to_string_lossy()))?;
    // Ctrl-C reaches the target through the terminal; we stay alive to write its profile.
    let _guard = IgnoreInterrupt::install();
    let status = child.wait().context("waiting for the target")?;
    let code = exit_code(&status);

    let recording = collector.finish(Duration::from_secs_f64(args.grace.max(0.0)));
    let out = normalise::build(&recording);
    report(&out, args, &output);
    if out.profile.samples.is_empty() {
        eprintln!(
            "profbench: no samples: no Python process reported to the sampler. The command may not start \
             Python, or started it with -I, -E or -S (which skip PYTHONPATH or site); run it with a plain `python`."
        );
        return Ok(code);
    }
    write_output(&out, args.format, &output)
        .with_context(|| format!("writing {}", output.display()))?;
    Ok(code)
}

/// Writes one format to `path` (through a temporary file, so a reader never sees half a file).
pub fn write_output(out: &normalise::Output, format: Format, path: &Path) -> Result<()> {
    let bytes = match format {
        Format::Json => serde_json::to_vec(&out.profile)?,
        Format::Speedscope => serde_json::to_vec(&speedscope::render(out))?,
        Format::Chrome => serde_json::to_vec(&chrome::render(out))?,
        Format::Collapsed => collapsed::render(out).into_bytes(),
        Format::Flamegraph => flamegraph::render(out, "profbench")?,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, &bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(target_os = "linux")]
fn report(out: &normalise::Output, args: &RecordArgs, output: &Path) {
    for p in &out.processes {
        if let Some(e) = &p.agent_error {
            eprintln!(
                "profbench: sampling switched off in pid {} after an internal error: {e}",
                p.pid
            );
        }
        if p.bad_lines > 0 {
            eprintln!(
                "profbench: {} unreadable records from pid {}",
                p.bad_lines, p.pid
            );
        }
    }
    if args.quiet {
        return;
    }
    let threads: usize = out.processes.iter().map(|p| p.threads).sum();
    let main = out.processes.iter().find(|p| p.samples > 0);
    let achieved = main
        .and_then(|p| p.achieved_hz)
        .map_or("n/a".into(), |hz| format!("{hz:.1} Hz"));
    eprintln!(
        "profbench: {} samples from {} process(es), {} thread(s) over {:.2} s; rate {} achieved (asked {} Hz), {} ticks missed, {} rounds read again{}",
        out.profile.samples.len(),
        out.processes.len(),
        threads,
        out.profile.duration.unwrap_or(0.0),
        achieved,
        args.rate,
        out.profile.missed_samples.unwrap_or(0),
        out.processes.iter().map(|p| p.rereads).sum::<u64>(),
        if out.profile.samples.is_empty() { String::new() } else { format!("; writing {}", output.display()) },
    );
    let native = out
        .processes
        .iter()
        .filter(|p| p.mode.as_deref() == Some("native"))
        .count();
    let why: Vec<&str> = normalise::reader_fallbacks(&out.processes)
        .into_iter()
        .map(|(why, _)| why)
        .collect();
    let how = out
        .processes
        .iter()
        .find(|p| p.mode.as_deref() == Some("native"))
        .and_then(|p| p.mode_detail.as_deref())
        .map_or(String::new(), |d| format!(" ({d})"));
    eprintln!(
        "profbench: stacks read by the native reader{how} in {native} of {} process(es), {} torn{}",
        out.processes.len(),
        out.profile.invalid_samples.unwrap_or(0),
        if why.is_empty() {
            String::new()
        } else {
            format!("; from Python (GIL-bound) elsewhere: {}", why.join("; "))
        },
    );
    for rf in out.remote_functions.iter().take(10) {
        eprintln!(
            "profbench: remote {}: {} calls, total {:.3} s, mean {:.3} s, p95 {:.3} s on {} worker(s)",
            rf.name, rf.count, rf.total, rf.mean, rf.p95, rf.workers
        );
    }
}

#[cfg(target_os = "linux")]
fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

#[cfg(target_os = "linux")]
extern "C" fn ignore_signal(_: libc::c_int) {}

/// A no-op SIGINT/SIGTERM handler while the target runs (handlers, unlike SIG_IGN, are reset
/// by exec, so the child is not affected).
#[cfg(target_os = "linux")]
struct IgnoreInterrupt {
    previous: [(libc::c_int, libc::sighandler_t); 2],
}

#[cfg(target_os = "linux")]
impl IgnoreInterrupt {
    fn install() -> Self {
        let handler = ignore_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: installing a handler that does nothing is async-signal-safe.
        let previous =
            [libc::SIGINT, libc::SIGTERM].map(|s| (s, unsafe { libc::signal(s, handler) }));
        IgnoreInterrupt { previous }
    }
}

#[cfg(target_os = "linux")]
impl Drop for IgnoreInterrupt {
    fn drop(&mut self) {
        for (s, h) in self.previous {
            // SAFETY: restoring the handler that was there before.
            unsafe { libc::signal(s, h) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        record: RecordArgs,
    }

    #[test]
    fn cli_definition_is_sound() {
        Cli::command().debug_assert();
    }

    #[test]
    fn command_after_double_dash_keeps_its_flags() {
        let cli = Cli::try_parse_from([
            "x", "--rate", "250", "-f", "json", "--", "python", "-u", "s.py", "--rate", "1",
        ])
        .unwrap();
        assert_eq!(cli.record.rate, 250.0);
        assert_eq!(cli.record.format, Format::Json);
        assert_eq!(
            cli.record.command,
            ["python", "-u", "s.py", "--rate", "1"].map(OsString::from)
        );
        let cli = Cli::try_parse_from(["x", "--subprocesses", "python", "s.py"]).unwrap();
        assert!(cli.record.subprocesses);
        assert!(Cli::try_parse_from(["x", "--rate", "0", "--", "python"]).is_err());
        assert!(Cli::try_parse_from(["x"]).is_err());
    }
}
