#![no_main]
//! Fuzz target: VizTracer Chrome-trace JSON (streaming) via `viztracer::parse_trace`.
use libfuzzer_sys::fuzz_target;
use profbench_fuzz::check;
use profbench_profilers::*;

fuzz_target!(|data: &[u8]| {
    check(&viztracer::parse_trace(data).map(|t| t.profile));
});
