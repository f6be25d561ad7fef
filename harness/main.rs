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
        Command::Record(args) => profbench_sampler::record(&args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
