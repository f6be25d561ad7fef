//! Ray: which processes are Ray's own services, and per-remote-function aggregates
//! (count, total, mean, p95) from the task spans the agent records in workers.

use serde::Serialize;
use std::collections::BTreeMap;

/// Whether argv is one of Ray's service processes (dashboard, log monitor, autoscaler monitor,
/// runtime-env agent, client server...) rather than a worker that runs user code.
pub fn is_ray_service(argv: &[String]) -> bool {
    let Some(script) = argv.first() else {
        return false;
    };
    let script = script.replace('\\', "/");
    // `python -m ray.xxx` style services.
    if script == "-m" || script == "-c" {
        return argv
            .get(1)
            .is_some_and(|m| m.starts_with("ray.") && !m.contains("default_worker"));
    }
    // Installed Ray only: a user's own folder called `ray/` is not a service.
    (script.contains("site-packages/ray/") || script.contains("dist-packages/ray/"))
        && !script.ends_with("/default_worker.py")
}

/// The aggregate of one remote function's tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoteFunction {
    pub name: String,
    pub count: u64,
    pub total: f64,
    pub mean: f64,
    pub p95: f64,
    pub max: f64,
    /// Distinct worker processes that ran it.
    pub workers: usize,
}

/// Aggregates `(name, pid, seconds)` task durations, largest total first.
pub fn aggregate<'a>(tasks: impl IntoIterator<Item = (&'a str, u32, f64)>) -> Vec<RemoteFunction> {
    let mut by: BTreeMap<&str, (Vec<f64>, Vec<u32>)> = BTreeMap::new();
    for (name, pid, secs) in tasks {
        let e = by.entry(name).or_default();
        e.0.push(secs);
        if !e.1.contains(&pid) {
            e.1.push(pid);
        }
    }
    let mut out: Vec<RemoteFunction> = by
        .into_iter()
        .map(|(name, (mut d, pids))| {
            d.sort_by(|a, b| a.total_cmp(b));
            let total: f64 = d.iter().sum();
            RemoteFunction {
                name: name.to_string(),
                count: d.len() as u64,
                total,
                mean: total / d.len() as f64,
                p95: percentile(&d, 0.95),
                max: *d.last().unwrap_or(&0.0),
                workers: pids.len(),
            }
        })
        .collect();
    out.sort_by(|a, b| b.total.total_cmp(&a.total));
    out
}

/// Nearest-rank percentile of sorted data.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn services_vs_workers() {
        assert!(is_ray_service(&argv(&[
            "/v/site-packages/ray/_private/log_monitor.py"
        ])));
        assert!(is_ray_service(&argv(&["-m", "ray.util.client.server"])));
        assert!(!is_ray_service(&argv(&["/home/me/ray/train.py"])));
        assert!(!is_ray_service(&argv(&[
            "/v/site-packages/ray/_private/workers/default_worker.py"
        ])));
        assert!(!is_ray_service(&argv(&["workloads/ray.py"])));
        assert!(!is_ray_service(&argv(&[])));
    }

    #[test]
    fn aggregates_count_total_mean_p95() {
        let mut tasks: Vec<(&str, u32, f64)> =
            (1..=20).map(|i| ("heavy", 1 + i % 2, i as f64)).collect();
        tasks.push(("light", 3, 0.5));
        let agg = aggregate(tasks);
        assert_eq!(agg[0].name, "heavy");
        assert_eq!(agg[0].count, 20);
        assert_eq!(agg[0].total, 210.0);
        assert_eq!(agg[0].mean, 10.5);
        assert_eq!(agg[0].p95, 19.0);
        assert_eq!(agg[0].workers, 2);
        assert_eq!(agg[1].count, 1);
    }
}
