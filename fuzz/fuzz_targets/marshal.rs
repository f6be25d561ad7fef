#![no_main]
//! Fuzz target: the bounded CPython marshal reader pstats files use, `marshal::parse`.
use libfuzzer_sys::fuzz_target;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    let _ = marshal::parse(data);
});
