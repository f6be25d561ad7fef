//! Turns a `Recording` into the harness's normalised `Profile` plus what only the other
//! output formats need (process and thread names, RSS over time, Ray aggregates, rates).

use crate::memory;
use crate::ray::{self, RemoteFunction};
use crate::recording::{Recording, RssPoint};
use profbench_profilers::profile::{
    Clock, Frame, FunctionStat, LineStat, OriginClock, Profile, Sample, Span, TimeOrigin,
};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// A thread counts as waiting (sleep, I/O, lock or GIL wait) over a sample's span when it was
/// on a CPU less than half of it.
pub const IDLE_CPU_FRACTION: f64 = 0.5;

#[derive(Debug, Clone, Serialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    pub argv: Vec<String>,
    pub executable: String,
    pub samples: u64,
    pub threads: usize,
    /// Sampling rounds the agent made, and rounds it missed because it was late.
    pub ticks: u64,
    pub missed: u64,
    /// Extra rounds taken because the sampler lost the GIL for longer than an interval.
    pub rereads: u64,
    /// Stack chains the native reader found torn (cut where they stopped, kept).
    pub torn: u64,
    /// "native" (the stack reader read the frames) or "gil" (the agent did, from Python).
    pub mode: Option<String>,
    /// Why the stack reader was not used, when it was not.
    pub mode_detail: Option<String>,
    /// Sampling rounds per second over the span the process was sampled.
    pub achieved_hz: Option<f64>,
    pub agent_error: Option<String>,
    pub bad_lines: u64,
}

/// The normalised profile and everything beside it.
#[derive(Debug, Clone)]
pub struct Output {
    pub profile: Profile,
    pub processes: Vec<ProcessInfo>,
    pub thread_names: HashMap<(u32, u64), String>,
    /// (pid, seconds since start, rss bytes)
    pub rss: Vec<(u32, f64, u64)>,
    pub remote_functions: Vec<RemoteFunction>,
    pub rate: f64,
    pub skipped: Vec<(u32, String, &'static str)>,
}

impl Output {
    pub fn process_name(&self, pid: u32) -> String {
        match self.processes.iter().find(|p| p.pid == pid) {
            Some(p) if !p.argv.is_empty() => format!("{} (pid {pid})", p.argv.join(" ")),
            _ => format!("pid {pid}"),
        }
    }

    pub fn thread_name(&self, pid: u32, tid: u64) -> String {
        match self.thread_names.get(&(pid, tid)) {
            Some(n) => format!("{n} (tid {tid})"),
            None => format!("tid {tid}"),
        }
    }
}

/// Why processes read their stacks from Python rather than with the native reader: each
/// reason, with how many processes gave it, in the order first seen.
pub fn reader_fallbacks(processes: &[ProcessInfo]) -> Vec<(&str, usize)> {
    let mut out: Vec<(&str, usize)> = Vec::new();
    for p in processes
        .iter()
        .filter(|p| p.mode.as_deref() == Some("gil"))
    {
        let why = p.mode_detail.as_deref().unwrap_or("no reason given");
        match out.iter_mut().find(|(w, _)| *w == why) {
            Some((_, n)) => *n += 1,
            None => out.push((why, 1)),
        }
    }
    out
}

/// Torn stacks are kept (cut where they stopped); more than this share of a process's
/// samples is worth a warning: its leaf frames are then less sure.
pub const TORN_WARN_FRACTION: f64 = 0.02;

fn torn_warning(p: &ProcessInfo) -> Option<String> {
    (p.samples > 0 && p.torn as f64 > TORN_WARN_FRACTION * p.samples as f64).then(|| {
        format!(
            "pid {}: {} of {} stacks read did not hold together (cut where they stopped, kept)",
            p.pid, p.torn, p.samples
        )
    })
}

pub fn build(rec: &Recording) -> Output {
    let secs = |t_ns: u64| t_ns.saturating_sub(rec.start_ns) as f64 / 1e9;
    let mut profile = Profile::new(Clock::Wall);
    // The agents' clock is CLOCK_MONOTONIC: spans can be set against the truth's perf_counter.
    profile.origin = i64::try_from(rec.start_ns).ok().map(|ns| TimeOrigin {
        clock: OriginClock::Monotonic,
        ns,
    });
    let mut index: HashMap<Frame, u32> = HashMap::new();
    let mut processes = Vec::new();
    let mut thread_names = HashMap::new();
    // (file, function) -> first line, to give remote-function aggregates a real frame.
    let mut defs: HashMap<String, Frame> = HashMap::new();

    for p in &rec.processes {
        let pid = p.pid();
        let mut local: HashMap<(u32, u32), u32> = HashMap::new();
        let mut threads = HashSet::new();
        for s in &p.samples {
            threads.insert(s.tid);
            let mut stack = Vec::with_capacity(s.stack.len());
            for &(cid, line) in &s.stack {
                let i = match local.get(&(cid, line)) {
                    Some(&i) => i,
                    None => {
                        let code = p.codes.get(cid as usize).cloned().unwrap_or_default();
                        let (file, function) = if code.function.is_empty() {
                            ("?".to_string(), "?".to_string())
                        } else {
                            (code.file.clone(), code.function.clone())
                        };
                        defs.entry(function.clone()).or_insert_with(|| Frame {
                            file: file.clone(),
                            function: function.clone(),
                            line: code.first_line,
                        });
                        let i = profile.intern(
                            &mut index,
                            Frame {
                                file,
                                function,
                                line,
                            },
                        );
                        local.insert((cid, line), i);
                        i
                    }
                };
                stack.push(i);
            }
            let weight = s.weight_ns as f64 / 1e9;
            let cpu = s.cpu_ns.map(|c| c as f64 / 1e9);
            profile.samples.push(Sample {
                pid,
                tid: s.tid,
                stack,
                weight,
                count: 1,
                cpu,
                idle: cpu.map(|c| c < IDLE_CPU_FRACTION * weight),
                time: Some(secs(s.t_ns)),
            });
        }
        for (tid, name) in &p.thread_names {
            thread_names.insert((pid, *tid), name.clone());
        }
        for sp in &p.spans {
            profile.spans.push(Span {
                pid,
                tid: sp.tid,
                name: sp.name.clone(),
                category: sp.category.clone(),
                start: secs(sp.start_ns),
                end: secs(sp.end_ns),
            });
        }
        let span = match (p.samples.first(), p.samples.last()) {
            (Some(a), Some(b)) if b.t_ns > a.t_ns => Some((b.t_ns - a.t_ns) as f64 / 1e9),
            _ => None,
        };
        let hello = p.hello.clone().unwrap_or_else(|| crate::protocol::Hello {
            proto: String::new(),
            pid,
            ppid: 0,
            mono_ns: 0,
            executable: String::new(),
            argv: Vec::new(),
        });
        processes.push(ProcessInfo {
            pid,
            ppid: hello.ppid,
            argv: hello.argv,
            executable: hello.executable,
            samples: p.samples.len() as u64,
            threads: threads.len(),
            ticks: p.ticks,
            missed: p.missed,
            rereads: p.rereads,
            torn: p.torn,
            mode: p.mode.as_ref().map(|m| m.0.clone()),
            mode_detail: p
                .mode
                .as_ref()
                .map(|m| m.1.clone())
                .filter(|d| !d.is_empty()),
            achieved_hz: span
                .filter(|_| p.ticks > 1)
                .map(|d| (p.ticks - 1) as f64 / d),
            agent_error: p.agent_error.clone(),
            bad_lines: p.bad_lines,
        });
    }

    for p in &processes {
        if let Some(e) = &p.agent_error {
            profile.warnings.push(format!(
                "sampling switched off in pid {} after an internal error: {e}",
                p.pid
            ));
        }
        if p.missed > 0 && p.ticks > 0 {
            let why = if p.mode.as_deref() == Some("native") {
                "the reader ran late on a busy machine"
            } else {
                "the GIL was held"
            };
            profile.warnings.push(format!(
                "pid {}: {} of {} sampling ticks missed ({why}; time-weighted samples keep their time)",
                p.pid,
                p.missed,
                p.ticks + p.missed
            ));
        }
        if let Some(w) = torn_warning(p) {
            profile.warnings.push(w);
        }
    }
    // One line for every reason processes could not use the native reader (a user's
    // --no-native-reader is not news).
    for (why, n) in reader_fallbacks(&processes)
        .into_iter()
        .filter(|(why, _)| !why.starts_with("switched off"))
    {
        profile.warnings.push(format!(
            "stacks read from Python (GIL-bound) in {n} of {} process(es): {why}",
            processes.len()
        ));
    }
    profile.lines = line_stats(&profile);
    let remote_functions = ray::aggregate(
        profile
            .spans
            .iter()
            .filter(|s| s.category == "task")
            .map(|s| (s.name.as_str(), s.pid, s.end - s.start)),
    );
    for rf in &remote_functions {
        // Ray names tasks `module.function`; the sampled code object knows the file and line.
        let bare = rf.name.rsplit('.').next().unwrap_or(&rf.name);
        let frame = defs.get(bare).cloned().unwrap_or(Frame {
            file: String::new(),
            function: rf.name.clone(),
            line: 0,
        });
        let frame = profile.intern(&mut index, frame);
        profile.functions.push(FunctionStat {
            frame,
            calls: rf.count,
            primitive_calls: rf.count,
            inclusive: rf.total,
            // Exclusive time is not what task spans measure; samples have it.
            exclusive: 0.0,
        });
    }
    profile.memory = memory::attribute(&profile, &rec.rss, rec.start_ns);
    profile.interval = Some(1.0 / rec.rate);
    profile.missed_samples = Some(rec.processes.iter().map(|p| p.missed).sum());
    profile.invalid_samples = Some(rec.processes.iter().map(|p| p.torn).sum());
    profile.duration = Some(rec.end_ns.saturating_sub(rec.start_ns) as f64 / 1e9);
    let rss = rec
        .rss
        .iter()
        .map(|r: &RssPoint| (r.pid, secs(r.t_ns), r.rss))
        .collect();
    let skipped = rec
        .skipped
        .iter()
        .map(|s| (s.hello.pid, s.hello.argv.join(" "), s.reason))
        .collect();
    Output {
        profile,
        processes,
        thread_names,
        rss,
        remote_functions,
        rate: rec.rate,
        skipped,
    }
}

/// Time per source line: self (samples whose leaf frame is on the line) and inclusive (a line
/// that calls a slow function is a slow line, as in line_profiler; counted once per sample
/// even under recursion).
pub fn line_stats(profile: &Profile) -> Vec<LineStat> {
    // frame -> (self seconds, inclusive seconds, samples)
    let mut acc: HashMap<u32, (f64, f64, u64)> = HashMap::new();
    let mut seen: HashSet<u32> = HashSet::new();
    for s in &profile.samples {
        seen.clear();
        for &i in &s.stack {
            if seen.insert(i) {
                let e = acc.entry(i).or_insert((0.0, 0.0, 0));
                e.1 += s.weight;
                e.2 += s.count;
            }
        }
        if let Some(&leaf) = s.stack.last() {
            acc.entry(leaf).or_insert((0.0, 0.0, 0)).0 += s.weight;
        }
    }
    let mut out: Vec<LineStat> = acc
        .into_iter()
        .filter_map(|(i, (time, inclusive, hits))| {
            let f = profile.frames.get(i as usize)?;
            Some(LineStat {
                file: f.file.clone(),
                function: Some(f.function.clone()),
                line: f.line,
                time,
                inclusive: Some(inclusive),
                hits: Some(hits),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.time
            .total_cmp(&a.time)
            .then_with(|| a.file.cmp(&b.file))
            .then(a.line.cmp(&b.line))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::ProcessData;

    fn recording() -> Recording {
        let mut p = ProcessData::new(10_000_000);
        for l in [
            "H\t1\t42\t1\t1000000000\tpython\tline.py",
            "C\t0\tline.py\t<module>\t1",
            "C\t1\tline.py\tmixed_lines\t20",
            "N\t42\tMainThread",
            "S\t42\t1010000000\t10000000\t1:22 0:40",
            "S\t42\t1360000000\t359000000\t1:23 0:40",
            "S\t42\t1370000000\t369000000\t1:24 0:40",
            "S\t42\t1380000000\t369010000\t0:41",
            "K\t42\t1380000000\t1390000000\ttask\tmod.heavy",
            "Z\t4\t30\t4",
        ] {
            p.ingest_line(l);
        }
        Recording {
            start_ns: 1_000_000_000,
            end_ns: 1_400_000_000,
            rate: 100.0,
            processes: vec![p],
            ..Default::default()
        }
    }

    #[test]
    fn the_heavy_line_gets_the_delayed_time() {
        let out = build(&recording());
        let p = &out.profile;
        let heavy = p.lines.iter().find(|l| l.line == 23).unwrap();
        let fn_time = p.inclusive_seconds("mixed_lines", None);
        assert!((heavy.time - 0.35).abs() < 1e-9);
        assert!(heavy.time / fn_time > 0.94, "{} / {}", heavy.time, fn_time);
        assert_eq!(p.missed_samples, Some(30));
        assert_eq!(p.interval, Some(0.01));
    }

    #[test]
    fn torn_stacks_are_counted_and_warned_about_over_two_percent() {
        let mut rec = recording();
        rec.processes[0].ingest_line("Z\t4\t30\t4\t0\t1");
        let out = build(&rec);
        assert_eq!(out.profile.invalid_samples, Some(1));
        assert_eq!(out.processes[0].torn, 1);
        // 1 of 4 samples is over 2%.
        assert!(out
            .profile
            .warnings
            .iter()
            .any(|w| w.contains("did not hold together")));
        rec.processes[0].ingest_line("Z\t4\t30\t4\t0\t0");
        let out = build(&rec);
        assert!(!out
            .profile
            .warnings
            .iter()
            .any(|w| w.contains("did not hold together")));
    }

    #[test]
    fn idle_comes_from_thread_cpu() {
        let out = build(&recording());
        let idle: Vec<Option<bool>> = out.profile.samples.iter().map(|s| s.idle).collect();
        assert_eq!(idle, vec![None, Some(false), Some(false), Some(true)]);
        assert_eq!(out.thread_name(42, 42), "MainThread (tid 42)");
        assert_eq!(out.processes[0].argv, vec!["line.py"]);
    }

    #[test]
    fn task_spans_become_function_aggregates() {
        let out = build(&recording());
        assert_eq!(out.remote_functions[0].count, 1);
        let f = &out.profile.functions[0];
        assert_eq!(f.calls, 1);
        assert_eq!(out.profile.frames[f.frame as usize].function, "mod.heavy");
        assert!((out.profile.spans[0].end - 0.39).abs() < 1e-9);
    }

    #[test]
    fn json_round_trips_through_the_shared_type() {
        let out = build(&recording());
        let text = serde_json::to_string(&out.profile).unwrap();
        let back: Profile = serde_json::from_str(&text).unwrap();
        // Floats may move in the last digit (serde_json's default parser); the rest must not.
        assert_eq!(back.frames, out.profile.frames);
        assert_eq!(back.samples.len(), out.profile.samples.len());
        assert_eq!(back.samples[1].stack, out.profile.samples[1].stack);
        assert_eq!(back.functions.len(), 1);
    }
}
