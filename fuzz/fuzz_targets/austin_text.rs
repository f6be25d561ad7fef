#![no_main]
//! Fuzz target: Austin 3.x text output via `austin::parse_text`.
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    check(&austin::parse_text(data, Clock::Wall));
});
