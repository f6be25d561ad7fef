#![no_main]
//! Fuzz target: line_profiler JSON dump via `line_profiler::parse_dump`.
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    check(&line_profiler::parse_dump(data));
});
