//! Growth with input size: the program is run at several sizes and each function's time is
//! fitted to time = c · size^k by least squares on log-log axes; k is the exponent (1 linear,
//! 2 quadratic) and R² says how well a power law describes the points.

use super::account::{Accounts, FuncKey};
use serde::Serialize;

/// A function's fitted exponent.
#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    pub exponent: f64,
    /// Coefficient of determination of the log-log fit (1 = every point on the line).
    pub r2: f64,
    /// (size, seconds) the fit used: the function's inclusive CPU at each size.
    pub points: Vec<(f64, f64)>,
}

/// Least squares of log(y) on log(x); None with fewer than two usable points or one size.
pub fn fit(points: &[(f64, f64)]) -> Option<Growth> {
    let usable: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(x, y)| x > 0.0 && y > 0.0)
        .collect();
    if usable.len() < 2 {
        return None;
    }
    let logs: Vec<(f64, f64)> = usable.iter().map(|&(x, y)| (x.ln(), y.ln())).collect();
    let n = logs.len() as f64;
    let mx = logs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = logs.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = logs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = logs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let syy: f64 = logs.iter().map(|p| (p.1 - my).powi(2)).sum();
    let sse: f64 = logs
        .iter()
        .map(|p| (p.1 - (my + slope * (p.0 - mx))).powi(2))
        .sum();
    let r2 = if syy > 0.0 { 1.0 - sse / syy } else { 1.0 };
    Some(Growth {
        exponent: slope,
        r2,
        points: usable,
    })
}

/// Fits every function seen at two sizes or more. A function absent at a size gets no point
/// there (too short to be sampled), not a zero. Runs repeated at one size give one point: the
/// least CPU (other load on the machine only ever slows a run down, as pyperf's minimum).
pub fn fit_all(runs: &[(f64, &Accounts)]) -> Vec<(FuncKey, Growth)> {
    let mut keys: Vec<FuncKey> = Vec::new();
    for (_, acc) in runs {
        for k in &acc.funcs {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys.into_iter()
        .filter_map(|key| {
            let mut points: Vec<(f64, f64)> = Vec::new();
            for (size, acc) in runs {
                let Some(i) = acc.funcs.iter().position(|k| *k == key) else {
                    continue;
                };
                let cpu = acc.tallies[i].inclusive_cpu;
                match points.iter_mut().find(|p| p.0 == *size) {
                    Some(p) => p.1 = p.1.min(cpu),
                    None => points.push((*size, cpu)),
                }
            }
            fit(&points).map(|g| (key, g))
        })
        .collect()
}

/// Parses `--sizes 1000,2000,4000`: positive numbers, at least two different ones.
pub fn parse_sizes(list: &[String]) -> Result<Vec<f64>, String> {
    let mut sizes = Vec::new();
    for s in list {
        match s.trim().parse::<f64>() {
            Ok(v) if v > 0.0 && v.is_finite() => sizes.push(v),
            _ => {
                return Err(format!(
                    "'{s}' is not a size: give positive numbers, e.g. --sizes 1000,2000,4000"
                ))
            }
        }
    }
    let mut distinct = sizes.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    if distinct.len() < 2 {
        return Err(
            "--sizes needs at least two different sizes, e.g. --sizes 1000,2000,4000".into(),
        );
    }
    Ok(sizes)
}

/// How a size is written into an argument or variable: integers without a decimal point.
pub fn size_text(size: f64) -> String {
    if size.fract() == 0.0 && size.abs() < 1e15 {
        format!("{}", size as i64)
    } else {
        format!("{size}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_law_gives_exponent_two() {
        let g = fit(&[(100.0, 0.01), (200.0, 0.04), (400.0, 0.16)]).unwrap();
        assert!((g.exponent - 2.0).abs() < 1e-9);
        assert!((g.r2 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn noise_lowers_r2_and_missing_points_are_skipped() {
        let g = fit(&[(1.0, 1.0), (2.0, 2.5), (4.0, 3.5), (8.0, 9.0), (16.0, 0.0)]).unwrap();
        assert_eq!(g.points.len(), 4);
        assert!(g.r2 < 0.99 && g.r2 > 0.8, "{g:?}");
        assert!(fit(&[(1.0, 1.0)]).is_none());
        assert!(fit(&[(2.0, 1.0), (2.0, 3.0)]).is_none());
    }

    #[test]
    fn sizes_are_checked_with_a_fix_in_the_message() {
        assert_eq!(
            parse_sizes(&["10".into(), "20".into()]).unwrap(),
            vec![10.0, 20.0]
        );
        assert!(parse_sizes(&["10".into()]).unwrap_err().contains("two"));
        assert!(parse_sizes(&["x".into(), "2".into()])
            .unwrap_err()
            .contains("e.g."));
        assert_eq!(size_text(1000.0), "1000");
        assert_eq!(size_text(2.5), "2.5");
    }
}
