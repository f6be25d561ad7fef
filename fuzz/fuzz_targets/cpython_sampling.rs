#![no_main]
//! Fuzz target: CPython 3.15 `profiling.sampling` collapsed stacks via `cpython_sampling::parse_collapsed` (the adapter reads UTF-8 text and passes the default interval).
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let interval = cpython_sampling::INTERVAL_US as f64 * 1e-6;
        check(&cpython_sampling::parse_collapsed(text, interval));
    }
});
