//! Ray's own timeline, `ray.timeline()` (Ray 2.60, from the `ray[default]` pin of the
//! workloads' requirements): the driver calls it just before `ray.shutdown()` through a hook
//! that runs the program unchanged (`ray_hook.py`, passed with `python -c`), asking again until
//! the task events every worker sends about once a second stop arriving.
//!
//! Output `ray-timeline.json`: Chrome trace events, a JSON array of
//! `{"cat", "name", "pid": node address, "tid": "worker:<id>" | "driver:<id>", "ts": µs since
//! the Unix epoch, "dur": µs, "ph": "X", "args"}`. `cat` is `task::<function>` for a whole
//! task (name `module.function`), `task:deserialize_arguments`, `task:execute`,
//! `task:store_outputs` for its parts, `submit_task` for the driver's submission.
//!
//! Ray names a worker by its id, not its OS pid: spans get pid 0 ("not given") and the tid
//! is the id's first 16 hex digits, so each worker stays one row and can be matched with the
//! worker id the truth lines record.

use crate::backend::{read_output, Backend, Launch, ParseError};
use crate::profile::{Clock, OriginClock, Profile, Span, TimeOrigin};
use serde::Deserialize;
use std::ffi::OsString;
use std::path::Path;

pub const OUTPUT: &str = "ray-timeline.json";
/// How long the hook waited for the events to settle, and whether they did.
pub const META: &str = "ray-timeline.meta.json";
/// The hook, run as `python -c HOOK MODE OUT_DIR script args…`.
pub const HOOK: &str = include_str!("ray_hook.py");

pub struct RayTimeline;

impl Backend for RayTimeline {
    fn name(&self) -> &str {
        "ray-timeline"
    }
    fn description(&self) -> String {
        "Ray's ray.timeline() from the driver before ray.shutdown() (Chrome trace of task events)"
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
        hook_command(launch, "timeline")
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        let parsed = read_output(&out_dir.join(OUTPUT)).and_then(|b| parse_timeline(&b));
        Some(parsed.map(|mut p| {
            p.warnings.extend(settle_warning(&out_dir.join(META)));
            p
        }))
    }
}

/// `python -c HOOK MODE OUT_DIR script args…` with the launcher's python argv.
pub fn hook_command(launch: &Launch, mode: &str) -> Vec<OsString> {
    let mut argv = launch.python.to_vec();
    argv.push("-c".into());
    argv.push(HOOK.into());
    argv.push(mode.into());
    argv.push(launch.out_dir.into());
    argv.push(launch.script.into());
    argv.extend(launch.args.iter().cloned());
    argv
}

#[derive(Deserialize)]
struct Settle {
    settle_s: f64,
    complete: bool,
}

/// A warning when the hook gave up waiting for the task events to settle.
pub fn settle_warning(path: &Path) -> Option<String> {
    let s: Settle = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (!s.complete).then(|| {
        format!(
            "task events were still arriving after {:.1} s: the output may miss tasks",
            s.settle_s
        )
    })
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    cat: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    tid: serde_json::Value,
    ts: Option<f64>,
    dur: Option<f64>,
    #[serde(default)]
    ph: String,
}

/// A worker or driver id as a row number: its first 16 hex digits.
pub fn worker_row(id: &str) -> u64 {
    let hex: String = id
        .rsplit(':')
        .next()
        .unwrap_or(id)
        .chars()
        .take(16)
        .collect();
    u64::from_str_radix(&hex, 16).unwrap_or(0)
}

/// The span category of a timeline event.
fn category(cat: &str) -> &str {
    if cat.starts_with("task::") {
        "task"
    } else if cat == "task:deserialize_arguments" || cat == "task:store_outputs" {
        "serialization"
    } else if cat == "task:execute" {
        "execute"
    } else if cat == "submit_task" {
        "submit"
    } else {
        cat
    }
}

/// Parses `ray.timeline()` output into spans (seconds since the first event).
pub fn parse_timeline(bytes: &[u8]) -> Result<Profile, ParseError> {
    let bad = |what: String| ParseError::Unparseable(format!("ray timeline: {what}"));
    let events: Vec<Event> =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not a JSON event array: {e}")))?;
    let complete: Vec<(&Event, f64, f64)> = events
        .iter()
        .filter(|e| e.ph == "X")
        .filter_map(|e| Some((e, e.ts?, e.dur?)))
        .filter(|(_, ts, dur)| ts.is_finite() && dur.is_finite() && *dur >= 0.0)
        .collect();
    if complete.is_empty() {
        return Err(ParseError::NoOutput(format!(
            "ray timeline holds no task events ({} events)",
            events.len()
        )));
    }
    let t0 = complete.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
    let t1 = complete
        .iter()
        .map(|c| c.1 + c.2)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut profile = Profile::new(Clock::Wall);
    profile.origin = Some(TimeOrigin {
        clock: OriginClock::Unix,
        ns: (t0 * 1e3).round() as i64,
    });
    profile.duration = Some((t1 - t0) / 1e6);
    for (e, ts, dur) in complete {
        let tid = e.tid.as_str().map(worker_row).unwrap_or(0);
        profile.spans.push(Span {
            pid: 0,
            tid,
            name: if e.name.is_empty() {
                e.cat.clone()
            } else {
                e.name.clone()
            },
            category: category(&e.cat).to_string(),
            start: (ts - t0) / 1e6,
            end: (ts + dur - t0) / 1e6,
        });
    }
    profile
        .spans
        .sort_by(|a, b| a.start.total_cmp(&b.start).then(a.tid.cmp(&b.tid)));
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_categories() {
        assert_eq!(
            worker_row("worker:9b4b4b86d3e26ccdabae"),
            0x9b4b4b86d3e26ccd
        );
        assert_eq!(category("task::parallel_heavy_loop"), "task");
        assert_eq!(category("task:store_outputs"), "serialization");
        assert_eq!(category("submit_task"), "submit");
    }

    #[test]
    fn empty_and_broken_outputs_are_named() {
        assert!(matches!(
            parse_timeline(b"[]"),
            Err(ParseError::NoOutput(_))
        ));
        assert!(matches!(
            parse_timeline(b"[{\"cat\":"),
            Err(ParseError::Unparseable(_))
        ));
    }
}
