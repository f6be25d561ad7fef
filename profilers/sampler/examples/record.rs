//! `cargo run -p profbench-sampler --example record -- [OPTIONS] -- python script.py`: the
//! `profbench record` subcommand on its own, until the harness CLI wires it in.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "record",
    about = "Sample a Python program (profbench's own sampler)"
)]
struct Cli {
    #[command(flatten)]
    record: profbench_sampler::RecordArgs,
}

fn main() {
    let cli = Cli::parse();
    match profbench_sampler::record(&cli.record) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("profbench: {e:#}");
            std::process::exit(2);
        }
    }
}
