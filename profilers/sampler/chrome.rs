//! Chrome trace / Perfetto JSON: the per-worker timeline. Sampled stacks become nested B/E
//! events per thread, agent spans (Ray tasks, serialization, object store) complete events on a
//! track of their own, RSS a counter per process.

use crate::normalise::Output;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Spans go on a separate track per thread: B/E events of sampled frames and exact task spans
/// would not nest on one track, and Perfetto rejects badly nested slices.
const SPAN_TRACK_OFFSET: u64 = 1 << 40;

fn us(seconds: f64) -> f64 {
    (seconds * 1e6 * 1000.0).round() / 1000.0
}

pub fn render(out: &Output) -> Value {
    let p = &out.profile;
    let mut events: Vec<Value> = Vec::new();
    for pr in &out.processes {
        events.push(
            json!({"name": "process_name", "ph": "M", "pid": pr.pid, "tid": 0,
            "args": {"name": out.process_name(pr.pid)}}),
        );
    }
    // Samples by thread, in time order.
    let mut by_thread: BTreeMap<(u32, u64), Vec<usize>> = BTreeMap::new();
    for (i, s) in p.samples.iter().enumerate() {
        by_thread.entry((s.pid, s.tid)).or_default().push(i);
    }
    for ((pid, tid), mut idx) in by_thread {
        events.push(
            json!({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
            "args": {"name": out.thread_name(pid, tid)}}),
        );
        idx.sort_by(|&a, &b| {
            p.samples[a]
                .time
                .unwrap_or(0.0)
                .total_cmp(&p.samples[b].time.unwrap_or(0.0))
        });
        // Open frames as (file, function) per depth: a new line in the same function does not
        // start a new slice, a different function at that depth does.
        let mut open: Vec<u32> = Vec::new();
        let key = |i: u32| {
            let f = &p.frames[i as usize];
            (&f.file, &f.function)
        };
        let mut last_end = 0.0;
        for i in idx {
            let s = &p.samples[i];
            let end = s.time.unwrap_or(0.0);
            let start = (end - s.weight).max(last_end);
            let common = open
                .iter()
                .zip(&s.stack)
                .take_while(|(a, b)| key(**a) == key(**b))
                .count();
            while open.len() > common {
                let f = &p.frames[open.pop().unwrap() as usize];
                events.push(
                    json!({"name": f.function, "ph": "E", "ts": us(start), "pid": pid, "tid": tid}),
                );
            }
            for &fi in &s.stack[common..] {
                let f = &p.frames[fi as usize];
                events.push(
                    json!({"name": f.function, "cat": "python", "ph": "B", "ts": us(start),
                    "pid": pid, "tid": tid, "args": {"file": f.file, "line": f.line}}),
                );
                open.push(fi);
            }
            last_end = end;
        }
        while let Some(fi) = open.pop() {
            events.push(json!({"name": p.frames[fi as usize].function, "ph": "E", "ts": us(last_end), "pid": pid, "tid": tid}));
        }
    }
    let mut span_tracks: BTreeMap<(u32, u64), ()> = BTreeMap::new();
    for sp in &p.spans {
        let track = SPAN_TRACK_OFFSET + sp.tid;
        span_tracks.insert((sp.pid, sp.tid), ());
        events.push(
            json!({"name": sp.name, "cat": sp.category, "ph": "X", "ts": us(sp.start),
            "dur": us(sp.end - sp.start), "pid": sp.pid, "tid": track}),
        );
    }
    for (pid, tid) in span_tracks.into_keys() {
        events.push(
            json!({"name": "thread_name", "ph": "M", "pid": pid, "tid": SPAN_TRACK_OFFSET + tid,
            "args": {"name": format!("{} — Ray tasks & transfers", out.thread_name(pid, tid))}}),
        );
    }
    for &(pid, t, rss) in &out.rss {
        events.push(
            json!({"name": "RSS", "ph": "C", "ts": us(t), "pid": pid, "tid": 0,
            "args": {"MiB": (rss as f64 / 1048576.0 * 10.0).round() / 10.0}}),
        );
    }
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "exporter": format!("profbench-sampler {}", env!("CARGO_PKG_VERSION")),
            "rate_hz": out.rate,
            "processes": out.processes,
            "remote_functions": out.remote_functions,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::output;

    #[test]
    fn loads_as_trace_events() {
        let doc = render(&output());
        let events = doc["traceEvents"].as_array().unwrap();
        assert!(!events.is_empty());
        for e in events {
            let ph = e["ph"].as_str().unwrap();
            assert!(["B", "E", "X", "M", "C"].contains(&ph), "{e}");
            assert!(e["pid"].is_u64() && e["tid"].is_u64(), "{e}");
            assert!(e["name"].is_string(), "{e}");
            if ph != "M" {
                assert!(e["ts"].as_f64().unwrap() >= 0.0, "{e}");
            }
            if ph == "X" {
                assert!(e["dur"].as_f64().unwrap() >= 0.0);
            }
        }
        // B/E balanced and properly nested per thread, timestamps non-decreasing.
        let mut stacks: BTreeMap<(u64, u64), (Vec<String>, f64)> = BTreeMap::new();
        for e in events.iter().filter(|e| e["ph"] == "B" || e["ph"] == "E") {
            let k = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
            let (stack, last) = stacks.entry(k).or_default();
            let ts = e["ts"].as_f64().unwrap();
            assert!(ts >= *last, "time went backwards on {k:?}");
            *last = ts;
            let name = e["name"].as_str().unwrap().to_string();
            if e["ph"] == "B" {
                stack.push(name);
            } else {
                assert_eq!(stack.pop().as_ref(), Some(&name));
            }
        }
        assert!(stacks.values().all(|(s, _)| s.is_empty()));
        assert!(events.iter().any(|e| e["ph"] == "X" && e["cat"] == "task"));
        assert!(events
            .iter()
            .any(|e| e["ph"] == "X" && e["cat"] == "serialization"));
        assert!(events.iter().any(|e| e["ph"] == "C"));
        assert_eq!(doc["otherData"]["remote_functions"][0]["count"], 1);
    }
}
