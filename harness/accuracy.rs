//! Accuracy against ground truth (docs/method.md, "Accuracy"): each phase's attributed share of
//! the phase functions' time versus its truth share, in the backend's own clock.

use crate::workload::Truth;
use profbench_profilers::{Clock, Profile};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseAccuracy {
    pub phase: String,
    pub function: String,
    /// Seconds the backend attributes to the phase function (inclusive).
    pub attributed_s: f64,
    pub truth_s: f64,
    pub attributed_share: f64,
    pub truth_share: f64,
    /// |attributed share - truth share| in percentage points.
    pub error_pp: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Accuracy {
    pub clock: Clock,
    pub phases: Vec<PhaseAccuracy>,
    /// Mean absolute error over phases, pp.
    pub mae_pp: f64,
    pub worst_phase: String,
    pub worst_pp: f64,
    /// Samplers: samples that fell in phase functions, and the 95% error (pp) that this
    /// count alone implies for a share near the worst phase's.
    pub samples: Option<u64>,
    pub sampling_error_pp: Option<f64>,
    /// Samplers: samples per second the backend took in CPU-bound phases (where every sampler
    /// mode samples, idle-dropping ones too), the rate it was asked for, and the samples it
    /// says it missed. A sampler that falls behind is biased, not slow.
    #[serde(default)]
    pub rate_hz: Option<f64>,
    #[serde(default)]
    pub asked_hz: Option<f64>,
    #[serde(default)]
    pub missed_samples: Option<u64>,
}

/// A phase is CPU-bound when its thread was on a CPU for at least this share of its wall time.
const CPU_BOUND: f64 = 0.9;

/// Why accuracy could not be computed for a run.
pub type NoAccuracy = String;

/// Compares a parsed profile with the same run's truth.
pub fn assess(profile: &Profile, truth: &Truth, is_sampler: bool) -> Result<Accuracy, NoAccuracy> {
    if profile.clock == Clock::None {
        return Err("memory-only backend: no time attribution".into());
    }
    if truth.phases.len() < 2 {
        return Err("fewer than two phases: shares are trivially 100%".into());
    }
    if let Some(p) = truth.phases.iter().find(|p| p.function.is_empty()) {
        return Err(format!(
            "phase '{}' names no function: mark it `with phase(\"{}\", the_function):` to compare attributions",
            p.name, p.name
        ));
    }
    let mut attributed = Vec::new();
    let mut truths = Vec::new();
    let (mut bound_samples, mut bound_s) = (0u64, 0.0);
    for p in &truth.phases {
        let file = Path::new(&p.file)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned());
        // The qualname's last part is what profilers print.
        let func = p.function.rsplit('.').next().unwrap_or(&p.function);
        attributed.push(profile.inclusive_seconds(func, file.as_deref()));
        let truth_s = match profile.clock {
            Clock::Cpu => p.cpu_thread_ns as f64 / 1e9,
            _ => p.wall_ns as f64 / 1e9,
        };
        truths.push(truth_s);
        if p.wall_ns > 0 && p.cpu_thread_ns as f64 >= CPU_BOUND * p.wall_ns as f64 {
            bound_samples += profile.inclusive_samples(func, file.as_deref());
            bound_s += truth_s;
        }
    }
    let total_attr: f64 = attributed.iter().sum();
    let total_truth: f64 = truths.iter().sum();
    if total_attr <= 0.0 {
        return Err("the profile attributes no time to any phase function".into());
    }
    if total_truth <= 0.0 {
        return Err("the truth has no time in this clock".into());
    }
    let phases: Vec<PhaseAccuracy> = truth
        .phases
        .iter()
        .zip(attributed.iter().zip(&truths))
        .map(|(p, (&a, &t))| {
            let (sa, st) = (a / total_attr, t / total_truth);
            PhaseAccuracy {
                phase: p.name.clone(),
                function: p.function.clone(),
                attributed_s: a,
                truth_s: t,
                attributed_share: sa,
                truth_share: st,
                error_pp: (sa - st).abs() * 100.0,
            }
        })
        .collect();
    let mae_pp = phases.iter().map(|p| p.error_pp).sum::<f64>() / phases.len() as f64;
    let worst = phases
        .iter()
        .max_by(|a, b| a.error_pp.total_cmp(&b.error_pp))
        .unwrap();
    let sampled = is_sampler && profile.sample_count() > 0;
    let (samples, sampling_error_pp) = if sampled {
        // Samples in phase functions, estimated from their time share of all sampled time.
        let n = (profile.sample_count() as f64
            * (total_attr / profile.sampled_seconds().max(f64::EPSILON)).min(1.0))
        .round();
        let p = worst.truth_share;
        (
            Some(n as u64),
            Some(1.96 * (p * (1.0 - p) / n.max(1.0)).sqrt() * 100.0),
        )
    } else {
        (None, None)
    };
    Ok(Accuracy {
        clock: profile.clock,
        mae_pp,
        worst_phase: worst.phase.clone(),
        worst_pp: worst.error_pp,
        phases,
        samples,
        sampling_error_pp,
        rate_hz: (sampled && bound_s > 0.0).then(|| bound_samples as f64 / bound_s),
        asked_hz: profile
            .interval
            .filter(|i| *i > 0.0 && sampled)
            .map(|i| 1.0 / i),
        missed_samples: profile.missed_samples.filter(|_| sampled),
    })
}

fn median_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    crate::stats::Estimate::of(&values.collect::<Vec<_>>()).map(|e| e.median)
}

/// A cell's accuracy from its measured runs': per phase, matched by name, the median of each
/// field over the runs that have the phase; MAE and worst phase over those phases; the
/// sampler's figures (samples, their error, achieved and asked rates, missed samples) as
/// medians over the runs too, so that no one run speaks for the cell.
pub fn combine(runs: &[&Accuracy]) -> Option<Accuracy> {
    let first = runs.first()?;
    let mut names: Vec<(&str, &str)> = Vec::new();
    for p in runs.iter().flat_map(|a| &a.phases) {
        if !names.iter().any(|(n, _)| *n == p.phase) {
            names.push((&p.phase, &p.function));
        }
    }
    let phases: Vec<PhaseAccuracy> = names
        .into_iter()
        .map(|(name, function)| {
            let of = |f: &dyn Fn(&PhaseAccuracy) -> f64| {
                median_of(
                    runs.iter()
                        .filter_map(|a| a.phases.iter().find(|p| p.phase == name))
                        .map(f),
                )
                .unwrap_or(0.0)
            };
            PhaseAccuracy {
                phase: name.to_string(),
                function: function.to_string(),
                attributed_s: of(&|x| x.attributed_s),
                truth_s: of(&|x| x.truth_s),
                attributed_share: of(&|x| x.attributed_share),
                truth_share: of(&|x| x.truth_share),
                error_pp: of(&|x| x.error_pp),
            }
        })
        .collect();
    let mae_pp = phases.iter().map(|p| p.error_pp).sum::<f64>() / phases.len().max(1) as f64;
    let worst = phases
        .iter()
        .max_by(|a, b| a.error_pp.total_cmp(&b.error_pp))?;
    let count = |f: &dyn Fn(&Accuracy) -> Option<u64>| {
        median_of(runs.iter().filter_map(|a| f(a).map(|m| m as f64))).map(|m| m.round() as u64)
    };
    Some(Accuracy {
        clock: first.clock,
        worst_phase: worst.phase.clone(),
        worst_pp: worst.error_pp,
        mae_pp,
        samples: count(&|a| a.samples),
        sampling_error_pp: median_of(runs.iter().filter_map(|a| a.sampling_error_pp)),
        rate_hz: median_of(runs.iter().filter_map(|a| a.rate_hz)),
        asked_hz: median_of(runs.iter().filter_map(|a| a.asked_hz)),
        missed_samples: count(&|a| a.missed_samples),
        phases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::PhaseTruth;
    use profbench_profilers::{Frame, FunctionStat};

    fn phase(name: &str, func: &str, wall_s: f64, cpu_s: f64) -> PhaseTruth {
        PhaseTruth {
            name: name.into(),
            function: func.into(),
            file: "/w/single.py".into(),
            line: 1,
            start_ns: 0,
            end_ns: 0,
            wall_ns: (wall_s * 1e9) as i64,
            cpu_process_ns: (cpu_s * 1e9) as i64,
            cpu_thread_ns: (cpu_s * 1e9) as i64,
            tracemalloc_peak_bytes: None,
            rss_peak_bytes: None,
        }
    }

    fn truth() -> Truth {
        Truth {
            schema: 1,
            workload: "single".into(),
            pid: 1,
            python: "3.11".into(),
            phases: vec![
                phase("loop", "pattern_heavy_loop", 3.0, 3.0),
                phase("io", "pattern_io_bound", 1.0, 0.0),
            ],
            tasks: vec![],
            tasks_file: None,
        }
    }

    fn profile(clock: Clock, loop_s: f64, io_s: f64) -> Profile {
        let mut p = Profile::new(clock);
        for (i, (f, s)) in [("pattern_heavy_loop", loop_s), ("pattern_io_bound", io_s)]
            .into_iter()
            .enumerate()
        {
            p.frames.push(Frame {
                file: "/elsewhere/single.py".into(),
                function: f.into(),
                line: 1,
            });
            p.functions.push(FunctionStat {
                frame: i as u32,
                calls: 1,
                primitive_calls: 1,
                inclusive: s,
                exclusive: s,
            });
        }
        p
    }

    #[test]
    fn exact_attribution_has_zero_error() {
        let a = assess(&profile(Clock::Wall, 6.0, 2.0), &truth(), false).unwrap();
        assert!(a.mae_pp < 1e-9, "{a:?}");
    }

    #[test]
    fn wrong_share_is_measured_in_points() {
        // Attributes 50/50 where truth says 75/25: 25 pp on both phases.
        let a = assess(&profile(Clock::Wall, 1.0, 1.0), &truth(), false).unwrap();
        assert!((a.mae_pp - 25.0).abs() < 1e-9);
        assert!((a.worst_pp - 25.0).abs() < 1e-9);
    }

    #[test]
    fn cpu_backends_are_compared_with_cpu_truth() {
        // In CPU time the io phase is 0: a CPU profiler giving it nothing is right.
        let a = assess(&profile(Clock::Cpu, 3.0, 0.0), &truth(), false).unwrap();
        assert!(a.mae_pp < 1e-9);
    }

    #[test]
    fn no_attribution_is_an_explained_failure() {
        assert!(assess(&profile(Clock::Wall, 0.0, 0.0), &truth(), false)
            .unwrap_err()
            .contains("no time"));
    }

    fn run_of(phases: &[(&str, f64)], samples: u64, rate: f64) -> Accuracy {
        let phases: Vec<PhaseAccuracy> = phases
            .iter()
            .map(|(name, err)| PhaseAccuracy {
                phase: name.to_string(),
                function: format!("f_{name}"),
                attributed_s: 1.0,
                truth_s: 1.0,
                attributed_share: 0.5,
                truth_share: 0.5,
                error_pp: *err,
            })
            .collect();
        Accuracy {
            clock: Clock::Wall,
            worst_phase: phases[0].phase.clone(),
            worst_pp: phases[0].error_pp,
            mae_pp: 0.0,
            phases,
            samples: Some(samples),
            sampling_error_pp: Some(samples as f64 / 100.0),
            rate_hz: Some(rate),
            asked_hz: Some(100.0),
            missed_samples: None,
        }
    }

    #[test]
    fn runs_combine_by_phase_name_and_medians_of_every_figure() {
        // The second run lists its phases in another order and lacks one.
        let a = run_of(&[("a", 1.0), ("b", 3.0)], 100, 90.0);
        let b = run_of(&[("b", 5.0), ("a", 2.0)], 300, 100.0);
        let c = run_of(&[("a", 9.0)], 200, 95.0);
        let cell = combine(&[&a, &b, &c]).unwrap();
        let err = |n: &str| cell.phases.iter().find(|p| p.phase == n).unwrap().error_pp;
        assert_eq!(err("a"), 2.0);
        assert_eq!(err("b"), 4.0);
        assert_eq!((cell.worst_phase.as_str(), cell.worst_pp), ("b", 4.0));
        assert_eq!(cell.mae_pp, 3.0);
        assert_eq!(cell.samples, Some(200));
        assert_eq!(cell.sampling_error_pp, Some(2.0));
        assert_eq!(cell.rate_hz, Some(95.0));
        assert_eq!(combine(&[]), None);
    }
}
