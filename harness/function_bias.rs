//! Function bias (the Scalene paper, OSDI'23, §6.2; docs/method.md, "Accuracy"): the same work
//! written inline in one function and as many small calls in another. Without a profiler the
//! call-heavy one takes `truth_ratio` times as long; a profiler that charges each call with
//! its own cost reports a larger ratio. Unlike the per-run accuracy (whose truth is measured
//! under the profiler, so a tracer's inflated run looks exact), this compares with the
//! baseline runs: the program as it runs without the profiler.

use crate::accuracy::Accuracy;
use crate::stats::Estimate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionBias {
    /// The inline and the call-heavy phase (the workload's `bias=` header).
    pub inline: String,
    pub calls: String,
    /// calls / inline wall time in the baseline runs (median over runs).
    pub truth_ratio: f64,
    /// calls / inline time as the profiler attributes it (the cell's medians).
    pub attributed_ratio: f64,
    /// attributed_ratio / truth_ratio − 1, percent: + over-charges calls, − under-charges.
    pub bias_pct: f64,
}

/// The bias of a finished cell: `baseline_phases` are the phase wall seconds of its measured
/// baseline runs (from their markers), `accuracy` the cell's combined accuracy.
pub fn assess(
    baseline_phases: &[&BTreeMap<String, f64>],
    accuracy: Option<&Accuracy>,
    inline: &str,
    calls: &str,
) -> Option<FunctionBias> {
    let ratios: Vec<f64> = baseline_phases
        .iter()
        .filter_map(|p| Some(p.get(calls)? / p.get(inline)?))
        .filter(|r| r.is_finite())
        .collect();
    let truth_ratio = Estimate::of(&ratios)?.median;
    let phases = &accuracy?.phases;
    let attributed = |name: &str| {
        phases
            .iter()
            .find(|p| p.phase == name)
            .map(|p| p.attributed_s)
    };
    let (a_inline, a_calls) = (attributed(inline)?, attributed(calls)?);
    if a_inline <= 0.0 || truth_ratio <= 0.0 {
        return None;
    }
    let attributed_ratio = a_calls / a_inline;
    Some(FunctionBias {
        inline: inline.to_string(),
        calls: calls.to_string(),
        truth_ratio,
        attributed_ratio,
        bias_pct: (attributed_ratio / truth_ratio - 1.0) * 100.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracer_that_doubles_the_call_heavy_side_is_plus_100_percent() {
        let phases: Vec<BTreeMap<String, f64>> = [1.5, 1.5, 1.4]
            .iter()
            .map(|r| BTreeMap::from([("inline_work".into(), 1.0), ("many_calls".into(), *r)]))
            .collect();
        let accuracy: Accuracy = serde_json::from_value(serde_json::json!({
            "clock": "wall", "mae_pp": 0.0, "worst_phase": "x", "worst_pp": 0.0,
            "samples": null, "sampling_error_pp": null, "phases": [
                {"phase": "inline_work", "function": "i", "attributed_s": 1.0, "truth_s": 1.0,
                 "attributed_share": 0.0, "truth_share": 0.0, "error_pp": 0.0},
                {"phase": "many_calls", "function": "m", "attributed_s": 3.0, "truth_s": 3.0,
                 "attributed_share": 0.0, "truth_share": 0.0, "error_pp": 0.0}]
        }))
        .unwrap();
        let baseline: Vec<&BTreeMap<String, f64>> = phases.iter().collect();
        let b = assess(&baseline, Some(&accuracy), "inline_work", "many_calls").unwrap();
        assert!((b.truth_ratio - 1.5).abs() < 1e-9);
        assert!((b.attributed_ratio - 3.0).abs() < 1e-9);
        assert!((b.bias_pct - 100.0).abs() < 1e-9, "{b:?}");
        assert!(assess(&baseline, None, "inline_work", "many_calls").is_none());
    }
}
