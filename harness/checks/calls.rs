//! Axis 1, calls and depth.

use super::frames::{calls_of, frames_named, is};
use super::{na, no_profile, Decided, Inputs, Verdict};

/// Samplers: recursion seen at least this many frames deep passes axis 1 (docs/method.md).
pub const MIN_RECURSION_DEPTH: usize = 20;

/// Axis 1, calls and depth, on the header's `calls=FUNCTION:COUNT` (a recursive function and
/// the exact number of calls the workload makes of it).
/// - Call records for the function with exactly COUNT calls → pass; call records with
///   another count → partial (the function was traced but calls were lost or merged), unless
///   samples show the depth (below).
/// - Otherwise from samples: the longest run of consecutive frames of the function in any
///   sample's stack; ≥ 20 frames → pass, 2–19 → partial, ≤ 1 → fail.
/// - The function absent from the profile → fail.
pub fn calls_and_depth(inputs: &Inputs) -> Decided {
    let Some(target) = &inputs.targets.calls else {
        return na(format!(
            "workload {} names no recursive function (header calls=)",
            inputs.workload
        ));
    };
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let func = &target.function;
    let expected = target.count;
    let mask = frames_named(p, func);
    let records = calls_of(p, &mask);
    if let Some((calls, primitive, _)) = records {
        if calls == expected {
            return (
                Verdict::Pass,
                format!("{func}: {calls} calls (primitive {primitive})"),
            );
        }
    }
    let mut deepest = 0usize;
    for s in &p.samples {
        let mut run = 0usize;
        for &i in &s.stack {
            if is(&mask, i) {
                run += 1;
                deepest = deepest.max(run);
            } else {
                run = 0;
            }
        }
    }
    if deepest >= MIN_RECURSION_DEPTH {
        return (
            Verdict::Pass,
            format!("deepest {func} stack: {deepest} frames (≥ {MIN_RECURSION_DEPTH})"),
        );
    }
    if let Some((calls, primitive, _)) = records {
        return (
            Verdict::Partial,
            format!("{func}: {calls} calls (primitive {primitive}), expected {expected}"),
        );
    }
    match deepest {
        0 => (Verdict::Fail, format!("{func} not in the profile")),
        1 => (
            Verdict::Fail,
            format!("deepest {func} stack: 1 frame (recursion not visible)"),
        ),
        d => (
            Verdict::Partial,
            format!("deepest {func} stack: {d} frames (< {MIN_RECURSION_DEPTH})"),
        ),
    }
}
