//! A profiler's cost split into a fixed part (start, attach, writing the output) and a running
//! part (per second of workload), from the same cell run at several lengths (docs/method.md,
//! "Overhead"; `matrix --lengths 1,3` on workloads marked `# profbench: scalable`).
//!
//! At each length the extra seconds of a pair are profiled wall − baseline wall; their median
//! against the baseline's median wall gives one point, and a least-squares line through the
//! points gives extra = fixed + running × workload seconds.

use crate::stats::{fit_line, Estimate};
use serde::{Deserialize, Serialize};

/// One length: the work multiplier, the baseline's median wall and the median extra seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LengthPoint {
    pub scale: f64,
    pub baseline_s: f64,
    pub extra_s: f64,
    pub pairs: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CostSplit {
    pub points: Vec<LengthPoint>,
    /// Seconds a run costs whatever its length (the line's intercept).
    pub fixed_s: f64,
    /// Extra seconds per second of workload (the line's slope): 0.05 = 5% slower while running.
    pub running: f64,
    /// Samplers: the running cost per sample taken, microseconds (running / samples per second).
    pub per_sample_us: Option<f64>,
}

/// The variant label of runs made at a length other than 1.
pub fn variant(scale: f64) -> String {
    format!("scale={scale}")
}

/// The point of one length from its measured pairs: (baseline wall, profiled wall) seconds
/// of each pair whose two runs succeeded.
pub fn point(scale: f64, pairs: &[(f64, f64)]) -> Option<LengthPoint> {
    let baseline = Estimate::of(&pairs.iter().map(|p| p.0).collect::<Vec<_>>())?;
    let extra = Estimate::of(&pairs.iter().map(|p| p.1 - p.0).collect::<Vec<_>>())?;
    Some(LengthPoint {
        scale,
        baseline_s: baseline.median,
        extra_s: extra.median,
        pairs: pairs.len(),
    })
}

/// The split from two or more lengths; `rate_hz`: samples per second the sampler achieved.
pub fn split(mut points: Vec<LengthPoint>, rate_hz: Option<f64>) -> Option<CostSplit> {
    points.sort_by(|a, b| a.scale.total_cmp(&b.scale));
    if points.len() < 2 {
        return None;
    }
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.baseline_s, p.extra_s)).collect();
    let (fixed_s, running) = fit_line(&xy)?;
    Some(CostSplit {
        points,
        fixed_s,
        running,
        per_sample_us: rate_hz.filter(|r| *r > 0.0).map(|r| running / r * 1e6),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(scale: f64, baseline_s: f64, extra_s: f64) -> LengthPoint {
        LengthPoint {
            scale,
            baseline_s,
            extra_s,
            pairs: 6,
        }
    }

    #[test]
    fn a_line_through_two_lengths_splits_the_cost() {
        // 0.3 s to start and write, then 10% while running; 100 samples/s: 1 ms per sample.
        let s = split(vec![p(3.0, 6.0, 0.9), p(1.0, 2.0, 0.5)], Some(100.0)).unwrap();
        assert!((s.fixed_s - 0.3).abs() < 1e-9, "{s:?}");
        assert!((s.running - 0.1).abs() < 1e-9);
        assert!((s.per_sample_us.unwrap() - 1000.0).abs() < 1e-6);
        assert_eq!(s.points[0].scale, 1.0, "sorted by length");
    }

    #[test]
    fn one_length_is_not_a_split() {
        assert!(split(vec![p(1.0, 2.0, 0.5)], None).is_none());
    }
}
