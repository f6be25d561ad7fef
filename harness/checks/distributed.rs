//! The distributed axes that look at worker processes: 6 (cross-process), 9 (timeline) and
//! 10 (aggregation), and what axes 6–10 share: which workloads they apply to and which frames
//! are the remote functions'.

use super::frames::{
    calls_of, frames_named, frames_named_any, is, pid_list, sampled_under, span_function,
};
use super::{na, no_profile, Decided, Inputs, Verdict};
use profbench_profilers::Profile;
use std::collections::{BTreeMap, BTreeSet};

/// Axes 6–10 apply to workloads whose header names remote functions (`remote=`).
pub(super) fn distributed_only(inputs: &Inputs) -> Option<Decided> {
    inputs.targets.remote.is_empty().then(|| {
        na(format!(
            "workload {} names no remote functions (header remote=): no worker processes",
            inputs.workload
        ))
    })
}

/// Frames of the workload's remote functions.
pub(super) fn remote_mask(p: &Profile, remote: &[String]) -> Vec<bool> {
    frames_named_any(p, remote)
}

pub(super) fn is_remote_span(name: &str, remote: &[String]) -> bool {
    let f = span_function(name);
    remote.iter().any(|r| Profile::function_matches(f, r))
}

/// Axis 6, cross-process. The remote functions' own frames (header `remote=`) in samples or
/// spans of a pid other than the driver's (truth.pid) → pass; seen only in call records, which carry no pid → partial;
/// only in the driver, or not at all → fail.
pub fn cross_process(inputs: &Inputs) -> Decided {
    if let Some(na) = distributed_only(inputs) {
        return na;
    }
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let driver = inputs.truth.map(|t| t.pid);
    let mask = remote_mask(p, &inputs.targets.remote);
    let mut found: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for s in &p.samples {
        if let Some(&i) = s.stack.iter().find(|&&i| is(&mask, i)) {
            found
                .entry(p.frames[i as usize].function.clone())
                .or_default()
                .insert(s.pid);
        }
    }
    // Ray's own tools may name a worker by its Ray worker id instead of an OS pid (pid 0,
    // tid = the id's row): a task span there ran in that worker.
    let mut ray_workers: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for sp in &p.spans {
        if is_remote_span(&sp.name, &inputs.targets.remote) {
            let f = span_function(&sp.name).to_string();
            if sp.pid == 0 && sp.tid != 0 {
                ray_workers.entry(f).or_default().insert(sp.tid);
            } else {
                found.entry(f).or_default().insert(sp.pid);
            }
        }
    }
    if found.is_empty() && !ray_workers.is_empty() {
        let names: Vec<String> = ray_workers
            .iter()
            .map(|(f, ids)| format!("{f} in {} Ray worker(s)", ids.len()))
            .collect();
        return (
            Verdict::Pass,
            format!(
                "task spans of {} (workers named by Ray worker id, no OS pid; no stacks inside)",
                names.join(", ")
            ),
        );
    }
    let workers: BTreeSet<u32> = found
        .values()
        .flatten()
        .copied()
        .filter(|&pid| Some(pid) != driver)
        .collect();
    let driver_s = driver.map_or("unknown".to_string(), |d| d.to_string());
    if !workers.is_empty() {
        let names: Vec<String> = found
            .iter()
            .map(|(f, pids)| {
                let n = pids.iter().filter(|&&x| Some(x) != driver).count();
                format!("{f} in {n} worker pid(s)")
            })
            .collect();
        return (
            Verdict::Pass,
            format!(
                "{} ({}; driver {driver_s})",
                names.join(", "),
                pid_list(&workers)
            ),
        );
    }
    if !found.is_empty() {
        return (
            Verdict::Fail,
            format!(
                "{} seen only in the driver (pid {driver_s})",
                found.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    if let Some((calls, _, _)) = calls_of(p, &mask) {
        return (
            Verdict::Partial,
            format!("remote functions in call records ({calls} calls) with no process id"),
        );
    }
    (
        Verdict::Fail,
        format!(
            "no frame of {} in any process (driver pid {driver_s} only)",
            inputs.targets.remote.join("/")
        ),
    )
}

/// Axis 9, timeline: timestamped per-worker activity, enough for a Gantt chart, in the right
/// place. Spans (start < end) or samples with a `time` in ≥ 2 workers (pids of the tasks ≠
/// the driver's truth.pid, or Ray worker ids of remote-function spans), and the task spans set
/// against the tasks' own truth (ray_truth::span_errors): ≥ 90% of the tasks matched with
/// median start and end errors ≤ SPAN_TOLERANCE_MS → pass; larger errors, or no task span
/// with an absolute time when the truth has tasks → partial; timestamps in the driver or a
/// single worker only → partial; no timestamps → fail. A truth without tasks is not scored.
pub fn timeline(inputs: &Inputs) -> Decided {
    if let Some(na) = distributed_only(inputs) {
        return na;
    }
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let driver = inputs.truth.map(|t| t.pid);
    let mut pids: BTreeMap<u32, usize> = BTreeMap::new();
    for sp in p.spans.iter().filter(|s| s.end > s.start) {
        *pids.entry(sp.pid).or_default() += 1;
    }
    let spans = pids.values().sum::<usize>();
    for s in p.samples.iter().filter(|s| s.time.is_some()) {
        *pids.entry(s.pid).or_default() += 1;
    }
    let timed = pids.values().sum::<usize>();
    if timed == 0 {
        return (
            Verdict::Fail,
            format!(
                "no timestamps: {} spans, {} samples without time",
                p.spans.len(),
                p.samples.len()
            ),
        );
    }
    // Workers are the processes the remote tasks ran in, by their own truth lines; Ray's
    // other Python processes (dashboard, agents) are not a per-worker timeline.
    let task_pids: BTreeSet<u32> = inputs
        .truth
        .map(|t| t.tasks.iter().map(|k| k.pid).collect())
        .unwrap_or_default();
    let workers: BTreeSet<u32> = pids
        .keys()
        .copied()
        .filter(|&pid| {
            pid != 0 && Some(pid) != driver && (task_pids.is_empty() || task_pids.contains(&pid))
        })
        .collect();
    // Workers named by Ray worker id (pid 0): those that ran a remote function's task.
    let ray_workers: BTreeSet<u64> = p
        .spans
        .iter()
        .filter(|s| {
            s.pid == 0
                && s.tid != 0
                && s.end > s.start
                && is_remote_span(&s.name, &inputs.targets.remote)
        })
        .map(|s| s.tid)
        .collect();
    let driver_s = driver.map_or("unknown".to_string(), |d| d.to_string());
    let by_id = if ray_workers.is_empty() {
        String::new()
    } else {
        format!(" and {} Ray worker id(s)", ray_workers.len())
    };
    let ev = format!(
        "{spans} spans and {} timed samples in {} worker pid(s) of the tasks [{}]{by_id} and the driver ({driver_s}: {})",
        timed - spans,
        workers.len(),
        pid_list(&workers),
        driver.and_then(|d| pids.get(&d)).copied().unwrap_or(0)
    );
    if workers.len() + ray_workers.len() < 2 {
        return (Verdict::Partial, ev);
    }
    // Enough for a Gantt chart; right only if the task spans sit where the tasks ran.
    let has_task_times = inputs.truth.is_some_and(|t| !t.tasks.is_empty());
    match inputs
        .truth
        .and_then(|t| crate::ray_truth::span_errors(p, t))
    {
        Some(e)
            if e.matched * 10 >= e.truth_tasks * 9
                && e.median_start_ms <= SPAN_TOLERANCE_MS
                && e.median_end_ms <= SPAN_TOLERANCE_MS =>
        {
            (Verdict::Pass, format!("{ev}; {}", e.describe()))
        }
        Some(e) => (
            Verdict::Partial,
            format!(
                "{ev}; {} (pass needs ≥ 90% matched within {SPAN_TOLERANCE_MS} ms)",
                e.describe()
            ),
        ),
        None if has_task_times => (
            Verdict::Partial,
            format!("{ev}; no task spans with an absolute time to set against the tasks' truth"),
        ),
        None => (
            Verdict::Pass,
            format!("{ev}; no task truth to score spans against"),
        ),
    }
}

/// Axis 9: task spans this close (median, start and end) to the tasks' own truth are right:
/// a 100 Hz sampler's tick.
pub const SPAN_TOLERANCE_MS: f64 = 10.0;

/// Axis 10, aggregation, on the header's `heavy-remote=FUNCTION:COUNT`: the COUNT tasks of
/// that remote function summarised as one entry (count, total, mean). Call records for it
/// with COUNT calls (summed over processes) → pass; COUNT spans named after it (count
/// derivable from the timeline) → pass; time without a count (samples), or another count →
/// partial; the function absent → fail.
pub fn aggregation(inputs: &Inputs) -> Decided {
    if let Some(na) = distributed_only(inputs) {
        return na;
    }
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let Some(target) = &inputs.targets.heavy_remote else {
        return na(format!(
            "workload {} names no repeated remote function (header heavy-remote=)",
            inputs.workload
        ));
    };
    let name = target.function.as_str();
    // The count the run really made (the workload can split its work into more tasks), else
    // the header's.
    let expected = inputs
        .truth
        .map(|t| crate::ray_truth::truth_calls(t, name) as u64)
        .filter(|&n| n > 0)
        .unwrap_or(target.count);
    let mask = frames_named(p, name);
    let records = calls_of(p, &mask);
    if let Some((calls, _, total)) = records {
        if calls == expected {
            return (
                Verdict::Pass,
                format!(
                    "{name}: {calls} calls, {total:.2} s total, {:.3} s mean (call records)",
                    total / calls as f64
                ),
            );
        }
    }
    let spans: Vec<_> = p
        .spans
        .iter()
        .filter(|s| Profile::function_matches(span_function(&s.name), name))
        .collect();
    let span_total: f64 = spans.iter().map(|s| s.end - s.start).sum();
    if spans.len() as u64 == expected {
        return (
            Verdict::Pass,
            format!(
                "{name}: {} spans, {span_total:.2} s total, {:.3} s mean",
                spans.len(),
                span_total / spans.len() as f64
            ),
        );
    }
    if let Some((calls, _, total)) = records.filter(|r| r.0 > 0) {
        return (
            Verdict::Partial,
            format!("{name}: {calls} calls ({total:.2} s), expected {expected}"),
        );
    }
    if !spans.is_empty() {
        return (
            Verdict::Partial,
            format!(
                "{name}: {} spans ({span_total:.2} s), expected {expected}",
                spans.len()
            ),
        );
    }
    let sampled = sampled_under(p, &mask);
    if sampled > 0.0 {
        return (
            Verdict::Partial,
            format!("{name}: {sampled:.2} s sampled, no call count"),
        );
    }
    (Verdict::Fail, format!("{name} not in the profile"))
}
