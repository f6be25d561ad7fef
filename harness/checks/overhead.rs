//! Axis 7, overhead of the distributed workload.

use super::distributed::distributed_only;
use super::{na, Decided, Inputs, Verdict};

/// Axis 7, overhead, on the distributed workload's wall ratio (profiled / baseline; median and
/// 95% interval from stats.rs). profbench's thresholds: median ≤ 1.10 and not noisy
/// (interval ≤ 10% of the median) → pass; median ≤ 1.50, or ≤ 1.10 but noisy → partial;
/// median > 1.50 → fail, noisy or not. No ratio (baseline or runs missing) → not-applicable.
pub fn overhead(inputs: &Inputs) -> Decided {
    if let Some(na) = distributed_only(inputs) {
        return na;
    }
    let Some(r) = inputs.wall_ratio else {
        return na("no wall ratio for this cell (baseline or profiled runs missing)");
    };
    let noisy = r.is_noisy();
    // Too few pairs for a 95% interval cannot show the cost is small, only suggest it.
    let too_few = r.interval.coverage < 0.95;
    let ev = format!(
        "median wall ratio {:.3} (interval {:.3}–{:.3} covering {:.0}%, n={}{})",
        r.median,
        r.interval.low,
        r.interval.high,
        r.interval.coverage * 100.0,
        r.n,
        if noisy { ", noisy" } else { "" }
    );
    if r.median > 1.5 {
        (Verdict::Fail, ev)
    } else if r.median <= 1.10 && !noisy && !too_few {
        (Verdict::Pass, ev)
    } else {
        (Verdict::Partial, ev)
    }
}
