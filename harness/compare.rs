//! `profbench compare A B`: is a matrix reproducible? For every cell both runs finished, whether
//! each run's overhead median lies inside the other's 95% interval.

use crate::results::{CellKey, CellRecord, RunDir};
use crate::stats::Estimate;
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    pub key: CellKey,
    pub a: Estimate,
    pub b: Estimate,
    /// Each median lies inside the other run's interval.
    pub agree: bool,
}

fn ratios(cells: Vec<CellRecord>) -> BTreeMap<CellKey, Estimate> {
    cells
        .into_iter()
        .filter(|c| !c.key.is_baseline())
        .filter_map(|c| Some((c.key, c.overhead?.wall?)))
        .collect()
}

fn inside(x: f64, e: &Estimate) -> bool {
    e.interval.low <= x && x <= e.interval.high
}

/// Pairs up the cells two run folders share and says whether their medians agree.
pub fn compare(a: &Path, b: &Path) -> Result<Vec<Agreement>> {
    let load = |p: &Path| -> Result<BTreeMap<CellKey, Estimate>> {
        let dir = RunDir {
            root: p.to_path_buf(),
        };
        dir.read_info()?;
        Ok(ratios(dir.read_cells().0))
    };
    let (ra, rb) = (load(a)?, load(b)?);
    let shared: Vec<Agreement> = ra
        .iter()
        .filter_map(|(k, ea)| {
            let eb = rb.get(k)?;
            Some(Agreement {
                key: k.clone(),
                a: *ea,
                b: *eb,
                agree: inside(ea.median, eb) && inside(eb.median, ea),
            })
        })
        .collect();
    if shared.is_empty() {
        bail!(
            "{} and {} have no finished profiled cell in common",
            a.display(),
            b.display()
        );
    }
    Ok(shared)
}

/// The printed report: one line per cell and the share that agrees.
pub fn render(rows: &[Agreement]) -> String {
    let mut out = String::new();
    for r in rows {
        let k = &r.key;
        out.push_str(&format!(
            "{:<5} {} / {} / {}: {:.3} [{:.3}, {:.3}] vs {:.3} [{:.3}, {:.3}]\n",
            if r.agree { "same" } else { "DIFF" },
            k.launcher,
            k.workload,
            k.backend,
            r.a.median,
            r.a.interval.low,
            r.a.interval.high,
            r.b.median,
            r.b.interval.low,
            r.b.interval.high,
        ));
    }
    let agree = rows.iter().filter(|r| r.agree).count();
    out.push_str(&format!(
        "{agree} of {} cells ({:.0}%) have each overhead median inside the other run's 95% interval\n",
        rows.len(),
        100.0 * agree as f64 / rows.len() as f64
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Interval;

    fn est(m: f64, lo: f64, hi: f64) -> Estimate {
        Estimate {
            median: m,
            interval: Interval {
                low: lo,
                high: hi,
                coverage: 0.95,
            },
            n: 6,
        }
    }

    #[test]
    fn agreement_needs_both_medians_inside() {
        assert!(inside(1.0, &est(1.02, 0.98, 1.05)));
        let key = CellKey {
            launcher: "direct".into(),
            workload: "w".into(),
            backend: "b".into(),
        };
        let rows = vec![
            Agreement {
                key: key.clone(),
                a: est(1.0, 0.9, 1.1),
                b: est(1.05, 1.0, 1.2),
                agree: true,
            },
            Agreement {
                key,
                a: est(1.0, 0.99, 1.01),
                b: est(1.5, 1.4, 1.6),
                agree: false,
            },
        ];
        let text = render(&rows);
        assert!(text.contains("1 of 2 cells (50%)"), "{text}");
        assert!(text.contains("DIFF"));
    }
}
