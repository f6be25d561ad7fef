//! Actionability (Mytkowicz et al., PLDI'10; docs/method.md, "Accuracy"): one more profiled run with
//! known work added to one phase. The time the profiler attributes to that phase must grow by
//! the added work and the other phases must not move.
//!
//! Attributed seconds are first put in truth's units with the cell's own ratio (all attributed
//! seconds / all truth seconds, from the unperturbed runs), so a profiler that inflates or
//! shrinks every phase alike (a tracer's cost, a sampler that falls behind) is judged on where
//! it puts the added time, not on its time unit. Growth is compared with the truth's own
//! growth between the runs, in the backend's clock.

use crate::accuracy::Accuracy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Actionability {
    pub phase: String,
    /// How the perturbed run was asked for (`PHASE:SECONDS`).
    pub perturbation: String,
    /// Growth of the phase's truth between the cell's runs and the perturbed run, seconds.
    pub truth_growth_s: f64,
    /// Growth the profiler attributed to it, in truth's units, seconds.
    pub attributed_growth_s: f64,
    /// (attributed − truth growth) / truth growth, percent.
    pub error_pct: f64,
    /// The other phase that moved most beyond its own truth, and by how much (seconds).
    pub other_phase: Option<String>,
    pub other_drift_s: f64,
}

/// `base`: the cell's combined accuracy; `perturbed`: the perturbed run's.
pub fn assess(spec: &str, base: &Accuracy, perturbed: &Accuracy) -> Result<Actionability, String> {
    let phase = spec.split(':').next().unwrap_or(spec).to_string();
    let attributed: f64 = base.phases.iter().map(|p| p.attributed_s).sum();
    let truth: f64 = base.phases.iter().map(|p| p.truth_s).sum();
    if attributed <= 0.0 || truth <= 0.0 {
        return Err("no attributed time in the unperturbed runs".into());
    }
    let unit = attributed / truth;
    let mut target = None;
    let mut other: Option<(String, f64)> = None;
    for b in &base.phases {
        let Some(p) = perturbed.phases.iter().find(|p| p.phase == b.phase) else {
            return Err(format!("phase {} missing from the perturbed run", b.phase));
        };
        let grew = (p.attributed_s - b.attributed_s) / unit;
        let truly = p.truth_s - b.truth_s;
        if b.phase == phase {
            target = Some((grew, truly));
        } else if other
            .as_ref()
            .is_none_or(|o| (grew - truly).abs() > o.1.abs())
        {
            other = Some((b.phase.clone(), grew - truly));
        }
    }
    let Some((grew, truly)) = target else {
        return Err(format!(
            "the perturbed phase {phase} is not among the cell's phases"
        ));
    };
    if truly <= 0.0 {
        return Err(format!(
            "the perturbation did not make {phase} longer in this clock"
        ));
    }
    Ok(Actionability {
        phase,
        perturbation: spec.to_string(),
        truth_growth_s: truly,
        attributed_growth_s: grew,
        error_pct: (grew - truly) / truly * 100.0,
        other_drift_s: other.as_ref().map(|o| o.1.abs()).unwrap_or(0.0),
        other_phase: other.map(|o| o.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accuracy::PhaseAccuracy;
    use profbench_profilers::Clock;

    fn acc(phases: &[(&str, f64, f64)]) -> Accuracy {
        Accuracy {
            clock: Clock::Cpu,
            phases: phases
                .iter()
                .map(|(n, a, t)| PhaseAccuracy {
                    phase: n.to_string(),
                    function: n.to_string(),
                    attributed_s: *a,
                    truth_s: *t,
                    attributed_share: 0.0,
                    truth_share: 0.0,
                    error_pp: 0.0,
                })
                .collect(),
            mae_pp: 0.0,
            worst_phase: String::new(),
            worst_pp: 0.0,
            samples: None,
            sampling_error_pp: None,
            rate_hz: None,
            asked_hz: None,
            missed_samples: None,
        }
    }

    #[test]
    fn a_uniformly_inflating_profiler_that_puts_the_work_right_is_exact() {
        // Attributes 2× every truth; 0.4 s added to c shows as 0.8 s: right, in its unit.
        let base = acc(&[("a", 2.0, 1.0), ("c", 1.0, 0.5)]);
        let pert = acc(&[("a", 2.0, 1.0), ("c", 1.8, 0.9)]);
        let a = assess("c:0.4", &base, &pert).unwrap();
        assert!(a.error_pct.abs() < 1e-9, "{a:?}");
        assert!(a.other_drift_s.abs() < 1e-9);
        assert_eq!(a.other_phase.as_deref(), Some("a"));
    }

    #[test]
    fn added_work_charged_to_another_phase_is_an_error() {
        // Half of the 0.4 s lands in a: c grows 0.2 s (−50%), a drifts 0.2 s.
        let base = acc(&[("a", 1.0, 1.0), ("c", 0.5, 0.5)]);
        let pert = acc(&[("a", 1.2, 1.0), ("c", 0.7, 0.9)]);
        let a = assess("c:0.4", &base, &pert).unwrap();
        assert!((a.error_pct + 50.0).abs() < 1e-9, "{a:?}");
        assert!((a.other_drift_s - 0.2).abs() < 1e-9);
    }

    #[test]
    fn an_unknown_phase_is_explained() {
        let base = acc(&[("a", 1.0, 1.0)]);
        assert!(assess("zz:1", &base, &base).unwrap_err().contains("zz"));
    }
}
