#![no_main]
//! Fuzz target: custom backends, both the backend file (`custom::parse_backend_file`) and
//! their outputs (`custom::parse_bytes`, for each output kind).
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    let _ = custom::parse_backend_file(&String::from_utf8_lossy(data), "fuzz");
    for kind in [
        custom::OutputKind::None,
        custom::OutputKind::Pstats,
        custom::OutputKind::Profile,
    ] {
        if let Some(r) = custom::parse_bytes(kind, data, "fuzz") {
            check(&r);
        }
    }
});
