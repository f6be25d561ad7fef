//! Ray's state API (Ray 2.60, needs the dashboard the workload's `ray.init` starts):
//! `ray.util.state.list_tasks(detail=True)` and `summarize_tasks()`, called from the driver
//! just before `ray.shutdown()` by the same hook as `ray-timeline` (`ray_hook.py`), asking
//! again until the number of tasks and of finished ones stops changing.
//!
//! Output `ray-state.json`: `{"tasks": [TaskState…], "summary": {"cluster": {"summary":
//! {func: {"func_or_class_name", "state_counts": {STATE: n}}}}}, "settle": {…}}`. A task
//! has `func_or_class_name`, `worker_pid`, `worker_id`, `state`, `start_time_ms` /
//! `end_time_ms` (Unix ms: when it was seen RUNNING and FINISHED) and, in detail,
//! `profiling_data.events` (`task:deserialize_arguments`, `task:execute`,
//! `task:store_outputs`, `task::<function>`, Unix ms with fractions).
//!
//! Into the Profile: one `task` span per task from its start/end times, in its worker's pid;
//! its profiling events as `serialization` / `execute` spans; one call record per function
//! from the summary's count (all states), whose total is the sum of that function's task
//! durations in the list (the summary gives counts only).

use crate::backend::{read_output, Backend, Launch, ParseError};
use crate::profile::{Clock, Frame, FunctionStat, OriginClock, Profile, Span, TimeOrigin};
use crate::ray_timeline::{hook_command, worker_row};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::Path;

pub const OUTPUT: &str = "ray-state.json";

pub struct RayState;

impl Backend for RayState {
    fn name(&self) -> &str {
        "ray-state"
    }
    fn description(&self) -> String {
        "Ray's state API from the driver before ray.shutdown(): list_tasks(detail=True), summarize_tasks()"
            .into()
    }
    fn distribution(&self) -> &str {
        "ray"
    }
    fn clock(&self) -> Clock {
        Clock::Wall
    }
    fn needs_ray(&self) -> bool {
        true
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        hook_command(launch, "state")
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        Some(read_output(&out_dir.join(OUTPUT)).and_then(|b| parse_state(&b)))
    }
}

#[derive(Deserialize)]
struct Output {
    tasks: Vec<Task>,
    #[serde(default)]
    summary: serde_json::Value,
    #[serde(default)]
    settle: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Task {
    #[serde(default)]
    func_or_class_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    worker_pid: Option<u32>,
    #[serde(default)]
    worker_id: Option<String>,
    #[serde(default)]
    start_time_ms: Option<f64>,
    #[serde(default)]
    end_time_ms: Option<f64>,
    #[serde(default)]
    profiling_data: Option<Profiling>,
}

#[derive(Deserialize)]
struct Profiling {
    #[serde(default)]
    events: Vec<ProfEvent>,
}

#[derive(Deserialize)]
struct ProfEvent {
    event_name: String,
    start_time: f64,
    end_time: f64,
}

/// The summary's count per function, over all states.
fn summary_counts(summary: &serde_json::Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Some(funcs) = summary
        .pointer("/cluster/summary")
        .and_then(|v| v.as_object())
    else {
        return out;
    };
    for (name, entry) in funcs {
        let n: u64 = entry
            .get("state_counts")
            .and_then(|c| c.as_object())
            .map(|c| c.values().filter_map(|v| v.as_u64()).sum())
            .unwrap_or(0);
        let name = entry
            .get("func_or_class_name")
            .and_then(|v| v.as_str())
            .unwrap_or(name);
        out.insert(name.to_string(), n);
    }
    out
}

/// Parses the hook's state output (see the module doc).
pub fn parse_state(bytes: &[u8]) -> Result<Profile, ParseError> {
    let out: Output = serde_json::from_slice(bytes)
        .map_err(|e| ParseError::Unparseable(format!("ray state: {e}")))?;
    let timed: Vec<(&Task, f64, f64)> = out
        .tasks
        .iter()
        .filter_map(|t| Some((t, t.start_time_ms?, t.end_time_ms?)))
        .filter(|(_, s, e)| e >= s)
        .collect();
    if timed.is_empty() {
        return Err(ParseError::NoOutput(format!(
            "ray state lists {} tasks, none with a start and end time",
            out.tasks.len()
        )));
    }
    let t0 = timed.iter().map(|t| t.1).fold(f64::INFINITY, f64::min);
    let t1 = timed.iter().map(|t| t.2).fold(f64::NEG_INFINITY, f64::max);
    let secs = |ms: f64| (ms - t0) / 1e3;
    let mut profile = Profile::new(Clock::Wall);
    profile.origin = Some(TimeOrigin {
        clock: OriginClock::Unix,
        ns: (t0 * 1e6).round() as i64,
    });
    profile.duration = Some((t1 - t0) / 1e3);
    let mut totals: HashMap<String, f64> = HashMap::new();
    for (t, start, end) in &timed {
        let function = t
            .func_or_class_name
            .clone()
            .or_else(|| t.name.clone())
            .unwrap_or_default();
        let pid = t.worker_pid.unwrap_or(0);
        let tid = t.worker_id.as_deref().map(worker_row).unwrap_or(0);
        *totals.entry(function.clone()).or_default() += (end - start) / 1e3;
        profile.spans.push(Span {
            pid,
            tid,
            name: function,
            category: "task".into(),
            start: secs(*start),
            end: secs(*end),
        });
        for ev in t.profiling_data.iter().flat_map(|p| &p.events) {
            let category = match ev.event_name.as_str() {
                "task:deserialize_arguments" | "task:store_outputs" => "serialization",
                "task:execute" => "execute",
                _ => continue, // task::<function>: the task span above already covers it
            };
            profile.spans.push(Span {
                pid,
                tid,
                name: ev.event_name.clone(),
                category: category.into(),
                start: secs(ev.start_time),
                end: secs(ev.end_time.max(ev.start_time)),
            });
        }
    }
    let mut index = HashMap::new();
    for (function, calls) in summary_counts(&out.summary) {
        let frame = profile.intern(
            &mut index,
            Frame {
                file: String::new(),
                function: function.clone(),
                line: 0,
            },
        );
        let total = totals.get(&function).copied().unwrap_or(0.0);
        profile.functions.push(FunctionStat {
            frame,
            calls,
            primitive_calls: calls,
            inclusive: total,
            exclusive: total,
        });
    }
    if let Some(false) = out
        .settle
        .as_ref()
        .and_then(|s| s.get("complete"))
        .and_then(|c| c.as_bool())
    {
        profile
            .warnings
            .push("task states were still changing when the hook gave up waiting".into());
    }
    profile
        .spans
        .sort_by(|a, b| a.start.total_cmp(&b.start).then(a.pid.cmp(&b.pid)));
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_timed_task_is_no_output() {
        let r = parse_state(br#"{"tasks":[{"func_or_class_name":"f"}],"summary":{}}"#);
        assert!(matches!(r, Err(ParseError::NoOutput(_))));
        assert!(matches!(parse_state(b"{"), Err(ParseError::Unparseable(_))));
    }
}
