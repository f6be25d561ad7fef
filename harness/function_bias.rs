//! Function bias (the Scalene paper, OSDI'23, §6.2; docs/method.md, "Accuracy"): the same work
//! written inline in one function and as many small calls in another. Without a profiler the
//! call-heavy one takes `truth_ratio` times as long; a profiler that charges each call with
//! its own cost reports a larger ratio. Unlike the per-run accuracy (whose truth is measured
//! under the profiler, so a tracer's inflated run looks exact), this compares with the
//! baseline runs: the program as it runs without the profiler.

use crate::results::{CellRecord, RunKind};
use crate::stats::Estimate;
use serde::{Deserialize, Serialize};

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

/// The bias of a finished cell, from its baseline runs' phase markers and its accuracy.
pub fn assess(record: &CellRecord, inline: &str, calls: &str) -> Option<FunctionBias> {
    let ratios: Vec<f64> = record
        .runs
        .iter()
        .filter(|r| r.kind == RunKind::Baseline && r.is_main())
        .filter_map(|r| Some(r.phase_wall_s.get(calls)? / r.phase_wall_s.get(inline)?))
        .filter(|r| r.is_finite())
        .collect();
    let truth_ratio = Estimate::of(&ratios)?.median;
    let phases = &record.accuracy.as_ref()?.phases;
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

/// `inline,calls` from a workload header's `bias=` value.
pub fn parse_pair(spec: &str) -> Option<(String, String)> {
    let (a, b) = spec.split_once(',')?;
    let (a, b) = (a.trim(), b.trim());
    (!a.is_empty() && !b.is_empty()).then(|| (a.to_string(), b.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_two_names() {
        assert_eq!(
            parse_pair("inline_work, many_calls"),
            Some(("inline_work".into(), "many_calls".into()))
        );
        assert_eq!(parse_pair("only"), None);
    }

    #[test]
    fn a_tracer_that_doubles_the_call_heavy_side_is_plus_100_percent() {
        let runs: Vec<serde_json::Value> = [1.5, 1.5, 1.4]
            .iter()
            .map(|r| {
                serde_json::json!({
                    "kind": "baseline", "warmup": false, "output_bytes": null,
                    "postprocess_s": null, "accuracy": null, "note": null,
                    "phase_wall_s": {"inline_work": 1.0, "many_calls": r},
                    "measured": {"ending": {"Exited": 0}, "wall_s": 3.0, "cpu_s": null,
                        "peak_rss_bytes": null, "stdout_tail": "", "stderr_tail": "",
                        "ended_leftovers": []}})
            })
            .collect();
        let cell: CellRecord = serde_json::from_value(serde_json::json!({
            "schema": 1,
            "key": {"launcher": "direct", "workload": "calibrated", "backend": "t"},
            "platform_id": "p", "backend_description": "t", "backend_version": null,
            "status": {"state": "ok"}, "overhead": null, "accuracy_note": null,
            "output_bytes": null, "postprocess_s": null, "started": "", "finished": "",
            "accuracy": {"clock": "wall", "mae_pp": 0.0, "worst_phase": "x", "worst_pp": 0.0,
                "samples": null, "sampling_error_pp": null, "phases": [
                {"phase": "inline_work", "function": "i", "attributed_s": 1.0, "truth_s": 1.0,
                 "attributed_share": 0.0, "truth_share": 0.0, "error_pp": 0.0},
                {"phase": "many_calls", "function": "m", "attributed_s": 3.0, "truth_s": 3.0,
                 "attributed_share": 0.0, "truth_share": 0.0, "error_pp": 0.0}]},
            "runs": runs
        }))
        .unwrap();
        let b = assess(&cell, "inline_work", "many_calls").unwrap();
        assert!((b.truth_ratio - 1.5).abs() < 1e-9);
        assert!((b.attributed_ratio - 3.0).abs() < 1e-9);
        assert!((b.bias_pct - 100.0).abs() < 1e-9, "{b:?}");
    }
}
