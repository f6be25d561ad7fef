#![no_main]
//! Fuzz target: Austin 4.x binary MOJO output via `austin::parse_mojo`.
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    check(&austin::parse_mojo(data, Clock::Wall));
});
