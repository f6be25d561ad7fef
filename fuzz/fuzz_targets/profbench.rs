#![no_main]
//! Fuzz target: profbench's own sampler JSON via `profbench::parse_profile`.
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    check(&profbench::parse_profile(data));
});
