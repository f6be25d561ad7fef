#![no_main]
//! Fuzz target: cProfile pstats (marshal) via `cprofile::parse_pstats`.
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    check(&cprofile::parse_pstats(data));
});
