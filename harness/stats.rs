//! Statistics for overhead: medians, a distribution-free confidence interval for the median
//! (order statistics of the binomial), and the warnings a careful reader needs.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A non-empty list of finite numbers; refuses anything else at construction.
#[derive(Debug, Clone)]
pub struct Sample(Vec<f64>);

impl Sample {
    pub fn new(values: Vec<f64>) -> Option<Sample> {
        (!values.is_empty() && values.iter().all(|v| v.is_finite())).then_some(Sample(values))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v
    }

    pub fn median(&self) -> f64 {
        let v = self.sorted();
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }

    /// Confidence interval for the median from order statistics: [x(k), x(n+1-k)] with the
    /// largest k whose binomial coverage is at least `level`. With fewer than 6 values no k
    /// reaches 95%; the interval is then [min, max] and `coverage` says what it really is.
    pub fn median_interval(&self, level: f64) -> Interval {
        let v = self.sorted();
        let n = v.len();
        let mut k = 1;
        while k < n.div_ceil(2) && coverage(n, k + 1) >= level {
            k += 1;
        }
        Interval {
            low: v[k - 1],
            high: v[n - k],
            coverage: coverage(n, k),
        }
    }
}

/// P(k <= B <= n-k) for B ~ Binomial(n, 1/2): the coverage of [x(k), x(n+1-k)].
fn coverage(n: usize, k: usize) -> f64 {
    let mut below = 0.0;
    let mut c = 1.0; // C(n, 0)
    for i in 0..k {
        below += c;
        c = c * (n - i) as f64 / (i + 1) as f64;
    }
    (1.0 - 2.0 * below / 2f64.powi(n as i32)).max(0.0)
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
    /// The interval's real coverage probability (0.95 or a bit more when there are enough values).
    pub coverage: f64,
}

/// A median with its interval, as published.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub median: f64,
    pub interval: Interval,
    pub n: usize,
}

impl Estimate {
    pub fn of(values: &[f64]) -> Option<Estimate> {
        let s = Sample::new(values.to_vec())?;
        Some(Estimate {
            median: s.median(),
            interval: s.median_interval(0.95),
            n: s.len(),
        })
    }

    /// Interval width relative to the median.
    pub fn relative_width(&self) -> f64 {
        (self.interval.high - self.interval.low) / self.median.abs().max(f64::EPSILON)
    }

    /// docs/method.md: noisy when the interval is wider than 10% of the median.
    pub fn is_noisy(&self) -> bool {
        self.relative_width() > 0.10
    }
}

/// Why a cell's numbers may not be trusted, and what to do: printed and stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Warning {
    TooFewPairs { n: usize, coverage: f64 },
    Noisy { width_pct: f64 },
    SlowFirstRun { ratio: f64 },
    Outliers { count: usize },
    OtherLoad { cores: f64 },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::TooFewPairs { n, coverage } => write!(f, "only {n} pairs: the interval covers {:.0}%, not 95%; use --runs 6 or more", coverage * 100.0),
            Warning::Noisy { width_pct } => write!(f, "noisy: the 95% interval is {width_pct:.0}% of the median; close other programs or use more --runs"),
            Warning::SlowFirstRun { ratio } => write!(f, "the first measured run was {ratio:.2}x the median of the rest (cold caches?); use more --warmup"),
            Warning::Outliers { count } => write!(f, "{count} statistical outlier(s) among the pairs: other load on the machine? rerun on a quiet machine"),
            Warning::OtherLoad { cores } => write!(f, "other programs kept {cores:.1} CPU cores busy during the cell; rerun on a quiet machine"),
        }
    }
}

/// Modified z-scores (median absolute deviation); values beyond 3.5 are outliers.
pub fn outliers(values: &[f64]) -> usize {
    let Some(s) = Sample::new(values.to_vec()) else {
        return 0;
    };
    let m = s.median();
    let Some(dev) = Sample::new(values.iter().map(|v| (v - m).abs()).collect()) else {
        return 0;
    };
    let mad = dev.median();
    if mad == 0.0 {
        return 0;
    }
    values
        .iter()
        .filter(|v| (0.6745 * (*v - m) / mad).abs() > 3.5)
        .count()
}

/// The warnings that apply to a cell's ratios (`ratios` summarises `values`).
pub fn warnings(ratios: &Estimate, values: &[f64]) -> Vec<Warning> {
    let mut w = Vec::new();
    if ratios.interval.coverage < 0.95 {
        w.push(Warning::TooFewPairs {
            n: ratios.n,
            coverage: ratios.interval.coverage,
        });
    }
    if ratios.is_noisy() {
        w.push(Warning::Noisy {
            width_pct: ratios.relative_width() * 100.0,
        });
    }
    let o = outliers(values);
    if o > 0 {
        w.push(Warning::Outliers { count: o });
    }
    w
}

/// Other programs using more than this many cores on average make a cell's timings suspect.
pub const OTHER_LOAD_CORES: f64 = 0.25;

/// hyperfine's check: the first measured run much slower than the rest (by 20% or more over
/// their median) points at cold caches that the warm-up did not fill.
pub fn slow_first_run(walls: &[f64]) -> Option<Warning> {
    let (first, rest) = walls.split_first()?;
    let rest = Estimate::of(rest).filter(|e| e.n >= 2)?;
    let ratio = first / rest.median;
    (ratio >= 1.2).then_some(Warning::SlowFirstRun { ratio })
}

/// Least-squares line y = a + b x (fixed cost a, running cost b per unit of x).
pub fn fit_line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_refuses_empty_and_nan() {
        assert!(Sample::new(vec![]).is_none());
        assert!(Sample::new(vec![1.0, f64::NAN]).is_none());
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(Sample::new(vec![3.0, 1.0, 2.0]).unwrap().median(), 2.0);
        assert_eq!(Sample::new(vec![4.0, 1.0, 2.0, 3.0]).unwrap().median(), 2.5);
    }

    #[test]
    fn coverage_matches_the_binomial() {
        // n=3, [min,max]: 1 - 2/8 = 0.75.
        assert!((coverage(3, 1) - 0.75).abs() < 1e-12);
        // n=6, [min,max]: 1 - 2/64 = 0.96875, the smallest n reaching 95%.
        assert!((coverage(6, 1) - 0.96875).abs() < 1e-12);
        assert!(coverage(5, 1) < 0.95);
    }

    #[test]
    fn interval_narrows_with_more_values() {
        let values: Vec<f64> = (1..=20).map(|i| i as f64).collect();
        let i = Sample::new(values).unwrap().median_interval(0.95);
        // n=20: k=6 gives 95.9% coverage: [x(6), x(15)].
        assert_eq!((i.low, i.high), (6.0, 15.0));
        assert!(i.coverage >= 0.95);
        let small = Sample::new(vec![1.0, 2.0, 3.0])
            .unwrap()
            .median_interval(0.95);
        assert_eq!((small.low, small.high), (1.0, 3.0));
        assert!(small.coverage < 0.95);
    }

    #[test]
    fn noisy_and_too_few_pairs_are_warned() {
        let e = Estimate::of(&[1.0, 1.5, 1.2]).unwrap();
        let w = warnings(&e, &[1.0, 1.5, 1.2]);
        assert!(w
            .iter()
            .any(|w| matches!(w, Warning::TooFewPairs { n: 3, .. })));
        assert!(w.iter().any(|w| matches!(w, Warning::Noisy { .. })));
        assert!(w[0].to_string().contains("--runs"));
        let quiet = Estimate::of(&[1.0, 1.01, 1.0, 1.02, 1.01, 1.0]).unwrap();
        assert!(warnings(&quiet, &[1.0, 1.01, 1.0, 1.02, 1.01, 1.0]).is_empty());
    }

    #[test]
    fn outliers_by_modified_z_score() {
        assert_eq!(outliers(&[1.0, 1.01, 0.99, 1.0, 5.0]), 1);
        assert_eq!(outliers(&[1.0, 1.0, 1.0]), 0);
    }

    #[test]
    fn line_fit_separates_fixed_and_running_cost() {
        let (a, b) = fit_line(&[(1.0, 3.0), (2.0, 5.0), (4.0, 9.0)]).unwrap();
        assert!((a - 1.0).abs() < 1e-9 && (b - 2.0).abs() < 1e-9);
        assert!(fit_line(&[(1.0, 1.0)]).is_none());
    }

    #[test]
    fn a_slow_first_run_is_named() {
        assert_eq!(
            slow_first_run(&[2.6, 2.0, 2.1, 1.9]),
            Some(Warning::SlowFirstRun { ratio: 1.3 })
        );
        assert_eq!(slow_first_run(&[2.1, 2.0, 2.1, 1.9]), None);
        assert_eq!(
            slow_first_run(&[5.0, 2.0]),
            None,
            "one other run is no median"
        );
    }
}
