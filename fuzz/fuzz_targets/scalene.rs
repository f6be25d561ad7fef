#![no_main]
//! Fuzz target: Scalene JSON via `scalene::parse_json`.
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    check(&scalene::parse_json(data));
});
