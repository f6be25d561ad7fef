//! Axis 5, memory.

use super::frames::{bare, phase_of};
use super::{na, no_profile, Decided, Inputs, Verdict};
use profbench_profilers::Profile;

/// Axis 5, memory, on the header's `memory=FUNCTION` (the function whose phase allocates),
/// against a separate memory-truth run (header `memory-truth`): the phase's
/// `rss_peak_bytes` when the backend measured RSS (`Memory::kind == "rss"`), its
/// `tracemalloc_peak_bytes` when it measured the heap ("heap").
/// - The backend's peak for the phase function (`peak_by_function`) within 25% of the truth
///   → pass, outside → fail.
/// - No per-function figure: the whole-run peak within 25% → partial (a process peak does not
///   say which phase reached it), outside → fail.
/// - No memory data → fail; no memory truth → not-applicable.
pub fn memory(inputs: &Inputs) -> Decided {
    let Some(target) = &inputs.targets.memory else {
        return na(format!(
            "workload {} names no allocating function (header memory=)",
            inputs.workload
        ));
    };
    let Some(mt) = inputs.memory_truth else {
        return na("no memory truth run");
    };
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let Some(m) = p
        .memory
        .as_ref()
        .filter(|m| m.peak_bytes.is_some() || !m.peak_by_function.is_empty())
    else {
        return (Verdict::Fail, "no memory data in the profile".into());
    };
    let Some(ph) = phase_of(Some(mt), target) else {
        return na(format!("the memory truth has no phase of {target}"));
    };
    let (truth, field) = if m.kind == "rss" {
        (ph.rss_peak_bytes, "rss_peak_bytes")
    } else {
        (ph.tracemalloc_peak_bytes, "tracemalloc_peak_bytes")
    };
    let Some(truth) = truth.filter(|&t| t > 0) else {
        return na(format!("the memory truth has no {field}"));
    };
    let func = bare(&ph.function);
    let mb = |b: u64| b as f64 / 1048576.0;
    let by_function = m
        .peak_by_function
        .iter()
        .filter(|(k, _)| Profile::function_matches(k, func))
        .map(|(_, &v)| v)
        .max();
    let (reported, whose) = match by_function {
        Some(v) => (v, func.to_string()),
        None => match m.peak_bytes {
            Some(v) => (v, "whole run".to_string()),
            None => {
                return (
                    Verdict::Fail,
                    format!("no peak for {func} or the whole run in the profile"),
                )
            }
        },
    };
    let err = (reported as f64 - truth as f64) / truth as f64;
    let ev = format!(
        "{} peak {whose}: {:.1} MB vs truth {field} {:.1} MB ({:+.0}%)",
        m.kind,
        mb(reported),
        mb(truth),
        err * 100.0
    );
    if err.abs() > 0.25 {
        (Verdict::Fail, ev)
    } else if by_function.is_some() {
        (Verdict::Pass, ev)
    } else {
        (Verdict::Partial, ev)
    }
}
