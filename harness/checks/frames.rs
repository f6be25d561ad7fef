//! What the rules ask of a profile: which frames are a function, the time under them, their
//! call records, and how to name a frame or a number in evidence.

use crate::workload::{PhaseTruth, Truth};
use profbench_profilers::Profile;
use std::collections::BTreeSet;

/// Frame indices whose function matches `name` (bare or qualified, see
/// `Profile::function_matches`).
pub fn frames_named(p: &Profile, name: &str) -> Vec<bool> {
    frames_named_any(p, &[name])
}

/// Frame indices whose function matches any of `names`.
pub fn frames_named_any<S: AsRef<str>>(p: &Profile, names: &[S]) -> Vec<bool> {
    p.frames
        .iter()
        .map(|f| {
            names
                .iter()
                .any(|n| Profile::function_matches(&f.function, n.as_ref()))
        })
        .collect()
}

pub fn is(mask: &[bool], i: u32) -> bool {
    mask.get(i as usize).copied().unwrap_or(false)
}

/// A function's bare name: the last part of a qualified name.
pub fn bare(function: &str) -> &str {
    function.rsplit('.').next().unwrap_or(function)
}

/// The phase whose work `function` does, from the run's truth.
pub fn phase_of<'a>(truth: Option<&'a Truth>, function: &str) -> Option<&'a PhaseTruth> {
    truth?
        .phases
        .iter()
        .find(|p| bare(&p.function) == bare(function))
}

/// Seconds of samples whose stack holds a frame in `mask` (a sample counts once).
pub fn sampled_under(p: &Profile, mask: &[bool]) -> f64 {
    p.samples
        .iter()
        .filter(|s| s.stack.iter().any(|&i| is(mask, i)))
        .map(|s| s.weight)
        .sum()
}

/// Call records for frames in `mask`: (calls, primitive calls, inclusive seconds).
pub fn calls_of(p: &Profile, mask: &[bool]) -> Option<(u64, u64, f64)> {
    let stats: Vec<_> = p.functions.iter().filter(|s| is(mask, s.frame)).collect();
    (!stats.is_empty()).then(|| {
        (
            stats.iter().map(|s| s.calls).sum(),
            stats.iter().map(|s| s.primitive_calls).sum(),
            stats.iter().map(|s| s.inclusive).sum(),
        )
    })
}

/// The function part of a span name: VizTracer names events `func (file:line)`.
pub fn span_function(name: &str) -> &str {
    match name.strip_suffix(')').and_then(|r| r.rfind(" (")) {
        Some(i) => &name[..i],
        None => name,
    }
}

/// A frame of the import machinery: work under it is importing, not the library's own.
pub fn in_import(file: &str) -> bool {
    file.contains("importlib")
}

/// A module's top-level code (`<module>`): run at import, never the library's work.
pub fn is_module_code(function: &str) -> bool {
    function == "<module>"
}

/// The last three path components: enough to recognise a file in evidence.
pub fn short(path: &str) -> String {
    let parts: Vec<&str> = path.rsplit('/').take(3).collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

/// Seconds for evidence, readable from microseconds to minutes.
pub fn secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else {
        format!("{s:.3} s")
    }
}

pub fn describe_frame(p: &Profile, i: u32) -> String {
    let f = &p.frames[i as usize];
    if f.file.is_empty() || f.file == "~" {
        f.function.clone()
    } else {
        format!("{} ({}:{})", f.function, short(&f.file), f.line)
    }
}

pub fn pid_list(pids: &BTreeSet<u32>) -> String {
    let v: Vec<String> = pids.iter().take(6).map(|p| p.to_string()).collect();
    if pids.len() > 6 {
        format!("{}, …", v.join(", "))
    } else {
        v.join(", ")
    }
}
