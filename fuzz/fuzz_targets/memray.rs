#![no_main]
//! Fuzz target: memray `transform csv` output via `memray::parse_peak_csv` (the adapter reads the file as UTF-8 text first, so non-UTF-8 input never reaches the parser).
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(&memray::parse_peak_csv(text));
    }
});
