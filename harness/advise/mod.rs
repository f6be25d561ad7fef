//! `profbench advise`: which functions of a Python program are worth moving to Rust, with the
//! evidence for each criterion (self CPU, calls, the GIL ceiling, memory spikes, growth with
//! input size) and the time that is not worth it (waiting, native code already).
//! Everything comes from profiles profbench's own sampler records; see docs/advise.md.

pub mod account;
pub mod capture;
pub mod counter;
pub mod gil;
pub mod growth;
pub mod html;
pub mod memory;
pub mod report;
pub mod terminal;
pub mod verdict;

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::PathBuf;

/// `profbench advise [OPTIONS] -- python script.py ...`
#[derive(Debug, Clone, clap::Args)]
pub struct AdviseArgs {
    /// Samples per second per thread.
    #[arg(short, long, default_value_t = 100.0, value_parser = parse_rate)]
    pub rate: f64,
    /// Run the program once per size and fit each function's time to size^k, e.g. 1000,2000,4000.
    /// The size reaches the program through --size-env VAR or --size-arg.
    #[arg(long, value_delimiter = ',', value_name = "A,B,C")]
    pub sizes: Vec<String>,
    /// With --sizes: the environment variable that carries the size.
    #[arg(long, value_name = "VAR", conflicts_with = "size_arg")]
    pub size_env: Option<String>,
    /// With --sizes: append the size as the command's last argument.
    #[arg(long)]
    pub size_arg: bool,
    /// With --sizes: runs per size; each function's point is its least CPU over them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub repeat: u32,
    /// Print the advice as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the advice as a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Advise on a profile recorded earlier with `profbench record -f json` instead of running.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["sizes", "command"])]
    pub profile: Option<PathBuf>,
    /// Count every call exactly in one more run (cProfile, main thread of the top-level
    /// Python); its cost is shown as that run's wall time against the sampled run's.
    #[arg(long, conflicts_with = "profile")]
    pub count_calls: bool,
    /// Also sample the program's child Python processes.
    #[arg(short, long)]
    pub subprocesses: bool,
    /// Rows in the table (the JSON and HTML have all).
    #[arg(long, default_value_t = 15)]
    pub top: usize,
    /// The command that starts Python, e.g. `python script.py`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<OsString>,
}

fn parse_rate(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.1..=10_000.0).contains(&r) => Ok(r),
        _ => Err("the rate must be a number of Hz between 0.1 and 10000".into()),
    }
}

/// Runs `advise`; returns the exit code for the process.
pub fn run(args: &AdviseArgs) -> Result<i32> {
    let report = build(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", terminal::render(&report, args.top));
    }
    if let Some(path) = &args.html {
        std::fs::write(path, html::render(&report))
            .with_context(|| format!("writing {}", path.display()))?;
        if !args.json {
            println!("wrote {}", path.display());
        }
    }
    Ok(0)
}

/// Records (or loads) the profiles and turns them into the report.
pub fn build(args: &AdviseArgs) -> Result<report::Report> {
    if let Some(path) = &args.profile {
        let cap = capture::load(path)?;
        return Ok(report::build(&cap, path.display().to_string(), &[], None));
    }
    if args.command.is_empty() {
        bail!("no command to run: give one after `--` (e.g. `profbench advise -- python script.py`) or use --profile FILE");
    }
    let source = args
        .command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let spec = capture::RunSpec {
        command: &args.command,
        rate: args.rate,
        subprocesses: args.subprocesses,
        env: Vec::new(),
        stdout_to_stderr: args.json,
    };
    if args.sizes.is_empty() {
        if args.size_env.is_some() || args.size_arg {
            bail!("--size-env and --size-arg need --sizes, e.g. --sizes 1000,2000,4000");
        }
        let cap = capture::record(&spec)?;
        let counts = count_calls(args, &args.command, &[])?;
        return Ok(report::build(&cap, source, &[], counts));
    }
    let sizes = growth::parse_sizes(&args.sizes).map_err(anyhow::Error::msg)?;
    if args.size_env.is_none() && !args.size_arg {
        bail!("--sizes needs to know how to pass the size: add --size-env VAR or --size-arg");
    }
    let mut runs = Vec::new();
    for &size in &sizes {
        for round in 1..=args.repeat {
            runs.push((size, run_at(args, &spec, size, round)?));
        }
    }
    let largest = sizes.iter().copied().fold(f64::MIN, f64::max);
    let (command, env) = sized_command(args, largest);
    let counts = count_calls(args, &command, &env)?;
    Ok(report::build_sized(&runs, source, counts))
}

/// The command and environment for one size.
fn sized_command(args: &AdviseArgs, size: f64) -> (Vec<OsString>, Vec<(OsString, OsString)>) {
    let text = growth::size_text(size);
    let mut command = args.command.clone();
    let mut env = Vec::new();
    match &args.size_env {
        Some(var) => env.push((OsString::from(var), OsString::from(&text))),
        None => command.push(OsString::from(&text)),
    }
    (command, env)
}

/// With --count-calls: the exact counts of one more run, and its wall time.
fn count_calls(
    args: &AdviseArgs,
    command: &[OsString],
    env: &[(OsString, OsString)],
) -> Result<Option<counter::Counted>> {
    if !args.count_calls {
        return Ok(None);
    }
    eprintln!("profbench advise: counting calls (one more run, under cProfile)");
    counter::count(command, env, args.json).map(Some)
}

/// One run of the command at one size.
fn run_at(
    args: &AdviseArgs,
    spec: &capture::RunSpec,
    size: f64,
    round: u32,
) -> Result<capture::Capture> {
    let text = growth::size_text(size);
    let (command, env) = sized_command(args, size);
    eprintln!(
        "profbench advise: running at size {text} ({round} of {})",
        args.repeat
    );
    let cap = capture::record(&capture::RunSpec {
        command: &command,
        env,
        ..spec.clone()
    })
    .with_context(|| format!("at size {text}"))?;
    if let Some(code) = cap.exit_code.filter(|&c| c != 0) {
        bail!(
            "the program exited with code {code} at size {text}: fix it at that size or leave the size out"
        );
    }
    Ok(cap)
}
