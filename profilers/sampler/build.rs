//! Builds the stack reader (the `reader/` crate, a cdylib) through cargo, which the collector
//! embeds and writes next to the agent; the agent loads it with ctypes. Its own target
//! folder under OUT_DIR (the outer build holds the workspace's); the outer build's RUSTFLAGS
//! (CARGO_ENCODED_RUSTFLAGS), linker and target are passed on. Always optimised: the
//! reader runs inside the measured program, whatever profile the collector is built with.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let reader = Path::new("reader");
    for f in ["Cargo.toml", "src"] {
        println!("cargo:rerun-if-changed={}", reader.join(f).display());
    }
    for entry in std::fs::read_dir(reader.join("src")).expect("reader/src") {
        println!(
            "cargo:rerun-if-changed={}",
            entry.expect("reader/src entry").path().display()
        );
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    // The reader reads Linux processes (process_vm_readv, /proc): elsewhere the collector
    // embeds nothing and the sampler reports the platform as unsupported.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        std::fs::write(out.join("profbench_reader.so"), b"")
            .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
        return;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = out.join("reader-target");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--lib", "--manifest-path"])
        .arg(reader.join("Cargo.toml"))
        .args(["--target", &target, "--target-dir"])
        .arg(&target_dir)
        // Small and self-contained: no debug info, no symbols but the exported ones.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "2")
        // clippy's wrapper lints the workspace; this build only needs the library.
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    if let Ok(linker) = std::env::var("RUSTC_LINKER") {
        let key = target.to_uppercase().replace('-', "_");
        cmd.env(format!("CARGO_TARGET_{key}_LINKER"), linker);
    }
    let status = cmd.status().expect("running cargo for the stack reader");
    assert!(
        status.success(),
        "building the stack reader (reader/) failed"
    );
    let built = target_dir
        .join(&target)
        .join("release")
        .join("libprofbench_reader.so");
    std::fs::copy(&built, out.join("profbench_reader.so"))
        .unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
}
