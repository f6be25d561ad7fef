//! `matrix --resume` alone continues a run as it was started: the plan comes from the command
//! the run folder recorded, so an interrupted `--suite` or `--workloads` run does not turn into
//! the default matrix in the same folder. Given anything that shapes the plan, the resumed run
//! follows the new command instead (finished cells are kept either way).

use crate::cli::{Cli, Command, MatrixArgs};
use crate::results::RunDir;
use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;

/// Whether the command names no plan of its own: no backends, workloads, program, suite,
/// launchers, lengths, platforms or quick run.
fn names_no_plan(args: &MatrixArgs) -> bool {
    args.backends.is_empty()
        && args.backend_file.is_none()
        && args.workloads.is_empty()
        && args.script.is_none()
        && args.suite.is_none()
        && args.launchers.is_empty()
        && args.lengths == [1.0]
        && args.platforms.is_empty()
        && !args.quick
}

/// The run folder `--resume` continues: `--out`, else the newest in the results folder.
pub fn folder(args: &MatrixArgs) -> Result<PathBuf> {
    match &args.out {
        Some(o) => Ok(o.clone()),
        None => crate::results::latest_run(&args.results_dir).with_context(|| {
            format!(
                "nothing to resume in {} (fix: pass --out with the run folder)",
                args.results_dir.display()
            )
        }),
    }
}

/// For a bare `--resume`: the arguments the run was started with, continuing into the same
/// folder, and that command (kept as the run's command). None when the command names a plan,
/// is not a resume, or the folder recorded no matrix command.
pub fn recorded_args(args: &MatrixArgs) -> Result<Option<(MatrixArgs, Vec<String>)>> {
    if !args.resume || !names_no_plan(args) {
        return Ok(None);
    }
    let root = folder(args)?;
    let Ok(info) = (RunDir { root: root.clone() }).read_info() else {
        return Ok(None); // nothing recorded: the folder is new or not a run; matrix says so
    };
    let Ok(cli) = Cli::try_parse_from(&info.command) else {
        return Ok(None);
    };
    let Command::Matrix(mut old) = cli.command else {
        return Ok(None);
    };
    old.resume = true;
    old.out = Some(root);
    Ok(Some((old, info.command)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix_args(argv: &[&str]) -> MatrixArgs {
        match Cli::parse_from(argv).command {
            Command::Matrix(m) => m,
            _ => unreachable!(),
        }
    }

    fn folder_with_command(command: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let info = crate::results::test_info("p", command);
        RunDir {
            root: dir.path().to_path_buf(),
        }
        .write_info(&info)
        .unwrap();
        dir
    }

    #[test]
    fn a_bare_resume_continues_the_recorded_plan() {
        let started = [
            "profbench",
            "matrix",
            "--suite",
            "pyperformance:raytrace",
            "--backends",
            "py-spy,profbench",
            "--runs",
            "8",
            "--budget",
            "none",
        ];
        let dir = folder_with_command(&started);
        let out = dir.path().to_str().unwrap();
        let bare = matrix_args(&["profbench", "matrix", "--resume", "--out", out]);
        let (args, command) = recorded_args(&bare).unwrap().unwrap();
        assert_eq!(args.suite.as_deref(), Some("pyperformance:raytrace"));
        assert_eq!(args.backends, ["py-spy", "profbench"]);
        assert_eq!(args.runs, Some(8));
        assert!(args.resume);
        assert_eq!(args.out.as_deref(), Some(dir.path()));
        assert_eq!(command, started);
    }

    #[test]
    fn a_resume_that_names_a_plan_follows_it() {
        let dir = folder_with_command(&["profbench", "matrix", "--suite", "pyperformance"]);
        let out = dir.path().to_str().unwrap();
        let named = matrix_args(&[
            "profbench",
            "matrix",
            "--resume",
            "--out",
            out,
            "--workloads",
            "single",
        ]);
        assert!(recorded_args(&named).unwrap().is_none());
        let fresh = matrix_args(&["profbench", "matrix", "--out", out]);
        assert!(recorded_args(&fresh).unwrap().is_none());
    }
}
