//! Shared checks for the fuzz targets: beyond "no panic, no hang, bounded memory", a parsed
//! `Profile` must be safe for the harness to use, which indexes `frames` directly with the
//! indices in samples and call records (harness/checks.rs).

use profbench_profilers::{ParseError, Profile};

/// Asserts the invariants every successfully parsed profile must hold.
pub fn check(result: &Result<Profile, ParseError>) {
    let Ok(p) = result else { return };
    let n = p.frames.len();
    for s in &p.samples {
        for &i in &s.stack {
            assert!((i as usize) < n, "sample frame index {i} out of {n} frames");
        }
    }
    for f in &p.functions {
        assert!(
            (f.frame as usize) < n,
            "call record frame index {} out of {n} frames",
            f.frame
        );
    }
}
