//! The normalised profile every backend's output is parsed into (docs/method.md, "Accuracy").
//!
//! Two shapes of data exist in the wild: stack samples (samplers) and per-function call
//! records (tracers such as cProfile). A `Profile` holds either or both, plus optional line
//! timings, memory figures and timeline spans, so that accuracy and the capability checks can
//! be computed the same way for every backend.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Which clock a backend's times are measured in; accuracy compares against truth in that clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    Wall,
    Cpu,
    /// Memory-only backends (memray): no time attribution at all.
    None,
}

/// One code location. `line` is the function's first line for call records and the executing
/// line for samples; 0 when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    pub file: String,
    pub function: String,
    pub line: u32,
}

/// One stack sample (or a collapsed group of identical ones, see `weight`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub pid: u32,
    pub tid: u64,
    /// Indices into `Profile::frames`, root first, leaf last.
    pub stack: Vec<u32>,
    /// Seconds this sample stands for (count × interval, or a measured duration).
    pub weight: f64,
    /// Number of raw samples folded into this one.
    #[serde(default = "one")]
    pub count: u64,
    /// CPU seconds the thread used over the span this sample stands for, when known.
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Some(true) when the sampler saw the thread waiting (sleep, I/O, lock), None if unknown.
    #[serde(default)]
    pub idle: Option<bool>,
    /// Seconds since the profile's start, when the backend records it.
    #[serde(default)]
    pub time: Option<f64>,
}

fn one() -> u64 {
    1
}

/// Per-function call record, as tracers report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionStat {
    pub frame: u32,
    /// All calls, recursive ones included.
    pub calls: u64,
    /// Calls that were not recursive (pstats' "primitive" calls).
    pub primitive_calls: u64,
    /// Inclusive seconds (recursion counted once).
    pub inclusive: f64,
    /// Exclusive seconds.
    pub exclusive: f64,
}

/// Time (or samples) charged to one source line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineStat {
    pub file: String,
    /// Enclosing function, when the backend says.
    pub function: Option<String>,
    pub line: u32,
    /// Self time: seconds while this line was the innermost Python line running (samples
    /// whose leaf frame is on it; for a line tracer, the line's own execution).
    pub time: f64,
    /// Inclusive time: seconds while this line was on the stack, what it calls included
    /// (line_profiler's per-line time; a sampler's samples with the line anywhere on their
    /// stack). None when the backend reports self time only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusive: Option<f64>,
    #[serde(default)]
    pub hits: Option<u64>,
}

/// A timestamped stretch of activity in one process/thread (timeline, Ray tasks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub pid: u32,
    pub tid: u64,
    pub name: String,
    /// "task", "function", "serialization", ... free text chosen by the backend.
    pub category: String,
    /// Seconds since the profile's start.
    pub start: f64,
    pub end: f64,
}

/// Which clock a profile's "seconds since the profile's start" count from, and where that
/// start is on it, so spans can be set against truth timestamps taken in the same clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OriginClock {
    /// CLOCK_MONOTONIC (Python's perf_counter_ns on Linux), shared by all processes of a host.
    Monotonic,
    /// Nanoseconds since the Unix epoch (time.time_ns).
    Unix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeOrigin {
    pub clock: OriginClock,
    /// The profile's start, in nanoseconds of `clock`.
    pub ns: i64,
}

/// Memory figures a backend reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Peak bytes of the whole process (RSS or heap, see `kind`).
    pub peak_bytes: Option<u64>,
    /// "rss" or "heap": what was measured.
    pub kind: String,
    /// Peak bytes attributed per function name, where the backend breaks it down.
    #[serde(default)]
    pub peak_by_function: HashMap<String, u64>,
}

/// The normalised profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub clock: Clock,
    pub frames: Vec<Frame>,
    #[serde(default)]
    pub samples: Vec<Sample>,
    #[serde(default)]
    pub functions: Vec<FunctionStat>,
    #[serde(default)]
    pub lines: Vec<LineStat>,
    #[serde(default)]
    pub spans: Vec<Span>,
    #[serde(default)]
    pub memory: Option<Memory>,
    /// Sampling interval asked for, seconds (samplers only).
    #[serde(default)]
    pub interval: Option<f64>,
    /// Samples the backend says it missed or failed to take.
    #[serde(default)]
    pub missed_samples: Option<u64>,
    /// Wall-clock seconds the profile covers, when the backend says.
    #[serde(default)]
    pub duration: Option<f64>,
    /// What the backend's own output says about its data (lost events, a full buffer).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Samples the backend itself marked invalid, kept in `samples` as written and counted
    /// here: Austin's `INVALID` frames, profbench's torn stacks (cut where they stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_samples: Option<u64>,
    /// Call records only: a callee's exclusive seconds per caller (pstats' callers table), so
    /// the self time of a C function can be charged to the Python function that called it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callee_time: Vec<CalleeTime>,
    /// Where `start`/`time` seconds count from, when the backend's timestamps are absolute.
    #[serde(default)]
    pub origin: Option<TimeOrigin>,
}

/// One (caller, callee) pair of a tracer's call graph: the callee's exclusive seconds spent
/// in calls from that caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalleeTime {
    pub caller: u32,
    pub callee: u32,
    pub exclusive: f64,
}

impl Profile {
    pub fn new(clock: Clock) -> Self {
        Profile {
            clock,
            frames: Vec::new(),
            samples: Vec::new(),
            functions: Vec::new(),
            lines: Vec::new(),
            spans: Vec::new(),
            memory: None,
            interval: None,
            missed_samples: None,
            duration: None,
            warnings: Vec::new(),
            invalid_samples: None,
            callee_time: Vec::new(),
            origin: None,
        }
    }

    /// Total raw samples taken.
    pub fn sample_count(&self) -> u64 {
        self.samples.iter().map(|s| s.count).sum()
    }

    /// Total seconds over all samples.
    pub fn sampled_seconds(&self) -> f64 {
        self.samples.iter().map(|s| s.weight).sum()
    }

    /// Whether a frame matches a function name: the bare name or a qualified name ending in
    /// `.name`, so `Foo.bar` and `module.bar` match `bar`. Backends differ in how they qualify.
    pub fn function_matches(frame_function: &str, wanted: &str) -> bool {
        frame_function == wanted
            || frame_function
                .strip_suffix(wanted)
                .is_some_and(|rest| rest.ends_with('.') || rest.ends_with(':'))
    }

    /// Which frames are `function` (see `function_matches`), in a file ending with `file_suffix`.
    fn frames_of(&self, function: &str, file_suffix: Option<&str>) -> Vec<bool> {
        self.frames
            .iter()
            .map(|f| {
                Self::function_matches(&f.function, function)
                    && file_suffix.is_none_or(|s| f.file.ends_with(s))
            })
            .collect()
    }

    /// Samples with the function anywhere on their stack (recursion counted once).
    fn samples_in<'a>(&'a self, matching: &'a [bool]) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.stack
                .iter()
                .any(|&i| matching.get(i as usize).copied().unwrap_or(false))
        })
    }

    /// Inclusive seconds this profile attributes to a function, from call records when there
    /// are any for it, else from samples (a sample counts once even if the function recurses).
    /// `file_suffix` narrows the match to frames whose file ends with it (e.g. "single.py").
    pub fn inclusive_seconds(&self, function: &str, file_suffix: Option<&str>) -> f64 {
        let matching = self.frames_of(function, file_suffix);
        let from_calls: Vec<&FunctionStat> = self
            .functions
            .iter()
            .filter(|s| matching.get(s.frame as usize).copied().unwrap_or(false))
            .collect();
        if !from_calls.is_empty() {
            return from_calls.iter().map(|s| s.inclusive).sum();
        }
        self.samples_in(&matching).map(|s| s.weight).sum()
    }

    /// Raw samples taken with the function on the stack (0 for call records).
    pub fn inclusive_samples(&self, function: &str, file_suffix: Option<&str>) -> u64 {
        let matching = self.frames_of(function, file_suffix);
        self.samples_in(&matching).map(|s| s.count).sum()
    }

    /// Interns a frame, returning its index.
    pub fn intern(&mut self, index: &mut HashMap<Frame, u32>, frame: Frame) -> u32 {
        if let Some(&i) = index.get(&frame) {
            return i;
        }
        let i = self.frames.len() as u32;
        self.frames.push(frame.clone());
        index.insert(frame, i);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(f: &str) -> Frame {
        Frame {
            file: "w/single.py".into(),
            function: f.into(),
            line: 1,
        }
    }

    #[test]
    fn qualified_names_match_bare_names() {
        assert!(Profile::function_matches(
            "pattern_io_bound",
            "pattern_io_bound"
        ));
        assert!(Profile::function_matches(
            "single.pattern_io_bound",
            "pattern_io_bound"
        ));
        assert!(!Profile::function_matches(
            "xpattern_io_bound",
            "pattern_io_bound"
        ));
    }

    #[test]
    fn recursive_samples_count_once() {
        let mut p = Profile::new(Clock::Wall);
        let mut idx = HashMap::new();
        let fib = p.intern(&mut idx, frame("fib"));
        let main = p.intern(&mut idx, frame("main"));
        p.samples.push(Sample {
            pid: 1,
            tid: 1,
            stack: vec![main, fib, fib, fib],
            weight: 0.01,
            count: 1,
            cpu: None,
            idle: None,
            time: None,
        });
        p.samples.push(Sample {
            pid: 1,
            tid: 1,
            stack: vec![main],
            weight: 0.01,
            count: 1,
            cpu: None,
            idle: None,
            time: None,
        });
        assert!((p.inclusive_seconds("fib", None) - 0.01).abs() < 1e-12);
        assert!((p.inclusive_seconds("main", Some("single.py")) - 0.02).abs() < 1e-12);
        assert_eq!(p.inclusive_seconds("main", Some("other.py")), 0.0);
        assert_eq!(p.inclusive_samples("fib", None), 1);
        assert_eq!(p.inclusive_samples("main", None), 2);
    }
}
