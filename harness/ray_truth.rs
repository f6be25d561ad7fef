//! Ray outputs scored against the tasks' own truth: each remote call's start, end and worker,
//! as the task measured itself (workloads/truth.py's `task`), set against the task spans a
//! backend reported. Pure functions over a `Profile` and a `Truth`.
//!
//! A span is set against a truth task only when the profile says where its seconds count from
//! (`Profile::origin`) in a clock the truth line also has: Unix time (Ray's own tools) or
//! CLOCK_MONOTONIC (profbench's agents, the truth's perf_counter_ns).

use crate::workload::{TaskTruth, Truth};
use profbench_profilers::profile::{OriginClock, Span, TimeOrigin};
use profbench_profilers::ray_timeline::worker_row;
use profbench_profilers::Profile;
use serde::{Deserialize, Serialize};

/// How far a backend's task spans are from the tasks' own start and end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanErrors {
    /// Remote calls in the truth.
    pub truth_tasks: usize,
    /// Task spans of remote functions in the profile.
    pub spans: usize,
    /// Truth tasks paired with a span of the same function.
    pub matched: usize,
    /// Median |span start − truth start| and |span end − truth end| over matched pairs, ms.
    pub median_start_ms: f64,
    pub median_end_ms: f64,
    /// The largest of those errors, ms.
    pub worst_ms: f64,
    /// Matched spans whose worker (pid, or Ray worker id) is the one the task ran in, out of
    /// those whose worker both sides name.
    pub same_worker: usize,
    pub worker_known: usize,
}

/// The bare function name of a span or truth line: `module.function` and VizTracer's
/// `function (file:line)` both give `function`.
pub fn bare_function(name: &str) -> &str {
    let name = match name.strip_suffix(')').and_then(|r| r.rfind(" (")) {
        Some(i) => &name[..i],
        None => name,
    };
    name.rsplit('.').next().unwrap_or(name)
}

/// Added to a pairing's distance when the span is on another worker than the task: longer
/// than any run, so it only pairs when nothing on the task's own worker is left.
const OTHER_WORKER_S: f64 = 1e6;

/// A truth task's start and end in the profile's seconds, when the clocks meet.
fn truth_seconds(t: &TaskTruth, origin: &TimeOrigin) -> Option<(f64, f64)> {
    let (s, e) = match origin.clock {
        OriginClock::Monotonic => (t.start_ns, t.end_ns),
        OriginClock::Unix => (t.unix_start_ns?, t.unix_end_ns?),
    };
    Some(((s - origin.ns) as f64 / 1e9, (e - origin.ns) as f64 / 1e9))
}

/// Whether the span ran in the task's worker: by pid when the backend gives one, else by the
/// Ray worker id row (`ray_timeline::worker_row`). None when either side does not say.
fn same_worker(span: &Span, t: &TaskTruth) -> Option<bool> {
    if span.pid != 0 {
        return Some(span.pid == t.pid);
    }
    let id = t.ray_worker_id.as_deref()?;
    (span.tid != 0).then(|| span.tid == worker_row(id))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Pairs each truth task with a task span of the same function (on its own worker first,
/// then closest start + end first, each used once) and measures the errors. None when the truth has no tasks, the profile
/// no task spans, or no origin in a clock the truth has.
pub fn span_errors(profile: &Profile, truth: &Truth) -> Option<SpanErrors> {
    let origin = profile.origin?;
    let truth_tasks: Vec<(&TaskTruth, f64, f64)> = truth
        .tasks
        .iter()
        .filter_map(|t| truth_seconds(t, &origin).map(|(s, e)| (t, s, e)))
        .collect();
    let spans: Vec<&Span> = profile
        .spans
        .iter()
        .filter(|s| s.category == "task")
        .filter(|s| {
            truth
                .tasks
                .iter()
                .any(|t| bare_function(&s.name) == bare_function(&t.function))
        })
        .collect();
    if truth_tasks.is_empty() || spans.is_empty() {
        return None;
    }
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    for (i, (t, ts, te)) in truth_tasks.iter().enumerate() {
        for (j, s) in spans.iter().enumerate() {
            if bare_function(&s.name) == bare_function(&t.function) {
                // Tasks of one function run at once on several workers: a span on the task's
                // own worker is its match before any span elsewhere.
                let elsewhere = if same_worker(s, t) == Some(false) {
                    OTHER_WORKER_S
                } else {
                    0.0
                };
                candidates.push(((s.start - ts).abs() + (s.end - te).abs() + elsewhere, i, j));
            }
        }
    }
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut t_used, mut s_used) = (vec![false; truth_tasks.len()], vec![false; spans.len()]);
    let (mut starts, mut ends) = (Vec::new(), Vec::new());
    let (mut same, mut known) = (0, 0);
    for (_, i, j) in candidates {
        if t_used[i] || s_used[j] {
            continue;
        }
        t_used[i] = true;
        s_used[j] = true;
        let (t, ts, te) = truth_tasks[i];
        starts.push((spans[j].start - ts).abs() * 1e3);
        ends.push((spans[j].end - te).abs() * 1e3);
        if let Some(ok) = same_worker(spans[j], t) {
            known += 1;
            same += usize::from(ok);
        }
    }
    let worst = starts
        .iter()
        .chain(ends.iter())
        .copied()
        .fold(0.0, f64::max);
    Some(SpanErrors {
        truth_tasks: truth.tasks.len(),
        spans: spans.len(),
        matched: starts.len(),
        median_start_ms: median(starts),
        median_end_ms: median(ends),
        worst_ms: worst,
        same_worker: same,
        worker_known: known,
    })
}

impl SpanErrors {
    /// One line of evidence.
    pub fn describe(&self) -> String {
        let workers = if self.worker_known > 0 {
            format!(
                ", {} of {} on the task's own worker",
                self.same_worker, self.worker_known
            )
        } else {
            String::new()
        };
        format!(
            "{} of {} tasks matched to {} spans: median error start {:.1} ms, end {:.1} ms, worst {:.1} ms{workers}",
            self.matched,
            self.truth_tasks,
            self.spans,
            self.median_start_ms,
            self.median_end_ms,
            self.worst_ms
        )
    }
}

/// Calls of one remote function in the truth (the count an aggregate must show).
pub fn truth_calls(truth: &Truth, function: &str) -> usize {
    truth
        .tasks
        .iter()
        .filter(|t| bare_function(&t.function) == function)
        .count()
}

/// What moving data cost, by the truth: the driver's ray.put phase (`put_data`) and the bytes
/// of the arguments the tasks received. None without a put phase.
pub fn transfer_truth(truth: &Truth) -> Option<(f64, u64)> {
    let put = truth.phase("put_data")?;
    let bytes = truth.tasks.iter().filter_map(|t| t.arg_bytes).sum();
    Some((put.wall_ns as f64 / 1e9, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use profbench_profilers::profile::Clock;

    fn task(function: &str, pid: u32, start_ms: i64, end_ms: i64) -> TaskTruth {
        TaskTruth {
            function: function.into(),
            pid,
            tid: pid as u64,
            start_ns: start_ms * 1_000_000,
            end_ns: end_ms * 1_000_000,
            cpu_thread_ns: 0,
            cpu_process_ns: 0,
            unix_start_ns: None,
            unix_end_ns: None,
            arg_bytes: None,
            result_bytes: None,
            ray_worker_id: None,
        }
    }

    fn span(name: &str, pid: u32, start: f64, end: f64) -> Span {
        Span {
            pid,
            tid: pid as u64,
            name: name.into(),
            category: "task".into(),
            start,
            end,
        }
    }

    fn truth(tasks: Vec<TaskTruth>) -> Truth {
        Truth {
            schema: 1,
            workload: "ray_workload".into(),
            pid: 1,
            python: "3.11.7".into(),
            phases: Vec::new(),
            tasks,
            tasks_file: None,
        }
    }

    #[test]
    fn spans_pair_with_the_nearest_task_of_their_function() {
        let t = truth(vec![
            task("f", 7, 1000, 1100),
            task("f", 8, 1000, 1200),
            task("g", 7, 1100, 1300),
        ]);
        let mut p = Profile::new(Clock::Wall);
        p.origin = Some(TimeOrigin {
            clock: OriginClock::Monotonic,
            ns: 1_000_000_000,
        });
        p.spans = vec![
            span("m.f", 8, 0.002, 0.202),
            span("m.f", 7, 0.001, 0.101),
            span("f (w.py:3)", 9, 0.110, 0.300),
        ];
        p.spans[2].name = "g (w.py:3)".into();
        let e = span_errors(&p, &t).unwrap();
        assert_eq!((e.matched, e.truth_tasks, e.spans), (3, 3, 3));
        assert!((e.median_start_ms - 2.0).abs() < 1e-6, "{e:?}");
        assert!((e.worst_ms - 10.0).abs() < 1e-6, "{e:?}");
        assert_eq!((e.same_worker, e.worker_known), (2, 3));
    }

    #[test]
    fn no_origin_or_no_unix_truth_is_not_scored() {
        let t = truth(vec![task("f", 7, 1000, 1100)]);
        let mut p = Profile::new(Clock::Wall);
        p.spans = vec![span("f", 7, 0.0, 0.1)];
        assert!(span_errors(&p, &t).is_none());
        p.origin = Some(TimeOrigin {
            clock: OriginClock::Unix,
            ns: 0,
        });
        assert!(span_errors(&p, &t).is_none(), "the truth has no Unix times");
        assert_eq!(truth_calls(&t, "f"), 1);
        assert_eq!(
            bare_function("__main__.parallel_heavy_loop"),
            "parallel_heavy_loop"
        );
    }
}
