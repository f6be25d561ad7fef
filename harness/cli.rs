//! The command line (clap): `matrix`, `list`, `doctor`, `record`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "profbench",
    version,
    about = "Which Python profiler should I trust, on my platform, for my kind of program, and what does it cost?"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
// Parsed once per process: the size of the largest variant (matrix's options) costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the comparison: every (launcher, workload, backend) cell, with interleaved baseline runs.
    Matrix(MatrixArgs),
    /// List backends and workloads, and whether each can run here.
    List(CommonArgs),
    /// Describe this platform and, per backend, why it can or cannot run.
    Doctor(CommonArgs),
    /// Whether two matrix runs agree: each overhead median inside the other's interval.
    Compare {
        /// The first run folder.
        a: PathBuf,
        /// The second run folder.
        b: PathBuf,
    },
    /// Profile a Python command with profbench's own sampler (no root, ptrace or settings needed).
    Record(profbench_sampler::RecordArgs),
    /// Rewrite a run folder's reports, or merge folders from several machines into one report.
    Report(ReportArgs),
    /// Which functions of a Python program to move to Rust, with the evidence for each.
    Advise(crate::advise::AdviseArgs),
    /// Platforms on this machine: other Pythons, Debian chroots, a restricted user.
    Platform {
        #[command(subcommand)]
        command: PlatformCommand,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum PlatformCommand {
    /// Every platform this machine knows of, and whether it can be had here (and why not).
    List,
    /// Make a platform (a chroot tree: debootstrap) and build its pinned environment.
    Build {
        /// A name from `profbench platform list`.
        name: String,
    },
    /// Delete a chroot platform's tree (refused while anything is mounted inside).
    Remove { name: String },
    /// Run a command on a platform: `profbench platform run debian13 -- python3 -V`.
    Run {
        name: String,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Print the platform descriptor of where this runs (what every cell records).
    #[command(hide = true)]
    Describe,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Run folders (each with run.json and cells/), e.g. one per machine.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Folder for the merged report (default: results/merged); with one folder and no --out,
    /// that folder's own reports are rewritten in place.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Re-decide the ten checks and each run's self time of each folder's cells with the
    /// current rules first (from the profiles and truth the cells kept), rewriting their records.
    #[arg(long)]
    pub recheck: bool,
    /// With --recheck: the workloads whose headers name the function-bias pairs.
    #[arg(long, default_value = "workloads")]
    pub workloads_dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Python interpreter the environment is built from (default: $PROFBENCH_PYTHON, else python3 on PATH).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Folder of workload scripts.
    #[arg(long, default_value = "workloads")]
    pub workloads_dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct MatrixArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Backends to run, comma-separated (default: all). `none`, the baseline, is always run.
    #[arg(long, value_delimiter = ',')]
    pub backends: Vec<String>,
    /// Extra backends defined in a JSON file (see profilers/custom.rs for the format).
    #[arg(long)]
    pub backend_file: Option<PathBuf>,
    /// Workloads to run, comma-separated, or `all` (default: those marked `default` in their
    /// header; with --quick, those marked `quick=`).
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// A program of yours to run as the only workload, instead of the workloads folder
    /// (phase markers optional: `from profbench_truth import phase`).
    #[arg(long, conflicts_with_all = ["workloads", "suite"])]
    pub script: Option<PathBuf>,
    /// Arguments for --script, split like a shell does: "'a b' c" is two arguments.
    #[arg(long, requires = "script", allow_hyphen_values = true)]
    pub script_args: Option<String>,
    /// A benchmark suite as the workloads: `pyperformance` (all), `pyperformance:raytrace,chaos`,
    /// or `scalene-osdi23` (the Scalene paper's benchmarks; without --backends and --launchers,
    /// its profilers in the paper's configurations, run directly).
    #[arg(long, conflicts_with = "workloads")]
    pub suite: Option<String>,
    /// Launchers: direct (the env's python) and uv (`uv run python`) (default: both; with
    /// --quick, direct).
    #[arg(long, value_delimiter = ',')]
    pub launchers: Vec<String>,
    /// Time budget (e.g. 30m, 1h, 90s; `none` for no limit): every cell gets its status and
    /// first pair, then pairs go where intervals are widest until the next pair would not fit.
    /// Cells left with fewer pairs than --runs (or, with --until-ci, a wider interval) say so.
    #[arg(long, default_value = "60m", value_parser = crate::schedule::Budget::parse)]
    pub budget: crate::schedule::Budget,
    /// Measured pairs (baseline + profiled) per cell; 6 or more for a 95% interval. Without
    /// it: 6, and pairs are added past 6 while the interval is wider than 10% (--until-ci 10).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Adaptive repetition: past --runs, add pairs while the 95% interval is wider than this
    /// percentage of the median, up to --max-runs (and, with a budget, while time is left);
    /// `off`: exactly --runs pairs. Default: 10 when --runs is not given, else off.
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub until_ci: Option<f64>,
    /// Upper bound on pairs per cell with --until-ci.
    #[arg(long, default_value_t = 30)]
    pub max_runs: usize,
    /// Workload lengths (work multipliers) for the fixed/running cost split, e.g. `1,3`:
    /// workloads marked `# profbench: scalable` also run their pairs at each other length.
    #[arg(long, value_delimiter = ',', default_value = "1", value_parser = parse_length)]
    pub lengths: Vec<f64>,
    /// How baseline and profiled runs are paired: `interleaved` (each profiled run right
    /// after its own baseline run) or `rounds` (one baseline run before and one after a few
    /// cells' profiled runs, shared by them; fewer runs, see docs/schedule.md).
    #[arg(long, value_enum, default_value = "rounds", conflicts_with = "quick")]
    pub pairing: crate::rounds::Pairing,
    /// Unmeasured warm-up pairs per cell.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// A first answer in about 10 minutes: each backend's status on the workloads marked
    /// `quick=` and overhead pairs (no warm-up) on those marked `quick=overhead`.
    #[arg(long)]
    pub quick: bool,
    /// Per-run timeout in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Run folder to write (default: results/<run-id>); with --resume, the folder to continue.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue an interrupted run (the newest in results/ unless --out), skipping finished
    /// cells: alone, as the run was started (its recorded command); with options that name a
    /// plan (--workloads, --backends, --suite, ...), that plan.
    #[arg(long)]
    pub resume: bool,
    /// A run writing more than this (stdout, stderr and profiler output together) is ended.
    #[arg(long, default_value_t = 4096)]
    pub output_cap_mb: u64,
    /// Keep raw profiler outputs above the size cap.
    #[arg(long)]
    pub keep_raw: bool,
    /// Folder holding run folders.
    #[arg(long, default_value = "results")]
    pub results_dir: PathBuf,
    /// Platforms to run on, comma-separated, or `all` (see `profbench platform list`); each
    /// gets a run folder under OUT/platforms/, merged into one table with a column per
    /// platform. Default: the host interpreter only, as a plain run.
    #[arg(long, value_delimiter = ',')]
    pub platforms: Vec<String>,
}

/// A positive work multiplier.
fn parse_length(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "'{s}' is not a length: use positive multipliers such as 1,3"
        )),
    }
}

/// Accepts `5` or `5%`; `off` is 0.
fn parse_percent(s: &str) -> Result<f64, String> {
    if s == "off" {
        return Ok(0.0);
    }
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{s}' is not a percentage, e.g. 5 or 5%, or off"))?;
    if v > 0.0 && v < 100.0 {
        Ok(v)
    } else {
        Err("the percentage must be between 0 and 100".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lists_split_on_commas() {
        let cli = Cli::parse_from([
            "profbench",
            "matrix",
            "--backends",
            "none,cprofile",
            "--launchers",
            "direct,uv",
        ]);
        let Command::Matrix(m) = cli.command else {
            panic!()
        };
        assert_eq!(m.backends, vec!["none", "cprofile"]);
        assert_eq!(m.launchers, vec!["direct", "uv"]);
    }
}
