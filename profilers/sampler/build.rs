//! Builds the stack reader (native/reader.rs) as a dependency-free shared library, which the
//! collector embeds and writes next to the agent; the agent loads it with ctypes. Built with
//! the same rustc as the crate, no Python headers needed (the agent probes the layout).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "native/reader.rs";
    println!("cargo:rerun-if-changed={src}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let status = Command::new(rustc)
        .args([
            "--crate-type",
            "cdylib",
            "--edition",
            "2021",
            "--crate-name",
        ])
        .arg("profbench_reader")
        .args([
            "-C",
            "opt-level=2",
            "-C",
            "debuginfo=0",
            "-C",
            "strip=symbols",
        ])
        .args(["--target", &target])
        .arg("-o")
        .arg(out.join("profbench_reader.so"))
        .arg(src)
        .status()
        .expect("running rustc for the stack reader");
    assert!(status.success(), "building {src} failed");
}
