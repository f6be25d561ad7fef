//! Ray's own tools as backends, on outputs captured from real runs of the `ray` workload
//! (tests/fixtures/ray-timeline/, tests/fixtures/ray-state/: the hook's output and that run's
//! truth): the parsers, the span errors against the tasks' truth, and the Ray axes 6, 8, 9
//! and 10 decided on each peer's own evidence.

use profbench::checks::{self, Check, Inputs, Verdict};
use profbench::ray_truth::span_errors;
use profbench::workload::Truth;
use profbench_profilers::profile::OriginClock;
use profbench_profilers::{ray_state, ray_timeline, Profile};
use std::path::PathBuf;

fn fixture(dir: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(file)
}

fn timeline() -> (Profile, Truth) {
    let bytes = std::fs::read(fixture("ray-timeline", "ray-timeline.json")).unwrap();
    (
        ray_timeline::parse_timeline(&bytes).unwrap(),
        Truth::load(&fixture("ray-timeline", "truth.json")).unwrap(),
    )
}

fn state() -> (Profile, Truth) {
    let bytes = std::fs::read(fixture("ray-state", "ray-state.json")).unwrap();
    (
        ray_state::parse_state(&bytes).unwrap(),
        Truth::load(&fixture("ray-state", "truth.json")).unwrap(),
    )
}

fn axis(p: &Profile, t: &Truth, axis: u8) -> Check {
    // The Ray axes' targets (remote functions, the repeated one) come from the workload's header.
    let header = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/ray_workload.py"),
    )
    .unwrap();
    let targets = checks::Targets::from_header(&header).unwrap();
    let inputs = Inputs {
        workload: "ray",
        targets: &targets,
        profile: Some(p),
        truth: Some(t),
        memory_truth: None,
        wall_ratio: None,
    };
    checks::evaluate_run(&inputs)
        .into_iter()
        .find(|c| c.axis == axis)
        .unwrap()
}

fn expect(c: &Check, verdict: Verdict, evidence: &str) {
    assert_eq!(c.verdict, verdict, "{c:?}");
    assert!(c.evidence.contains(evidence), "{c:?}");
}

#[test]
fn timeline_parses_every_task_with_its_parts() {
    let (p, t) = timeline();
    let tasks: Vec<_> = p.spans.iter().filter(|s| s.category == "task").collect();
    assert_eq!(tasks.len(), t.tasks.len(), "one task span per remote call");
    assert!(p.spans.iter().any(|s| s.category == "serialization"));
    assert!(p.spans.iter().any(|s| s.category == "submit"));
    assert_eq!(p.origin.unwrap().clock, OriginClock::Unix);
    // Workers are rows named by Ray worker id, which the truth lines also record.
    let rows: std::collections::BTreeSet<u64> = tasks.iter().map(|s| s.tid).collect();
    assert!(rows.len() >= 2, "{rows:?}");
    assert!(tasks.iter().all(|s| s.pid == 0));
}

#[test]
fn state_parses_tasks_in_worker_pids_and_the_summary_counts() {
    let (p, t) = state();
    let tasks: Vec<_> = p.spans.iter().filter(|s| s.category == "task").collect();
    assert_eq!(tasks.len(), t.tasks.len());
    let truth_pids: std::collections::BTreeSet<u32> = t.tasks.iter().map(|k| k.pid).collect();
    assert!(
        tasks.iter().all(|s| truth_pids.contains(&s.pid)),
        "worker pids are real"
    );
    let heavy = p
        .functions
        .iter()
        .find(|f| p.frames[f.frame as usize].function == "parallel_heavy_loop")
        .unwrap();
    assert_eq!(heavy.calls, 24);
    assert!(heavy.inclusive > 0.0);
}

#[test]
fn both_peers_spans_sit_on_the_tasks_truth() {
    for (name, (p, t)) in [("timeline", timeline()), ("state", state())] {
        let e = span_errors(&p, &t).unwrap();
        eprintln!("{name}: {}", e.describe());
        assert_eq!(e.matched, t.tasks.len(), "{name}: {e:?}");
        assert_eq!(
            e.same_worker, e.worker_known,
            "{name}: every task on its own worker"
        );
        assert!(e.worker_known > 0, "{name}");
    }
}

#[test]
fn timeline_passes_the_ray_axes_on_its_own_evidence() {
    let (p, t) = timeline();
    expect(&axis(&p, &t, 6), Verdict::Pass, "Ray worker(s)");
    expect(
        &axis(&p, &t, 8),
        Verdict::Pass,
        "span task:deserialize_arguments",
    );
    expect(&axis(&p, &t, 9), Verdict::Pass, "Ray worker id(s)");
    expect(
        &axis(&p, &t, 10),
        Verdict::Pass,
        "parallel_heavy_loop: 24 spans",
    );
}

#[test]
fn state_passes_the_ray_axes_on_its_own_evidence() {
    let (p, t) = state();
    expect(&axis(&p, &t, 6), Verdict::Pass, "worker pid(s)");
    expect(
        &axis(&p, &t, 8),
        Verdict::Pass,
        "span task:deserialize_arguments",
    );
    expect(&axis(&p, &t, 9), Verdict::Pass, "median error");
    expect(&axis(&p, &t, 10), Verdict::Pass, "24 calls");
}

#[test]
fn spans_far_from_the_truth_are_partial() {
    let (mut p, t) = state();
    // The same output read with its clock half a second off.
    if let Some(o) = p.origin.as_mut() {
        o.ns += 500_000_000;
    }
    expect(&axis(&p, &t, 9), Verdict::Partial, "within 10 ms");
    // And without any absolute time the spans cannot be set against the truth.
    p.origin = None;
    expect(
        &axis(&p, &t, 9),
        Verdict::Partial,
        "no task spans with an absolute time",
    );
}
