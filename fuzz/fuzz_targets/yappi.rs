#![no_main]
//! Fuzz target: yappi pstat via `yappi::parse_yappi_pstat` (both clocks share the code path).
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    check(&yappi::parse_yappi_pstat(data, Clock::Wall));
});
