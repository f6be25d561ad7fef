//! VizTracer 1.1.1, a tracer writing Chrome-trace JSON: `python -m viztracer -o out.json`.
//! Its traces reach ~100 MB (a million events), so they are read with a streaming serde
//! visitor over `traceEvents`, never as one `serde_json::Value`.
//!
//! What the adapter keeps from each complete event (`ph: "X"`, `ts`/`dur` in µs):
//! - per-function call records: all calls, non-recursive calls, inclusive time counting a
//!   recursion once (a call nested inside a call of the same function on the same thread
//!   adds nothing), exclusive time (duration minus direct children);
//! - timeline spans for events of at least `SPAN_MIN_SECONDS`, per pid/tid.
//!
//! VizTracer keeps events in a circular buffer (1,000,000 entries by default); when it fills,
//! the *earliest* events are lost and `viztracer_metadata.overflow` is true. Functions that
//! finished early (e.g. a first phase) then vanish from the trace: that is what a user of the
//! default configuration gets, and it is reported as such (see `parse_trace`).
//!
//! Multi-process: since 1.0 VizTracer follows `multiprocessing` and Python `subprocess`
//! children by default (`--ignore_multiprocess` turns it off) and merges them into the one
//! output file. Ray workers are started by the raylet (a C++ process), not by the traced
//! driver, so the plain command traces the driver only; see `RAY_TRACING` below for how the
//! adapter reaches the workers.

use crate::backend::{read_output, Backend, Launch, ParseError};
use crate::profile::{Clock, Frame, FunctionStat, Profile, Span};
use crate::status::{classify_by, ExitInfo, Failure, Rule};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;

pub const OUTPUT: &str = "viztracer.json";

/// Events shorter than this are left out of `Profile::spans` (they still count in the call
/// records): a million sub-millisecond spans would dwarf every other result and cannot be
/// seen on a timeline of a multi-second run anyway.
pub const SPAN_MIN_SECONDS: f64 = 1e-3;

pub struct VizTracer;

impl Backend for VizTracer {
    fn name(&self) -> &str {
        "viztracer"
    }
    fn description(&self) -> String {
        "VizTracer 1.1.1 (tracer, wall clock, default 1M-entry buffer), python -m viztracer -o out.json".into()
    }
    fn requirements(&self) -> Vec<&'static str> {
        vec!["viztracer==1.1.1"]
    }
    fn distribution(&self) -> &str {
        "viztracer"
    }
    fn clock(&self) -> Clock {
        // Timestamps come from the monotonic wall clock (ts/dur of each call).
        Clock::Wall
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        // --quiet: no progress bar in stderr; `--` so workload arguments are never read as
        // VizTracer's own options.
        let options = [
            "--quiet".into(),
            "-o".into(),
            launch.out(OUTPUT),
            "--".into(),
        ];
        launch.python_module("viztracer", options)
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        let path = out_dir.join(OUTPUT);
        Some(read_output(&path).and_then(|bytes| {
            parse_trace(&bytes).map(|t| {
                let mut profile = t.profile;
                if t.overflow {
                    profile.warnings.push(
                        "viztracer's buffer overflowed: the earliest events were lost \
                         (raise --tracer_entries)"
                            .into(),
                    );
                }
                profile
            })
        }))
    }
    fn classify(&self, exit: &ExitInfo) -> Failure {
        classify(exit)
    }
}

/// VizTracer's own failure texts first, then the shared patterns.
const RULES: &[Rule] = &[
    // `python -m viztracer missing.py` prints "No such file as missing.py": the target is
    // missing, not the profiler.
    Rule::when(&["no such file as "], Failure::TargetNotFound),
    // The trace could not be written (folder gone, disk full): ReportBuilder.save failed.
    Rule::when(
        &["report_builder.py", "in save", "filenotfounderror"],
        Failure::NoOutput,
    ),
    Rule::when(
        &["report_builder.py", "in save", "permissionerror"],
        Failure::NoOutput,
    ),
    Rule::when(
        &["report_builder.py", "in save", "oserror"],
        Failure::NoOutput,
    ),
    Rule::when(
        &["report_builder.py", "in save", "no space left"],
        Failure::NoOutput,
    ),
];

fn classify(exit: &ExitInfo) -> Failure {
    classify_by(exit, RULES)
}

/// A parsed trace: the profile plus what the file said about itself.
#[derive(Debug)]
pub struct Trace {
    pub profile: Profile,
    /// `viztracer_metadata.overflow`: the circular buffer filled and early events were lost.
    pub overflow: bool,
    /// Complete (`X`) events read.
    pub events: usize,
}

/// One complete event as it sits in the file; strings are borrowed when they have no escapes.
#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow)]
    ph: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    /// VizTracer writes numbers (the Chrome format also allows strings; those fail here).
    #[serde(default)]
    pid: Option<f64>,
    #[serde(default)]
    tid: Option<f64>,
    #[serde(default)]
    ts: Option<f64>,
    #[serde(default)]
    dur: Option<f64>,
}

/// A complete event reduced to numbers.
struct Event {
    pid: u32,
    tid: u64,
    ts: f64,
    dur: f64,
    name: u32,
}

#[derive(Default)]
struct Collected<'a> {
    names: HashMap<Cow<'a, str>, u32>,
    name_list: Vec<Cow<'a, str>>,
    events: Vec<Event>,
    overflow: bool,
    saw_trace_events: bool,
}

/// Seed for the top-level object: walks its keys, streams `traceEvents`, skips the rest
/// except `viztracer_metadata.overflow`.
struct TopSeed<'c, 'a>(&'c mut Collected<'a>);

impl<'de, 'c> DeserializeSeed<'de> for TopSeed<'c, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 'c> Visitor<'de> for TopSeed<'c, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Chrome trace object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "traceEvents" => {
                    self.0.saw_trace_events = true;
                    map.next_value_seed(EventsSeed(self.0))?;
                }
                "viztracer_metadata" => {
                    #[derive(Deserialize)]
                    struct Meta {
                        #[serde(default)]
                        overflow: bool,
                    }
                    let meta: Meta = map.next_value()?;
                    self.0.overflow = meta.overflow;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct EventsSeed<'c, 'a>(&'c mut Collected<'a>);

impl<'de, 'c> DeserializeSeed<'de> for EventsSeed<'c, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, 'c> Visitor<'de> for EventsSeed<'c, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of trace events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let c = self.0;
        while let Some(ev) = seq.next_element::<RawEvent<'de>>()? {
            if ev.ph != "X" {
                continue;
            }
            let (Some(name), Some(ts), Some(dur)) = (ev.name, ev.ts, ev.dur) else {
                return Err(de::Error::custom("complete event without name, ts or dur"));
            };
            if !ts.is_finite() || !dur.is_finite() || dur < 0.0 {
                return Err(de::Error::custom("complete event with a bad ts or dur"));
            }
            let next = c.name_list.len() as u32;
            let id = *c.names.entry(name.clone()).or_insert_with(|| {
                c.name_list.push(name);
                next
            });
            c.events.push(Event {
                pid: ev.pid.map_or(0, |p| p as u32),
                tid: ev.tid.map_or(0, |t| t as u64),
                ts,
                dur,
                name: id,
            });
        }
        Ok(())
    }
}

/// Splits VizTracer's `func (file:line)` names; C functions (`builtins.sum`, `str.join`) have
/// no location.
pub fn split_name(name: &str) -> Frame {
    if let Some(rest) = name.strip_suffix(')') {
        if let Some(open) = rest.rfind(" (") {
            let (function, loc) = (&rest[..open], &rest[open + 2..]);
            if let Some(colon) = loc.rfind(':') {
                if let Ok(line) = loc[colon + 1..].parse::<u32>() {
                    return Frame {
                        file: loc[..colon].to_string(),
                        function: function.to_string(),
                        line,
                    };
                }
            }
        }
    }
    Frame {
        file: String::new(),
        function: name.to_string(),
        line: 0,
    }
}

/// Parses a VizTracer Chrome-trace JSON file.
pub fn parse_trace(bytes: &[u8]) -> Result<Trace, ParseError> {
    let mut collected = Collected::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    TopSeed(&mut collected)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| ParseError::Unparseable(format!("viztracer trace: {e}")))?;
    if !collected.saw_trace_events {
        return Err(ParseError::Unparseable(
            "viztracer trace: no traceEvents".into(),
        ));
    }
    if collected.events.is_empty() {
        return Err(ParseError::Unparseable(
            "viztracer trace: no complete (X) events".into(),
        ));
    }
    Ok(build(collected))
}

fn build(c: Collected) -> Trace {
    let Collected {
        name_list,
        mut events,
        overflow,
        ..
    } = c;
    let n_events = events.len();
    let mut profile = Profile::new(Clock::Wall);
    let mut index = HashMap::new();
    // Trace name id -> frame id (two names could split to the same frame).
    let frame_of: Vec<u32> = name_list
        .iter()
        .map(|n| profile.intern(&mut index, split_name(n)))
        .collect();
    let c_function: Vec<bool> = profile.frames.iter().map(|f| f.file.is_empty()).collect();

    #[derive(Clone, Default)]
    struct Acc {
        calls: u64,
        primitive: u64,
        inclusive: f64,
        exclusive: f64,
    }
    let mut acc = vec![Acc::default(); profile.frames.len()];

    let t0 = events.iter().map(|e| e.ts).fold(f64::INFINITY, f64::min);
    let t1 = events
        .iter()
        .map(|e| e.ts + e.dur)
        .fold(f64::NEG_INFINITY, f64::max);
    profile.duration = Some((t1 - t0) / 1e6);

    // Per thread, in start order; an enclosing call sorts before what it contains.
    events.sort_unstable_by(|a, b| {
        (a.pid, a.tid)
            .cmp(&(b.pid, b.tid))
            .then(a.ts.total_cmp(&b.ts))
            .then(b.dur.total_cmp(&a.dur))
    });

    // Open calls on the current thread: (frame, end µs).
    let mut stack: Vec<(u32, f64)> = Vec::new();
    // How many open calls of each frame the stack holds (recursion test in O(1)).
    let mut open = vec![0u32; profile.frames.len()];
    let mut thread = None;
    for e in &events {
        if thread != Some((e.pid, e.tid)) {
            stack.clear();
            open.iter_mut().for_each(|n| *n = 0);
            thread = Some((e.pid, e.tid));
        }
        // Calls that ended by the time this one starts are done.
        while let Some(&(frame, end)) = stack.last() {
            if end > e.ts {
                break;
            }
            stack.pop();
            open[frame as usize] -= 1;
        }
        let frame = frame_of[e.name as usize];
        let a = &mut acc[frame as usize];
        a.calls += 1;
        if open[frame as usize] == 0 {
            // Outermost call of this function on the stack: its time counts once.
            a.primitive += 1;
            a.inclusive += e.dur;
        }
        a.exclusive += e.dur;
        if let Some(&(parent, _)) = stack.last() {
            // Exclusive time: a call's duration less its direct children's.
            acc[parent as usize].exclusive -= e.dur;
        }
        stack.push((frame, e.ts + e.dur));
        open[frame as usize] += 1;

        if e.dur / 1e6 >= SPAN_MIN_SECONDS {
            profile.spans.push(Span {
                pid: e.pid,
                tid: e.tid,
                name: name_list[e.name as usize].to_string(),
                category: if c_function[frame as usize] {
                    "c-function"
                } else {
                    "function"
                }
                .into(),
                start: (e.ts - t0) / 1e6,
                end: (e.ts + e.dur - t0) / 1e6,
            });
        }
    }

    for (frame, a) in acc.into_iter().enumerate() {
        if a.calls == 0 {
            continue;
        }
        profile.functions.push(FunctionStat {
            frame: frame as u32,
            calls: a.calls,
            primitive_calls: a.primitive,
            inclusive: a.inclusive / 1e6,
            exclusive: (a.exclusive / 1e6).max(0.0),
        });
    }
    profile.spans.sort_by(|a, b| {
        (a.pid, a.tid)
            .cmp(&(b.pid, b.tid))
            .then(a.start.total_cmp(&b.start))
    });
    Trace {
        profile,
        overflow,
        events: n_events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/viztracer/line.json"
    );
    const ERRORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/viztracer/errors/"
    );

    fn stat<'p>(p: &'p Profile, function: &str) -> &'p FunctionStat {
        p.functions
            .iter()
            .find(|s| {
                p.frames[s.frame as usize].function == function
                    && p.frames[s.frame as usize].file.ends_with("line.py")
            })
            .unwrap_or_else(|| panic!("{function} not in the profile"))
    }

    #[test]
    fn real_line_trace_has_the_workload_functions() {
        let t = parse_trace(&std::fs::read(LINE).unwrap()).unwrap();
        let p = &t.profile;
        assert!(!t.overflow);
        let mixed = stat(p, "mixed_lines");
        let light = stat(p, "light_loop");
        let main = stat(p, "main");
        assert_eq!((mixed.calls, mixed.primitive_calls), (3, 3));
        assert_eq!((light.calls, main.calls), (1, 1));
        // Three sum(range(10**7)) calls and a 12M-iteration loop: tenths of a second at least.
        assert!(
            mixed.inclusive > 0.1 && light.inclusive > 0.1,
            "{mixed:?} {light:?}"
        );
        assert!(main.inclusive >= mixed.inclusive + light.inclusive);
        // mixed_lines' time is nearly all in the builtins.sum call it makes.
        let sum = p
            .functions
            .iter()
            .find(|s| p.frames[s.frame as usize].function == "builtins.sum")
            .unwrap();
        assert!(sum.inclusive > 0.95 * mixed.inclusive && mixed.exclusive < 0.05 * mixed.inclusive);
        assert_eq!(p.frames[mixed.frame as usize].line, 21);
        // Timeline: the three mixed_lines calls as spans, in order, inside the trace.
        let spans: Vec<&Span> = p
            .spans
            .iter()
            .filter(|s| s.name.starts_with("mixed_lines ("))
            .collect();
        assert_eq!(spans.len(), 3);
        assert!(spans.windows(2).all(|w| w[0].end <= w[1].start));
        assert!(spans.iter().all(|s| s.start >= 0.0
            && s.end <= p.duration.unwrap() + 1e-9
            && s.category == "function"));
        assert!(p
            .spans
            .iter()
            .any(|s| s.name == "builtins.sum" && s.category == "c-function"));
    }

    #[test]
    fn recursion_counts_once() {
        // Hand-made (not a real run): f(0..4µs) calls f(1..3µs) which calls g(1.5..2.5µs).
        let json = br#"{"traceEvents": [
            {"ph": "M", "pid": 1, "tid": 1, "name": "process_name", "args": {"name": "MainProcess"}},
            {"pid": 1, "tid": 1, "ts": 1.5, "ph": "X", "dur": 1.0, "name": "g (/w/x.py:9)"},
            {"pid": 1, "tid": 1, "ts": 1.0, "ph": "X", "dur": 2.0, "name": "f (/w/x.py:3)"},
            {"pid": 1, "tid": 1, "ts": 0.0, "ph": "X", "dur": 4.0, "name": "f (/w/x.py:3)"},
            {"pid": 1, "tid": 2, "ts": 0.5, "ph": "X", "dur": 1.0, "name": "f (/w/x.py:3)"}
        ], "viztracer_metadata": {"overflow": true, "version": "1.1.1"}}"#;
        let t = parse_trace(json).unwrap();
        assert!(t.overflow);
        assert_eq!(t.events, 4);
        let p = &t.profile;
        let f = p
            .functions
            .iter()
            .find(|s| p.frames[s.frame as usize].function == "f")
            .unwrap();
        assert_eq!((f.calls, f.primitive_calls), (3, 2));
        // 4 µs on thread 1 (the nested call not again) + 1 µs on thread 2.
        assert!((f.inclusive - 5e-6).abs() < 1e-12, "{f:?}");
        // Own time: 4-2 (outer) + 2-1 (inner) + 1 (thread 2).
        assert!((f.exclusive - 4e-6).abs() < 1e-12, "{f:?}");
        assert_eq!(
            p.frames[f.frame as usize],
            Frame {
                file: "/w/x.py".into(),
                function: "f".into(),
                line: 3
            }
        );
        assert!((p.duration.unwrap() - 4e-6).abs() < 1e-12);
    }

    #[test]
    fn names_split_into_frames() {
        assert_eq!(
            split_name("Foo.bar (/a b/c.py:12)"),
            Frame {
                file: "/a b/c.py".into(),
                function: "Foo.bar".into(),
                line: 12
            }
        );
        assert_eq!(split_name("<listcomp> (<frozen x>:3)").file, "<frozen x>");
        assert_eq!(
            split_name("builtins.sum"),
            Frame {
                file: String::new(),
                function: "builtins.sum".into(),
                line: 0
            }
        );
    }

    #[test]
    fn truncated_or_garbled_traces_are_unparseable() {
        let bytes = std::fs::read(LINE).unwrap();
        for cut in [0, 1, 100, bytes.len() / 2, bytes.len() - 2] {
            assert!(
                matches!(parse_trace(&bytes[..cut]), Err(ParseError::Unparseable(_))),
                "cut at {cut}"
            );
        }
        let mut garbled = bytes.clone();
        for i in (50..garbled.len()).step_by(997) {
            garbled[i] = b'#';
        }
        assert!(matches!(
            parse_trace(&garbled),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_trace(b"{\"traceEvents\": []}"),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_trace(b"[1, 2]"),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_trace(br#"{"traceEvents": [{"ph": "X", "ts": 1}]}"#),
            Err(ParseError::Unparseable(_))
        ));
        let missing = VizTracer
            .parse(Path::new("/nonexistent-profbench-dir"), "")
            .unwrap();
        assert!(matches!(missing, Err(ParseError::NoOutput(_))));
    }

    #[test]
    fn real_failure_texts_are_classified() {
        let text = |name: &str| ExitInfo {
            code: Some(1),
            stderr: std::fs::read_to_string(format!("{ERRORS}{name}")).unwrap(),
            ..Default::default()
        };
        assert_eq!(
            classify(&text("missing-script.txt")),
            Failure::TargetNotFound
        );
        assert_eq!(classify(&text("output-dir-missing.txt")), Failure::NoOutput);
        assert_eq!(classify(&text("workload-crash.txt")), Failure::Crashed);
        let gone = ExitInfo {
            code: Some(1),
            stderr: "/env/bin/python: No module named viztracer".into(),
            ..Default::default()
        };
        assert_eq!(classify(&gone), Failure::NotInstallable);
    }
}
