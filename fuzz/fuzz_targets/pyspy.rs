#![no_main]
//! Fuzz target: py-spy raw (collapsed) output via `pyspy::parse_raw` at the default 100 Hz.
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    check(&pyspy::parse_raw(data, 100, Clock::Wall));
});
