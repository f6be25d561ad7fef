#![no_main]
//! Fuzz target: pyinstrument JSON via `pyinstrument::parse_json`.
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    check(&pyinstrument::parse_json(data));
});
