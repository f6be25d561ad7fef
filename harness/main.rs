//! `profbench`: the CLI entry point. Errors are printed as one line naming the fix.

use clap::Parser;
use profbench::cli::{Cli, Command};
use profbench::commands;

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Matrix(args) => commands::matrix(&args),
        Command::List(args) => commands::list(&args),
        Command::Doctor(args) => commands::doctor(&args),
        Command::Compare { a, b } => profbench::compare::compare(&a, &b).map(|rows| {
            print!("{}", profbench::compare::render(&rows));
            0
        }),
        Command::Record(args) => profbench_sampler::record(&args),
        Command::Report(args) => report(&args),
        Command::Advise(args) => profbench::advise::run(&args),
        Command::Platform { command } => profbench::platforms::run::command(&command),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}

/// `profbench report`: one folder without --out is re-rendered in place; otherwise merged.
fn report(args: &profbench::cli::ReportArgs) -> anyhow::Result<i32> {
    if args.recheck {
        for dir in &args.dirs {
            let said = profbench::recheck::recheck(dir, &args.workloads_dir)?;
            for r in &said {
                println!("{}: {}", r.cell, r.how);
            }
            let n = said.iter().filter(|r| r.redecided).count();
            println!(
                "re-decided the checks of {n} of {} cell(s) in {} (rules version {})",
                said.len(),
                dir.display(),
                profbench::checks::RULES_VERSION
            );
        }
    }
    let written = match (&args.dirs[..], &args.out) {
        ([one], None) => profbench::merge::rerender(one)?,
        (dirs, out) => {
            let out = out.clone().unwrap_or_else(|| "results/merged".into());
            profbench::merge::merge(dirs, &out)?
        }
    };
    for p in written
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e != "png" && e != "svg"))
    {
        println!("wrote {}", p.display());
    }
    Ok(0)
}
