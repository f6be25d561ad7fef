//! The ten capability checks (METHOD.md, "Capability checks (the seed's ten evaluation
//! axes)"). Each axis is decided from one cell's own output (its parsed `Profile`), that run's
//! truth, a separate memory-truth run and the cell's overhead estimate, by the written rule
//! above its function. Every verdict keeps the evidence that decided it: the frame, line or
//! number, so a reader can check the verdict against the raw output.
//!
//! The harness runs each workload separately, so axes 1, 2 and 5 are decided on `single`, 3 on
//! `single` and `library`, 4 on `line` and `single`, 6–10 on `ray`; elsewhere an axis is
//! not-applicable, with the reason as its evidence.

use crate::stats::Estimate;
use crate::workload::Truth;
use profbench_profilers::{Clock, Profile};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Partial,
    Fail,
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// 1..=10, METHOD.md's numbering.
    pub axis: u8,
    pub name: String,
    pub verdict: Verdict,
    /// What decided the verdict: the frame, line or number.
    pub evidence: String,
}

/// What a check can look at for one cell.
pub struct Inputs<'a> {
    /// "single", "line", "library", "ray", ...
    pub workload: &'a str,
    /// None when the backend produced no profile (baseline, failure).
    pub profile: Option<&'a Profile>,
    /// The profiled run's own truth (phases; tasks for ray).
    pub truth: Option<&'a Truth>,
    /// From a separate truth run with PROFBENCH_MEMORY_TRUTH=1.
    pub memory_truth: Option<&'a Truth>,
    /// The cell's wall-time ratio to the baseline, for axis 7.
    pub wall_ratio: Option<&'a Estimate>,
    pub is_sampler: bool,
}

/// Axis names, index = axis - 1.
pub const AXES: [&str; 10] = [
    "calls-and-depth",
    "cpu-vs-waiting",
    "library-transparency",
    "line-level",
    "memory",
    "cross-process",
    "overhead",
    "serialization",
    "timeline",
    "aggregation",
];

/// fib(25) as `pattern_recursion(25)` makes 2·F(26) − 1 = 242785 calls.
pub const RECURSION_CALLS: u64 = 242_785;
/// Samplers: recursion seen at least this many frames deep passes axis 1.
pub const MIN_RECURSION_DEPTH: usize = 20;
/// The heavy remote function is called 20 + 4 times by the Ray workload.
pub const HEAVY_TASK_CALLS: u64 = 24;
/// Axis 9: task spans this close (median, start and end) to the tasks' own truth are right;
/// a 100 Hz sampler's tick, and under the 10 ms the shortest task of the workload lasts.
pub const SPAN_TOLERANCE_MS: f64 = 10.0;
/// The Ray workload's remote functions.
pub const REMOTE_FUNCTIONS: [&str; 3] = [
    "parallel_heavy_loop",
    "parallel_io_bound",
    "process_large_data",
];

/// Runs the ten checks; always 10 entries, axis 1..=10 in order.
pub fn evaluate(inputs: &Inputs) -> Vec<Check> {
    let decided: [(Verdict, String); 10] = [
        calls_and_depth(inputs),
        cpu_vs_waiting(inputs),
        library_transparency(inputs),
        line_level(inputs),
        memory(inputs),
        cross_process(inputs),
        overhead(inputs),
        serialization(inputs),
        timeline(inputs),
        aggregation(inputs),
    ];
    decided
        .into_iter()
        .enumerate()
        .map(|(i, (verdict, evidence))| Check {
            axis: i as u8 + 1,
            name: AXES[i].to_string(),
            verdict,
            evidence,
        })
        .collect()
}

/// Axis 7 (overhead) is a property of the whole cell (its pairs), not of one run's output.
const WHOLE_CELL_AXIS: u8 = 7;

impl Verdict {
    /// Fail < partial < pass; not-applicable has no rank.
    pub fn rank(self) -> Option<u8> {
        match self {
            Verdict::Fail => Some(0),
            Verdict::Partial => Some(1),
            Verdict::Pass => Some(2),
            Verdict::NotApplicable => None,
        }
    }
}

/// The cell's checks from those of each of its measured runs (`per_run`, each from `evaluate`)
/// and those decided on the whole cell (`whole_cell`, which alone decides axis 7 and every
/// axis when no run has checks).
///
/// Per axis, the verdict is the best one that more than half of the runs reached (their lower
/// median): one lucky run among six does not make a pass, one unlucky run does not make a fail,
/// and rerunning the cell gives the same verdict far more often than one run's would. The
/// evidence is that of the last run with that verdict, followed by the tally when runs
/// disagree ("pass in 2 of 6 runs, partial in 4").
pub fn combine(per_run: &[&[Check]], whole_cell: Vec<Check>) -> Vec<Check> {
    whole_cell
        .into_iter()
        .map(|cell_check| {
            let axis = cell_check.axis;
            let runs: Vec<&Check> = per_run
                .iter()
                .filter_map(|checks| checks.iter().find(|c| c.axis == axis))
                .collect();
            if axis == WHOLE_CELL_AXIS || runs.is_empty() {
                return cell_check;
            }
            let mut ranks: Vec<u8> = runs.iter().filter_map(|c| c.verdict.rank()).collect();
            if ranks.is_empty() {
                return runs[runs.len() - 1].clone();
            }
            ranks.sort_unstable();
            let median = ranks[(ranks.len() - 1) / 2];
            let chosen = runs
                .iter()
                .rev()
                .find(|c| c.verdict.rank() == Some(median))
                .expect("the median is one of the runs' ranks");
            let mut check = (*chosen).clone();
            let tally: Vec<String> = [
                Verdict::Pass,
                Verdict::Partial,
                Verdict::Fail,
                Verdict::NotApplicable,
            ]
            .into_iter()
            .filter_map(|v| {
                let n = runs.iter().filter(|c| c.verdict == v).count();
                (n > 0).then(|| format!("{} in {n}", verdict_word(v)))
            })
            .collect();
            if tally.len() > 1 {
                check.evidence = format!(
                    "{} ({} of {} runs)",
                    check.evidence,
                    tally.join(", "),
                    runs.len()
                );
            }
            check
        })
        .collect()
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Partial => "partial",
        Verdict::Fail => "fail",
        Verdict::NotApplicable => "not applicable",
    }
}

/// The checks one profiled run's output decides: all but axis 7, which needs the whole cell.
pub fn evaluate_run(inputs: &Inputs) -> Vec<Check> {
    let mut checks = evaluate(inputs);
    checks.retain(|c| c.axis != WHOLE_CELL_AXIS);
    checks
}

/// A verdict and its evidence, as each axis decides it.
pub type Decided = (Verdict, String);

fn na(why: impl Into<String>) -> Decided {
    (Verdict::NotApplicable, why.into())
}

fn no_profile() -> Decided {
    (
        Verdict::Fail,
        "no profile: the backend produced no parsed output".into(),
    )
}

// ------------------------------------------------------------------------------ helpers

/// Frame indices whose function matches `name` (bare or qualified, see
/// `Profile::function_matches`).
fn frames_named(p: &Profile, name: &str) -> Vec<bool> {
    p.frames
        .iter()
        .map(|f| Profile::function_matches(&f.function, name))
        .collect()
}

fn is(mask: &[bool], i: u32) -> bool {
    mask.get(i as usize).copied().unwrap_or(false)
}

/// The phase function's bare name from the truth, or `default` when the truth lacks it.
fn phase_function(truth: Option<&Truth>, phase: &str, default: &str) -> String {
    truth
        .and_then(|t| t.phase(phase))
        .map(|p| {
            p.function
                .rsplit('.')
                .next()
                .unwrap_or(&p.function)
                .to_string()
        })
        .unwrap_or_else(|| default.to_string())
}

/// Seconds of samples whose stack holds a frame in `mask` (a sample counts once).
fn sampled_under(p: &Profile, mask: &[bool]) -> f64 {
    p.samples
        .iter()
        .filter(|s| s.stack.iter().any(|&i| is(mask, i)))
        .map(|s| s.weight)
        .sum()
}

/// Call records for frames in `mask`: (calls, primitive calls, inclusive seconds).
fn calls_of(p: &Profile, mask: &[bool]) -> Option<(u64, u64, f64)> {
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
fn span_function(name: &str) -> &str {
    match name.strip_suffix(')').and_then(|r| r.rfind(" (")) {
        Some(i) => &name[..i],
        None => name,
    }
}

fn short(path: &str) -> String {
    // The last three path components are enough to recognise a file in evidence.
    let parts: Vec<&str> = path.rsplit('/').take(3).collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

/// Seconds for evidence, readable from microseconds to minutes.
fn secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else {
        format!("{s:.3} s")
    }
}

fn describe_frame(p: &Profile, i: u32) -> String {
    let f = &p.frames[i as usize];
    if f.file.is_empty() || f.file == "~" {
        f.function.clone()
    } else {
        format!("{} ({}:{})", f.function, short(&f.file), f.line)
    }
}

// ------------------------------------------------------------------------------ axis 1

/// Axis 1, calls and depth (decided on `single`, phase `recursion`, function
/// `pattern_recursion`, called as fib(25)).
/// - Call records for pattern_recursion with exactly 242785 calls → pass; call records with
///   another count → partial (the function was traced but calls were lost or merged), unless
///   samples show the depth (below).
/// - Otherwise from samples: the longest run of consecutive pattern_recursion frames in any
///   sample's stack; ≥ 20 frames → pass, 2–19 → partial, ≤ 1 → fail.
/// - pattern_recursion absent from the profile → fail.
pub fn calls_and_depth(inputs: &Inputs) -> Decided {
    if !has_phase(inputs, "single", "recursion") {
        return na(format!(
            "workload {} has no recursion phase (pattern_recursion runs in single)",
            inputs.workload
        ));
    }
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let func = phase_function(inputs.truth, "recursion", "pattern_recursion");
    let mask = frames_named(p, &func);
    let records = calls_of(p, &mask);
    if let Some((calls, primitive, _)) = records {
        if calls == RECURSION_CALLS {
            return (
                Verdict::Pass,
                format!("{func}: {calls} calls (primitive {primitive})"),
            );
        }
    }
    let mut deepest = 0usize;
    for s in &p.samples {
        let mut run = 0usize;
        for &i in &s.stack {
            if is(&mask, i) {
                run += 1;
                deepest = deepest.max(run);
            } else {
                run = 0;
            }
        }
    }
    if deepest >= MIN_RECURSION_DEPTH {
        return (
            Verdict::Pass,
            format!("deepest {func} stack: {deepest} frames (≥ {MIN_RECURSION_DEPTH})"),
        );
    }
    if let Some((calls, primitive, _)) = records {
        return (
            Verdict::Partial,
            format!("{func}: {calls} calls (primitive {primitive}), expected {RECURSION_CALLS}"),
        );
    }
    match deepest {
        0 => (Verdict::Fail, format!("{func} not in the profile")),
        1 => (
            Verdict::Fail,
            format!("deepest {func} stack: 1 frame (recursion not visible)"),
        ),
        d => (
            Verdict::Partial,
            format!("deepest {func} stack: {d} frames (< {MIN_RECURSION_DEPTH})"),
        ),
    }
}

/// Whether the axis applies: the workload is `workload` or the truth has the phase.
fn has_phase(inputs: &Inputs, workload: &str, phase: &str) -> bool {
    inputs.workload == workload || inputs.truth.is_some_and(|t| t.phase(phase).is_some())
}

// ------------------------------------------------------------------------------ axis 2

/// Axis 2, CPU vs waiting (decided on `single`, phase `io_bound`: `pattern_io_bound` sleeps
/// 1.5 s). The question is whether the *profile itself* tells the reader that the time was
/// spent waiting rather than computing. In order:
/// - samples under pattern_io_bound carry the sampler's idle flag: idle in ≥ 50% of their
///   seconds → pass, else fail; or they carry CPU seconds: CPU ≤ 10% of their wall → pass,
///   else fail;
/// - the clock is CPU: pattern_io_bound gets ≤ 10% of its truth wall time (≈ 0 CPU while the
///   truth says 1.5 s of wall) while another phase function shows time (so an empty profile
///   cannot pass) → pass; more → fail (the sleep shown as CPU work);
/// - a wall-clock profile with ≥ 50% of the phase's truth wall time in a `sleep` frame
///   (`<built-in method time.sleep>`, `sleep`; under pattern_io_bound in samples, anywhere in
///   call records, which have no stacks) → partial: it shows *where* the time went, but
///   only a reader who knows that `time.sleep` blocks learns it was waiting; the same
///   profile of a blocking `recv` or lock would look like CPU work. Told apart means the
///   profile marks it (idle flag, CPU figure, CPU clock), so this is not a pass;
/// - a wall-clock profile with the time on pattern_io_bound and no sleep frame → fail.
pub fn cpu_vs_waiting(inputs: &Inputs) -> Decided {
    if !has_phase(inputs, "single", "io_bound") {
        return na(format!(
            "workload {} has no sleep phase (pattern_io_bound runs in single)",
            inputs.workload
        ));
    }
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    if p.clock == Clock::None {
        return (
            Verdict::Fail,
            "memory-only profile: no time attribution".into(),
        );
    }
    let func = phase_function(inputs.truth, "io_bound", "pattern_io_bound");
    let mask = frames_named(p, &func);
    let under: Vec<_> = p
        .samples
        .iter()
        .filter(|s| s.stack.iter().any(|&i| is(&mask, i)))
        .collect();
    let flagged: Vec<_> = under.iter().filter(|s| s.idle.is_some()).collect();
    if !flagged.is_empty() {
        let total: f64 = flagged.iter().map(|s| s.weight).sum();
        let idle: f64 = flagged
            .iter()
            .filter(|s| s.idle == Some(true))
            .map(|s| s.weight)
            .sum();
        let share = idle / total.max(f64::EPSILON);
        let ev = format!(
            "{func}: {:.0}% of {total:.2} s sampled flagged idle",
            share * 100.0
        );
        return (
            if share >= 0.5 {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            ev,
        );
    }
    let with_cpu: Vec<_> = under.iter().filter(|s| s.cpu.is_some()).collect();
    if !with_cpu.is_empty() {
        let wall: f64 = with_cpu.iter().map(|s| s.weight).sum();
        let cpu: f64 = with_cpu.iter().filter_map(|s| s.cpu).sum();
        let ev = format!("{func}: {cpu:.3} s CPU in {wall:.2} s of samples");
        return (
            if cpu <= 0.1 * wall {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            ev,
        );
    }
    let truth_wall = inputs
        .truth
        .and_then(|t| t.phase("io_bound"))
        .map(|ph| ph.wall_ns as f64 / 1e9)
        .unwrap_or(1.5);
    let shown = p.inclusive_seconds(&func, None);
    if p.clock == Clock::Cpu {
        // Some other phase function must show time, or an empty profile would pass.
        let other = inputs
            .truth
            .map(|t| {
                t.phases
                    .iter()
                    .filter(|ph| ph.name != "io_bound")
                    .map(|ph| {
                        let f = ph.function.rsplit('.').next().unwrap_or(&ph.function);
                        (f.to_string(), p.inclusive_seconds(f, None))
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1))
            })
            .unwrap_or_else(|| {
                Some((
                    "pattern_heavy_loop".into(),
                    p.inclusive_seconds("pattern_heavy_loop", None),
                ))
            })
            .filter(|(_, s)| *s > 0.0);
        let Some((other, other_s)) = other else {
            return (
                Verdict::Fail,
                format!("CPU clock but no phase function shows any time ({func}: {shown:.3} s)"),
            );
        };
        let ev = format!(
            "CPU clock: {func} {shown:.3} s vs {truth_wall:.2} s wall in truth ({other}: {other_s:.2} s)"
        );
        return (
            if shown <= 0.1 * truth_wall {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            ev,
        );
    }
    // Wall clock without idle/CPU information: look for a sleep frame.
    let sleep: Vec<bool> = p
        .frames
        .iter()
        .map(|f| {
            let bare = f.function.rsplit(['.', ' ', ':']).next().unwrap_or("");
            bare.trim_end_matches('>') == "sleep" || f.function.contains("time.sleep")
        })
        .collect();
    let sleep_calls = calls_of(p, &sleep);
    let sleep_sampled: f64 = under
        .iter()
        .filter(|s| s.stack.iter().any(|&i| is(&sleep, i)))
        .map(|s| s.weight)
        .sum();
    let sleep_s = sleep_calls.map(|c| c.2).unwrap_or(0.0).max(sleep_sampled);
    if sleep_s >= 0.5 * truth_wall {
        let name = sleep
            .iter()
            .position(|&b| b)
            .map(|i| p.frames[i].function.clone())
            .unwrap_or_default();
        return (
            Verdict::Partial,
            format!(
                "wall clock: {sleep_s:.2} s in {name} under {func}, no idle flag or CPU figure"
            ),
        );
    }
    if shown > 0.0 {
        (
            Verdict::Fail,
            format!("wall clock: {func} {shown:.2} s with no idle flag, CPU figure or sleep frame"),
        )
    } else {
        (Verdict::Fail, format!("{func} not in the profile"))
    }
}

// ------------------------------------------------------------------------------ axis 3

fn is_json_frame(file: &str, function: &str) -> bool {
    let bare = function.rsplit(['.', ' ']).next().unwrap_or(function);
    file.contains("json/")
        || function.contains("_json.")
        || function.contains("json.")
        || (file.contains("json")
            && [
                "loads",
                "dumps",
                "decode",
                "raw_decode",
                "encode",
                "iterencode",
            ]
            .contains(&bare))
}

/// A frame of the import machinery: a sample with one above a library frame is import work
/// (numpy 2 imports numpy.random lazily, on first use inside the phase), not the library's.
fn in_import(file: &str) -> bool {
    file.contains("importlib")
}

/// A module's top-level code (`<module>`): run at import, never the library's work.
fn is_module_code(function: &str) -> bool {
    function == "<module>"
}

fn is_numeric_frame(file: &str, function: &str) -> bool {
    file.contains("numpy/")
        || file.contains("pandas/")
        || function.contains("numpy")
        || function.contains("pandas")
}

/// The library APIs each library phase calls; call records (no stacks) only count these, so
/// that functions run at `import numpy`/`import pandas` time do not pass the axis.
fn is_called_api(file: &str, function: &str) -> bool {
    let bare = function
        .rsplit(['.', ' '])
        .next()
        .unwrap_or(function)
        .trim_end_matches(['>', '}', '\'']);
    let json_api = [
        "loads",
        "dumps",
        "decode",
        "raw_decode",
        "encode",
        "iterencode",
    ];
    let numeric_api = ["dot", "rand", "read_csv", "_read", "read"];
    (is_json_frame(file, function)
        && (json_api.contains(&bare)
            || function.contains("scanstring")
            || function.contains("make_encoder")
            || function.contains("make_scanner")))
        || (is_numeric_frame(file, function)
            && (numeric_api.contains(&bare)
                || function.contains("'dot'")
                || function.contains("'rand'")
                || function.contains("read_csv")))
}

/// Axis 3, library transparency (decided on `single`, phase library_call, and on `library`,
/// phases json_loads and pandas_read_csv). Frames *inside* the libraries must be seen:
/// - json: a frame whose file path holds `json/`, or a native frame naming `_json.`/`json.`,
///   or `loads`/`dumps`/`decode`/`raw_decode`/`encode` in a json file;
/// - NumPy/pandas: a frame whose file path holds `numpy/` or `pandas/`, or a builtin/native
///   frame naming numpy or pandas (`<built-in method numpy...dot>`).
///
/// In samples the frame must sit below a library phase function in the same stack (so work
/// done at import time does not count); call records carry no stacks, so there only the
/// library functions the phases call count (json dumps/loads/encode/decode, numpy dot/rand,
/// pandas read_csv). Both libraries seen → pass; one → partial; none → fail.
pub fn library_transparency(inputs: &Inputs) -> Decided {
    let (phases, numeric): (&[(&str, &str)], &str) = match inputs.workload {
        "library" => (
            &[
                ("json_loads", "parse_json"),
                ("pandas_read_csv", "read_csv"),
            ],
            "pandas",
        ),
        "single" => (&[("library_call", "pattern_library_call")], "NumPy"),
        w => {
            return na(format!(
                "workload {w} calls no json/NumPy/pandas (axis 3 runs on single and library)"
            ))
        }
    };
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let mut phase_mask = vec![false; p.frames.len()];
    for (phase, default) in phases {
        let f = phase_function(inputs.truth, phase, default);
        for (m, hit) in phase_mask.iter_mut().zip(frames_named(p, &f)) {
            *m |= hit;
        }
    }
    // Library frames (by description) and their seconds.
    let mut json: HashMap<String, f64> = HashMap::new();
    let mut num: HashMap<String, f64> = HashMap::new();
    for s in &p.samples {
        let Some(at) = s.stack.iter().position(|&i| is(&phase_mask, i)) else {
            continue;
        };
        let below: BTreeSet<u32> = s.stack[at + 1..].iter().copied().collect();
        // A sample inside an import (numpy 2 imports numpy.random lazily, on first use) is
        // import work, not the library's.
        if below.iter().any(|&i| {
            let f = &p.frames[i as usize];
            in_import(&f.file)
        }) {
            continue;
        }
        for i in below {
            let f = &p.frames[i as usize];
            if is_json_frame(&f.file, &f.function) {
                *json.entry(describe_frame(p, i)).or_default() += s.weight;
            } else if is_numeric_frame(&f.file, &f.function) {
                *num.entry(describe_frame(p, i)).or_default() += s.weight;
            }
        }
    }
    for st in &p.functions {
        let f = &p.frames[st.frame as usize];
        if st.calls == 0 || is_module_code(&f.function) || !is_called_api(&f.file, &f.function) {
            continue;
        }
        let target = if is_json_frame(&f.file, &f.function) {
            &mut json
        } else {
            &mut num
        };
        *target.entry(describe_frame(p, st.frame)).or_default() += st.inclusive;
    }
    // Line-only profiles (line_profiler) can name library files too; their lines carry no
    // stack, so import-time lines (`<module>`) are left out. Profiles with samples or call
    // records were judged above, with the phase in view.
    let line_only = p.samples.is_empty() && p.functions.is_empty();
    for l in p
        .lines
        .iter()
        .filter(|l| line_only && l.function.as_deref().is_none_or(|f| !is_module_code(f)))
    {
        let target = if l.file.contains("json/") {
            &mut json
        } else if is_numeric_frame(&l.file, "") {
            &mut num
        } else {
            continue;
        };
        *target
            .entry(format!("line {}:{}", short(&l.file), l.line))
            .or_default() += l.time;
    }
    // Evidence: frames with a source file (the library's own code) first, then the most time.
    let top = |m: &HashMap<String, f64>| {
        m.iter()
            .max_by(|a, b| {
                a.0.contains(" (")
                    .cmp(&b.0.contains(" ("))
                    .then(a.1.total_cmp(b.1))
                    .then(b.0.cmp(a.0))
            })
            .map(|(d, &s)| format!("{d} {}", secs(s)))
    };
    match (top(&json), top(&num)) {
        (Some(j), Some(n)) => (Verdict::Pass, format!("json: {j}; {numeric}: {n}")),
        (Some(j), None) => (
            Verdict::Partial,
            format!("json: {j}; no {numeric} frame below the phase"),
        ),
        (None, Some(n)) => (
            Verdict::Partial,
            format!("{numeric}: {n}; no json frame below the phase"),
        ),
        (None, None) => (
            Verdict::Fail,
            format!("no json or {numeric} frame below the library phase functions"),
        ),
    }
}

// ------------------------------------------------------------------------------ axis 4

/// Seconds per line of one function (`file` basename, lines `first..end`): the backend's line
/// records when it has any there, else from samples, each sample's innermost frame of that
/// function giving its executing line (inclusive of what that line calls). Call records
/// carry only a function's first line: no line data.
fn line_times(p: &Profile, file: &str, first: u32, end: u32) -> (BTreeMap<u32, f64>, &'static str) {
    let base = Path::new(file)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let in_range = |f: &str, line: u32| f.ends_with(&base) && line >= first && line < end;
    let mut out = BTreeMap::new();
    for l in &p.lines {
        if in_range(&l.file, l.line) {
            *out.entry(l.line).or_insert(0.0) += l.time;
        }
    }
    if !out.is_empty() {
        return (out, "line records");
    }
    for s in &p.samples {
        let inner = s.stack.iter().rev().find(|&&i| {
            let f = &p.frames[i as usize];
            f.line > 0 && in_range(&f.file, f.line)
        });
        if let Some(&i) = inner {
            *out.entry(p.frames[i as usize].line).or_insert(0.0) += s.weight;
        }
    }
    (out, "sampled lines")
}

/// The function's lines: from its `def` line to the next top-level statement.
fn function_span(source: &str, first: u32) -> u32 {
    let lines: Vec<&str> = source.lines().collect();
    let mut end = first as usize + 1;
    while end <= lines.len() {
        let l = lines[end - 1];
        if !l.trim().is_empty() && !l.starts_with([' ', '\t', '#']) {
            break;
        }
        end += 1;
    }
    end as u32
}

fn find_line(source: &str, first: u32, end: u32, text: &str) -> Option<u32> {
    source
        .lines()
        .enumerate()
        .map(|(i, l)| (i as u32 + 1, l))
        .find(|(n, l)| *n >= first && *n < end && l.contains(text))
        .map(|(n, _)| n)
}

/// Axis 4, line level. Line numbers are found by reading the workload source at the truth
/// phase's `file` and searching for the line's text.
/// - `line`: in mixed_lines, the `sum(range(10**7))` line holds ≥ 90% of the function's line
///   time and the `a = 1` line ≤ 1% → pass; the heavy line ranked first but a threshold missed
///   → partial; otherwise fail.
/// - `single`: the `result += hashlib.md5(...)` line of pattern_heavy_loop ranked first among
///   the function's lines → pass; present but not first → partial; absent → fail.
/// - No line data for the function (call records only) → fail, "no line-level data".
pub fn line_level(inputs: &Inputs) -> Decided {
    let (phase, default, heavy_text, light_text) = match inputs.workload {
        "line" => (
            "mixed_lines",
            "mixed_lines",
            "sum(range(10**7))",
            Some("a = 1"),
        ),
        "single" => (
            "heavy_loop",
            "pattern_heavy_loop",
            "result += hashlib.md5",
            None,
        ),
        w => {
            return na(format!(
                "workload {w} has no line-level target (axis 4 runs on line and single)"
            ))
        }
    };
    let Some(truth) = inputs.truth else {
        return na("no truth: the workload source and its line numbers are unknown");
    };
    let Some(ph) = truth.phase(phase) else {
        return na(format!("the truth has no {phase} phase"));
    };
    let Ok(source) = std::fs::read_to_string(&ph.file) else {
        return na(format!("cannot read the workload source {}", ph.file));
    };
    let end = function_span(&source, ph.line);
    let func = ph.function.rsplit('.').next().unwrap_or(default);
    let Some(heavy) = find_line(&source, ph.line, end, heavy_text) else {
        return na(format!("no `{heavy_text}` line in {func}"));
    };
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let (times, source_kind) = line_times(p, &ph.file, ph.line, end);
    let total: f64 = times.values().sum();
    if times.is_empty() || total <= 0.0 {
        return (
            Verdict::Fail,
            format!(
                "no line-level data for {func} (lines {}–{})",
                ph.line,
                end - 1
            ),
        );
    }
    let mut ranked: Vec<(u32, f64)> = times.iter().map(|(&l, &t)| (l, t)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let rank = ranked.iter().position(|(l, _)| *l == heavy);
    let heavy_s = times.get(&heavy).copied().unwrap_or(0.0);
    let heavy_share = heavy_s / total;
    match light_text {
        Some(light_text) => {
            let light = find_line(&source, ph.line, end, light_text).unwrap_or(0);
            let light_share = times.get(&light).copied().unwrap_or(0.0) / total;
            let ev = format!(
                "{func} ({source_kind}): line {heavy} `{heavy_text}` {:.1}%, line {light} `{light_text}` {:.2}% of {total:.3} s",
                heavy_share * 100.0,
                light_share * 100.0
            );
            if heavy_share >= 0.90 && light_share <= 0.01 {
                (Verdict::Pass, ev)
            } else if rank == Some(0) {
                (Verdict::Partial, ev)
            } else {
                (Verdict::Fail, ev)
            }
        }
        None => {
            let ev = format!(
                "{func} ({source_kind}): line {heavy} `{heavy_text}` ranked {} of {} lines, {:.1}% of {total:.3} s",
                rank.map(|r| (r + 1).to_string()).unwrap_or("-".into()),
                ranked.len(),
                heavy_share * 100.0
            );
            match rank {
                Some(0) => (Verdict::Pass, ev),
                Some(_) => (Verdict::Partial, ev),
                None => (Verdict::Fail, ev),
            }
        }
    }
}

// ------------------------------------------------------------------------------ axis 5

/// Axis 5, memory (decided on `single`, phase memory_allocation, function
/// pattern_memory_allocation), against a separate memory-truth run: the phase's
/// `rss_peak_bytes` when the backend measured RSS (`Memory::kind == "rss"`), its
/// `tracemalloc_peak_bytes` when it measured the heap ("heap").
/// - The backend's peak for the phase function (`peak_by_function`) within 25% of the truth
///   → pass, outside → fail.
/// - No per-function figure: the whole-run peak within 25% → partial (a process peak does not
///   say which phase reached it), outside → fail.
/// - No memory data → fail; no memory truth → not-applicable.
pub fn memory(inputs: &Inputs) -> Decided {
    if !has_phase(inputs, "single", "memory_allocation") {
        return na(format!(
            "workload {} has no allocation phase (pattern_memory_allocation runs in single)",
            inputs.workload
        ));
    }
    let Some(mt) = inputs.memory_truth else {
        return na("no memory truth run");
    };
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let Some(m) = p
        .memory
        .as_ref()
        .filter(|m| m.peak_bytes.is_some() || !m.peak_by_function.is_empty())
    else {
        return (Verdict::Fail, "no memory data in the profile".into());
    };
    let Some(ph) = mt.phase("memory_allocation") else {
        return na("the memory truth has no memory_allocation phase");
    };
    let (truth, field) = if m.kind == "rss" {
        (ph.rss_peak_bytes, "rss_peak_bytes")
    } else {
        (ph.tracemalloc_peak_bytes, "tracemalloc_peak_bytes")
    };
    let Some(truth) = truth.filter(|&t| t > 0) else {
        return na(format!("the memory truth has no {field}"));
    };
    let func = ph.function.rsplit('.').next().unwrap_or(&ph.function);
    let mb = |b: u64| b as f64 / 1048576.0;
    let by_function = m
        .peak_by_function
        .iter()
        .filter(|(k, _)| Profile::function_matches(k, func))
        .map(|(_, &v)| v)
        .max();
    let (reported, whose) = match by_function {
        Some(v) => (v, func.to_string()),
        None => match m.peak_bytes {
            Some(v) => (v, "whole run".to_string()),
            None => {
                return (
                    Verdict::Fail,
                    format!("no peak for {func} or the whole run in the profile"),
                )
            }
        },
    };
    let err = (reported as f64 - truth as f64) / truth as f64;
    let ev = format!(
        "{} peak {whose}: {:.1} MB vs truth {field} {:.1} MB ({:+.0}%)",
        m.kind,
        mb(reported),
        mb(truth),
        err * 100.0
    );
    if err.abs() > 0.25 {
        (Verdict::Fail, ev)
    } else if by_function.is_some() {
        (Verdict::Pass, ev)
    } else {
        (Verdict::Partial, ev)
    }
}

// ------------------------------------------------------------------------------ Ray axes

fn ray_only(inputs: &Inputs) -> Option<Decided> {
    // Tasks of the seed's remote functions: `threads` and `multiproc` record tasks too, but
    // of threads and pool processes, not Ray workers.
    let ray = inputs.workload == "ray"
        || inputs.truth.is_some_and(|t| {
            t.tasks
                .iter()
                .any(|k| REMOTE_FUNCTIONS.iter().any(|f| k.function.ends_with(f)))
        });
    (!ray).then(|| {
        na(format!(
            "single-process workload {}: no Ray workers (axes 6–10 run on ray)",
            inputs.workload
        ))
    })
}

fn remote_mask(p: &Profile) -> Vec<bool> {
    p.frames
        .iter()
        .map(|f| {
            REMOTE_FUNCTIONS
                .iter()
                .any(|r| Profile::function_matches(&f.function, r))
        })
        .collect()
}

fn is_remote_span(name: &str) -> bool {
    let f = span_function(name);
    REMOTE_FUNCTIONS
        .iter()
        .any(|r| Profile::function_matches(f, r))
}

fn pid_list(pids: &BTreeSet<u32>) -> String {
    let v: Vec<String> = pids.iter().take(6).map(|p| p.to_string()).collect();
    if pids.len() > 6 {
        format!("{}, …", v.join(", "))
    } else {
        v.join(", ")
    }
}

/// Axis 6, cross-process (ray). The remote functions' own frames (parallel_heavy_loop,
/// parallel_io_bound, process_large_data) in samples or spans of a pid other than the
/// driver's (truth.pid) → pass; seen only in call records, which carry no pid → partial;
/// only in the driver, or not at all → fail.
pub fn cross_process(inputs: &Inputs) -> Decided {
    if let Some(na) = ray_only(inputs) {
        return na;
    }
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let driver = inputs.truth.map(|t| t.pid);
    let mask = remote_mask(p);
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
        if is_remote_span(&sp.name) {
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
            REMOTE_FUNCTIONS.join("/")
        ),
    )
}

/// Axis 7, overhead (ray), on the Ray workload's wall ratio (profiled / baseline; median and
/// 95% interval from stats.rs). profbench's thresholds: median ≤ 1.10 and not noisy
/// (interval ≤ 10% of the median) → pass; median ≤ 1.50, or ≤ 1.10 but noisy → partial;
/// median > 1.50 → fail, noisy or not. No ratio (baseline or runs missing) → not-applicable.
pub fn overhead(inputs: &Inputs) -> Decided {
    if let Some(na) = ray_only(inputs) {
        return na;
    }
    let Some(r) = inputs.wall_ratio else {
        return na("no wall ratio for this cell (baseline or profiled runs missing)");
    };
    let noisy = r.is_noisy();
    // Too few pairs for a 95% interval cannot show the cost is small, only suggest it.
    let too_few = r.interval.coverage < 0.95;
    let ev = format!(
        "median wall ratio {:.3} (interval {:.3}–{:.3} covering {:.0}%, n={}{})",
        r.median,
        r.interval.low,
        r.interval.high,
        r.interval.coverage * 100.0,
        r.n,
        if noisy { ", noisy" } else { "" }
    );
    if r.median > 1.5 {
        (Verdict::Fail, ev)
    } else if r.median <= 1.10 && !noisy && !too_few {
        (Verdict::Pass, ev)
    } else {
        (Verdict::Partial, ev)
    }
}

fn is_serialization(file: &str, function: &str) -> bool {
    let bare = function
        .rsplit(['.', ' '])
        .next()
        .unwrap_or(function)
        .trim_end_matches(['>', '}', '\'']);
    // Setting up the serialization context (imports, registering serializers) is not moving
    // data.
    if is_module_code(function) || in_import(file) || bare == "__init__" {
        return false;
    }
    file.contains("ray/_private/serialization.py")
        || [
            "serialize",
            "deserialize",
            "deserialize_objects",
            "_deserialize_object",
            "put_object",
        ]
        .contains(&bare)
        || ((file.contains("pickle") || function.contains("pickle"))
            && ["dumps", "loads", "dump", "load"].contains(&bare))
}

/// Axis 8, serialization (ray): time in serialization / deserialization / object transfer
/// told apart from compute. Serialization is seen in spans with category "serialization",
/// or frames of Ray's serialization code (`ray/_private/serialization.py`, `serialize`,
/// `deserialize`, `_deserialize_object`, `deserialize_objects`, `put_object`) or
/// pickle/cloudpickle `dumps`/`loads`, from call records (inclusive), samples (a sample
/// counts once; not when the serialization frame itself runs inside an import, i.e. module
/// code of serialization.py) or spans. Not counted:
/// `get_objects` (ray.get: its time is mostly waiting for the tasks to finish) and
/// `SerializationContext.__init__` (setting up, importing serializers).
/// - serialization time > 0 and the remote compute (remote function frames) also timed in
///   the same profile, so the two can be compared → pass;
/// - serialization time > 0 but no remote compute timed (e.g. a driver-only tracer) →
///   partial: the transfer is visible, the compute it should be told apart from is not;
/// - serialization frames without time, or none → fail.
pub fn serialization(inputs: &Inputs) -> Decided {
    if let Some(na) = ray_only(inputs) {
        return na;
    }
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let ser: Vec<bool> = p
        .frames
        .iter()
        .map(|f| is_serialization(&f.file, &f.function))
        .collect();
    // The serialization frame with the most seconds, and the sum over samples.
    let mut best: Option<(String, f64)> = None;
    let mut consider = |name: String, s: f64| {
        if s > 0.0 && best.as_ref().is_none_or(|b| s > b.1) {
            best = Some((name, s));
        }
    };
    for st in &p.functions {
        if is(&ser, st.frame) {
            consider(describe_frame(p, st.frame), st.inclusive);
        }
    }
    // A sample counts when a serialization frame is on its stack outside any import (an
    // import *inside* deserialization, e.g. of a pickled function's module, is part of it).
    let ser_at = |s: &profbench_profilers::Sample| -> Option<usize> {
        let first = s.stack.iter().position(|&i| is(&ser, i))?;
        let imported = s.stack[..first]
            .iter()
            .any(|&i| in_import(&p.frames[i as usize].file));
        (!imported).then_some(first)
    };
    let sampled: f64 = p
        .samples
        .iter()
        .filter(|s| ser_at(s).is_some())
        .map(|s| s.weight)
        .sum();
    if sampled > 0.0 {
        // Name the outermost serialization frame seen in most samples.
        let mut per: HashMap<u32, f64> = HashMap::new();
        for s in &p.samples {
            if let Some(at) = ser_at(s) {
                *per.entry(s.stack[at]).or_default() += s.weight;
            }
        }
        if let Some((&i, _)) = per
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
        {
            consider(format!("samples under {}", describe_frame(p, i)), sampled);
        }
    }
    for sp in &p.spans {
        let f = span_function(&sp.name);
        if sp.category == "serialization" || is_serialization("", f) {
            consider(format!("span {}", sp.name), sp.end - sp.start);
        }
    }
    let remote = remote_mask(p);
    let compute = calls_of(p, &remote)
        .map(|c| c.2)
        .unwrap_or(0.0)
        .max(sampled_under(p, &remote))
        .max(
            p.spans
                .iter()
                .filter(|s| is_remote_span(&s.name))
                .map(|s| s.end - s.start)
                .sum(),
        );
    // What moving the data really cost, beside the backend's figure.
    let truth = inputs
        .truth
        .and_then(crate::ray_truth::transfer_truth)
        .map(|(put_s, bytes)| {
            format!(
                " (truth: ray.put took {put_s:.3} s; the tasks received {:.1} MB of arguments)",
                bytes as f64 / 1e6
            )
        })
        .unwrap_or_default();
    match best {
        Some((name, s)) if compute > 0.0 => (
            Verdict::Pass,
            format!("{name}: {s:.3} s, apart from {compute:.2} s of remote compute{truth}"),
        ),
        Some((name, s)) => (
            Verdict::Partial,
            format!(
                "{name}: {s:.3} s, but no remote compute in the profile to set it against{truth}"
            ),
        ),
        None if ser.iter().any(|&b| b) => (
            Verdict::Fail,
            "serialization frames present but carry no time".into(),
        ),
        None => (
            Verdict::Fail,
            "no serialization span or frame (ray serialization, pickle) in the profile".into(),
        ),
    }
}

/// Axis 9, timeline (ray): timestamped per-worker activity, enough for a Gantt chart, in the
/// right place. Spans (start < end) or samples with a `time` in ≥ 2 workers (pids of the
/// tasks ≠ the driver's truth.pid, or Ray worker ids of remote-function spans), and the task
/// spans set against the tasks' own truth (ray_truth::span_errors): ≥ 90% of the tasks
/// matched with median start and end errors ≤ 10 ms → pass; larger errors, or no task span
/// with an absolute time when the truth has tasks → partial; timestamps in the driver or a
/// single worker only → partial; no timestamps → fail. A truth without tasks is not scored.
pub fn timeline(inputs: &Inputs) -> Decided {
    if let Some(na) = ray_only(inputs) {
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
        .filter(|s| s.pid == 0 && s.tid != 0 && s.end > s.start && is_remote_span(&s.name))
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

/// Axis 10, aggregation (ray): the 24 calls of parallel_heavy_loop summarised as one entry
/// (count, total, mean); 24, or the count of its task lines in the run's truth when there are
/// any. Call records for it with that count (summed over processes) → pass;
/// that many spans named parallel_heavy_loop (count derivable from the timeline) → pass; time
/// without a count (samples), or a count other than 24 → partial; the function absent →
/// fail.
pub fn aggregation(inputs: &Inputs) -> Decided {
    if let Some(na) = ray_only(inputs) {
        return na;
    }
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let name = "parallel_heavy_loop";
    // The count the run really made (the workload can split its work into more tasks).
    let expected = inputs
        .truth
        .map(|t| crate::ray_truth::truth_calls(t, name) as u64)
        .filter(|&n| n > 0)
        .unwrap_or(HEAVY_TASK_CALLS);
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

#[cfg(test)]
mod tests {
    //! Every rule on real outputs: tests/fixtures/checks/ (captured by
    //! scripts/capture-check-fixtures.sh) and the adapters' own fixtures of the line workload.
    use super::*;
    use profbench_profilers::{
        cprofile, line_profiler, memray, pyspy, scalene, viztracer, Clock, Profile,
    };
    use std::path::PathBuf;

    fn fx(rel: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/")).join(rel)
    }

    fn bytes(rel: &str) -> Vec<u8> {
        std::fs::read(fx(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// A truth fixture, its phases pointed at the copies of the workload sources taken with
    /// the fixtures (the files were written with the capturing machine's absolute paths, and
    /// the outputs' line numbers are those of the sources as captured).
    fn truth(rel: &str) -> Truth {
        let mut t = Truth::load(&fx(rel)).unwrap();
        for p in &mut t.phases {
            let base = Path::new(&p.file).file_name().unwrap().to_owned();
            p.file = fx("checks/src").join(base).to_string_lossy().into_owned();
        }
        t
    }

    fn pstats(rel: &str) -> Profile {
        cprofile::parse_pstats(&bytes(rel)).unwrap()
    }
    fn pyspy(rel: &str, rate: u32, clock: Clock) -> Profile {
        pyspy::parse_raw(&bytes(rel), rate, clock).unwrap()
    }
    fn viz(rel: &str) -> Profile {
        viztracer::parse_trace(&bytes(rel)).unwrap().profile
    }
    fn scalene(rel: &str) -> Profile {
        scalene::parse_json(&bytes(rel)).unwrap()
    }
    fn memray(rel: &str) -> Profile {
        memray::parse_peak_csv(&String::from_utf8(bytes(rel)).unwrap()).unwrap()
    }
    fn lprof(rel: &str) -> Profile {
        line_profiler::parse_dump(&bytes(rel)).unwrap()
    }

    /// The driver's wall time under a backend over the same capture round's baseline, from
    /// the real runs (ray-walls.json: seconds per run, index = round); all rounds when
    /// `round` is None.
    fn ray_ratio_of_round(backend: &str, round: Option<usize>) -> Option<Estimate> {
        let walls: HashMap<String, Vec<f64>> =
            serde_json::from_slice(&bytes("checks/ray-walls.json")).unwrap();
        let key = backend.replace('-', "");
        let runs = walls.get(&key)?;
        let ratios: Vec<f64> = runs
            .iter()
            .zip(&walls["baseline"])
            .enumerate()
            .filter(|(i, _)| round.is_none_or(|r| r == *i))
            .map(|(_, (w, b))| w / b)
            .collect();
        Estimate::of(&ratios)
    }

    fn ray_ratio(backend: &str) -> Option<Estimate> {
        ray_ratio_of_round(backend, None)
    }

    struct Cell<'a> {
        workload: &'a str,
        profile: Option<&'a Profile>,
        truth: Option<&'a Truth>,
        memory_truth: Option<&'a Truth>,
        wall_ratio: Option<&'a Estimate>,
        sampler: bool,
    }

    impl<'a> Cell<'a> {
        fn new(workload: &'a str, profile: &'a Profile, truth: &'a Truth) -> Self {
            Cell {
                workload,
                profile: Some(profile),
                truth: Some(truth),
                memory_truth: None,
                wall_ratio: None,
                sampler: false,
            }
        }
        fn inputs(&self) -> Inputs<'a> {
            Inputs {
                workload: self.workload,
                profile: self.profile,
                truth: self.truth,
                memory_truth: self.memory_truth,
                wall_ratio: self.wall_ratio,
                is_sampler: self.sampler,
            }
        }
        /// The check of one axis, printed so `--nocapture` shows the evidence.
        fn axis(&self, axis: u8) -> Check {
            let all = evaluate(&self.inputs());
            assert_eq!(all.len(), 10);
            for (i, c) in all.iter().enumerate() {
                assert_eq!(c.axis as usize, i + 1);
                assert!(!c.evidence.is_empty());
            }
            let c = all[axis as usize - 1].clone();
            eprintln!("axis {axis} {:?}: {}", c.verdict, c.evidence);
            c
        }
    }

    fn expect(c: &Check, verdict: Verdict, evidence: &str) {
        assert_eq!(c.verdict, verdict, "{}", c.evidence);
        assert!(
            c.evidence.contains(evidence),
            "evidence {:?} lacks {evidence:?}",
            c.evidence
        );
    }

    // -------------------------------------------------------------------- combining runs

    fn check(axis: u8, verdict: Verdict, evidence: &str) -> Check {
        Check {
            axis,
            name: AXES[axis as usize - 1].to_string(),
            verdict,
            evidence: evidence.to_string(),
        }
    }

    #[test]
    fn a_cell_passes_an_axis_when_most_of_its_runs_do() {
        let run = |v: Verdict, deepest: &str| vec![check(1, v, deepest)];
        let cell = vec![check(1, Verdict::Fail, "whole cell")];
        let lucky = [
            run(Verdict::Pass, "deepest 21"),
            run(Verdict::Partial, "deepest 18"),
            run(Verdict::Partial, "deepest 17"),
        ];
        let slices: Vec<&[Check]> = lucky.iter().map(Vec::as_slice).collect();
        let c = &combine(&slices, cell.clone())[0];
        expect(
            c,
            Verdict::Partial,
            "deepest 17 (pass in 1, partial in 2 of 3 runs)",
        );

        let mostly = [
            run(Verdict::Pass, "deepest 21"),
            run(Verdict::Fail, "absent"),
            run(Verdict::Pass, "deepest 22"),
        ];
        let slices: Vec<&[Check]> = mostly.iter().map(Vec::as_slice).collect();
        expect(
            &combine(&slices, cell.clone())[0],
            Verdict::Pass,
            "deepest 22 (pass in 2, fail in 1 of 3 runs)",
        );

        // Half is not more than half: two runs that disagree give the lower verdict.
        let split = [run(Verdict::Pass, "a"), run(Verdict::Fail, "b")];
        let slices: Vec<&[Check]> = split.iter().map(Vec::as_slice).collect();
        expect(
            &combine(&slices, cell)[0],
            Verdict::Fail,
            "b (pass in 1, fail in 1 of 2 runs)",
        );
    }

    #[test]
    fn overhead_and_runless_cells_keep_the_whole_cell_verdict() {
        let cell = vec![
            check(1, Verdict::Fail, "cell's own"),
            check(7, Verdict::Pass, "1.01x"),
        ];
        let runs = [vec![
            check(1, Verdict::Pass, "run"),
            check(7, Verdict::Fail, "no ratio"),
        ]];
        let slices: Vec<&[Check]> = runs.iter().map(Vec::as_slice).collect();
        let c = combine(&slices, cell.clone());
        expect(&c[0], Verdict::Pass, "run");
        expect(&c[1], Verdict::Pass, "1.01x");
        assert_eq!(combine(&[], cell.clone()), cell);
    }

    // -------------------------------------------------------------------- axis 1

    #[test]
    fn axis1_tracer_counts_every_recursive_call() {
        let t = truth("checks/single-cprofile.truth.json");
        let p = pstats("checks/single-cprofile.pstats");
        let c = Cell::new("single", &p, &t).axis(1);
        expect(
            &c,
            Verdict::Pass,
            "pattern_recursion: 242785 calls (primitive 1)",
        );
    }

    #[test]
    fn axis1_sampler_sees_the_recursion_deep() {
        // fib(25) takes ~35 ms: at 100 Hz a handful of samples, so the depth caught varies
        // from capture to capture (19–21 frames seen); this capture caught 21.
        let t = truth("checks/single-pyspy.truth.json");
        let p = pyspy("checks/single-pyspy.txt", 100, Clock::Wall);
        let mut cell = Cell::new("single", &p, &t);
        cell.sampler = true;
        expect(
            &cell.axis(1),
            Verdict::Pass,
            "deepest pattern_recursion stack:",
        );
    }

    #[test]
    fn axis1_fails_without_the_recursion() {
        // memray: memory only, no frames of pattern_recursion at all.
        let t = truth("checks/single-cprofile.truth.json");
        let p = memray("memray/single-peak-top40.csv");
        let c = Cell::new("single", &p, &t).axis(1);
        expect(&c, Verdict::Fail, "pattern_recursion not in the profile");
        // A sampler that caught it only 19 deep: partial.
        let ct = truth("checks/single-pyspy-cpu.truth.json");
        let cp = pyspy("checks/single-pyspy-cpu.txt", 100, Clock::Cpu);
        expect(
            &Cell::new("single", &cp, &ct).axis(1),
            Verdict::Partial,
            "frames (< 20)",
        );
        // And the ray workload has no recursion phase.
        let rt = truth("checks/ray-cprofile.truth.json");
        let rp = pstats("checks/ray-cprofile.pstats");
        expect(
            &Cell::new("ray", &rp, &rt).axis(1),
            Verdict::NotApplicable,
            "no recursion phase",
        );
    }

    // -------------------------------------------------------------------- axis 2

    #[test]
    fn axis2_cpu_sampler_gives_the_sleep_no_cpu() {
        let t = truth("checks/single-pyspy-cpu.truth.json");
        let p = pyspy("checks/single-pyspy-cpu.txt", 100, Clock::Cpu);
        let c = Cell::new("single", &p, &t).axis(2);
        expect(&c, Verdict::Pass, "CPU clock: pattern_io_bound");
    }

    #[test]
    fn axis2_wall_tracer_shows_where_but_not_waiting() {
        let t = truth("checks/single-cprofile.truth.json");
        let p = pstats("checks/single-cprofile.pstats");
        let c = Cell::new("single", &p, &t).axis(2);
        expect(&c, Verdict::Partial, "<built-in method time.sleep>");
    }

    #[test]
    fn axis2_wall_sampler_charges_the_sleep_as_work() {
        let t = truth("checks/single-pyspy.truth.json");
        let p = pyspy("checks/single-pyspy.txt", 100, Clock::Wall);
        let c = Cell::new("single", &p, &t).axis(2);
        expect(&c, Verdict::Fail, "no idle flag, CPU figure or sleep frame");
    }

    // -------------------------------------------------------------------- axis 3

    #[test]
    fn axis3_tracer_sees_json_and_numpy() {
        let t = truth("checks/single-cprofile.truth.json");
        let p = pstats("checks/single-cprofile.pstats");
        let c = Cell::new("single", &p, &t).axis(3);
        expect(
            &c,
            Verdict::Pass,
            "json: dumps (python3.11/json/__init__.py:183)",
        );
        assert!(c.evidence.contains("numpy/"), "{}", c.evidence);
    }

    #[test]
    fn axis3_fails_without_library_frames() {
        // Scalene's stacks stop at the workload's own lines.
        let t = truth("checks/single-scalene.truth.json");
        let p = scalene("checks/single-scalene.json");
        let c = Cell::new("single", &p, &t).axis(3);
        expect(&c, Verdict::Fail, "no json or NumPy frame");
    }

    // -------------------------------------------------------------------- axis 4

    #[test]
    fn axis4_line_profiler_puts_the_time_on_the_heavy_line() {
        let t = truth("checks/line.truth.json");
        let p = lprof("line_profiler/line.json");
        let c = Cell::new("line", &p, &t).axis(4);
        expect(&c, Verdict::Pass, "line 24 `sum(range(10**7))`");
        assert!(c.evidence.contains("line 23 `a = 1`"), "{}", c.evidence);
    }

    #[test]
    fn axis4_sampler_ranks_the_md5_line_first() {
        let t = truth("checks/single-pyspy.truth.json");
        let p = pyspy("checks/single-pyspy.txt", 100, Clock::Wall);
        let c = Cell::new("single", &p, &t).axis(4);
        expect(
            &c,
            Verdict::Pass,
            "line 34 `result += hashlib.md5` ranked 1 of",
        );
    }

    #[test]
    fn axis4_fails_without_line_data() {
        let t = truth("checks/single-cprofile.truth.json");
        let p = pstats("checks/single-cprofile.pstats");
        let c = Cell::new("single", &p, &t).axis(4);
        expect(
            &c,
            Verdict::Fail,
            "no line-level data for pattern_heavy_loop",
        );
        let lt = truth("checks/line.truth.json");
        let v = viz("viztracer/line.json");
        expect(
            &Cell::new("line", &v, &lt).axis(4),
            Verdict::Fail,
            "no line-level data for mixed_lines",
        );
    }

    // -------------------------------------------------------------------- axis 5

    #[test]
    fn axis5_memray_peak_of_the_allocation_phase_matches_tracemalloc() {
        let t = truth("checks/single-cprofile.truth.json");
        let mem = truth("checks/single-memory.truth.json");
        let p = memray("memray/single-peak-top40.csv");
        let mut cell = Cell::new("single", &p, &t);
        cell.memory_truth = Some(&mem);
        let c = cell.axis(5);
        expect(&c, Verdict::Pass, "heap peak pattern_memory_allocation:");
        assert!(
            c.evidence.contains("tracemalloc_peak_bytes"),
            "{}",
            c.evidence
        );
    }

    #[test]
    fn axis5_fails_without_memory_data_and_needs_a_truth_run() {
        let t = truth("checks/single-cprofile.truth.json");
        let mem = truth("checks/single-memory.truth.json");
        let p = pstats("checks/single-cprofile.pstats");
        let mut cell = Cell::new("single", &p, &t);
        expect(&cell.axis(5), Verdict::NotApplicable, "no memory truth run");
        cell.memory_truth = Some(&mem);
        expect(&cell.axis(5), Verdict::Fail, "no memory data");
    }

    #[test]
    fn axis5_whole_run_peak_is_partial_at_best() {
        // Scalene's real output without its per-function breakdown: only the process peak.
        let t = truth("checks/single-scalene.truth.json");
        let mem = truth("checks/single-memory.truth.json");
        let mut p = scalene("checks/single-scalene.json");
        p.memory.as_mut().unwrap().peak_by_function.clear();
        let mut cell = Cell::new("single", &p, &t);
        cell.memory_truth = Some(&mem);
        let c = cell.axis(5);
        expect(&c, Verdict::Partial, "heap peak whole run:");
    }

    // -------------------------------------------------------------------- Ray axes

    fn ray_cprofile() -> (Profile, Truth) {
        (
            pstats("checks/ray-cprofile.pstats"),
            truth("checks/ray-cprofile.truth.json"),
        )
    }
    fn ray_pyspy() -> (Profile, Truth) {
        (
            pyspy("checks/ray-pyspy.txt", 20, Clock::Wall),
            truth("checks/ray-pyspy.truth.json"),
        )
    }
    fn ray_viztracer_driver() -> (Profile, Truth) {
        (
            viz("checks/ray-viztracer-driver.json"),
            truth("checks/ray-viztracer-driver.truth.json"),
        )
    }

    /// No backend captured here traces Ray *workers* with timestamps or call counts (see the
    /// capture script), so the passing cases of axes 9 and 10 use the one real per-worker
    /// record there is: the task lines the workers wrote themselves (truth.task, measured
    /// inside each worker), as spans on the real driver-only VizTracer profile of the same
    /// run. This is the shape a worker-following tracer reports.
    fn viztracer_with_worker_spans() -> (Profile, Truth) {
        let (mut p, t) = ray_viztracer_driver();
        let t0 = t.phases.iter().map(|ph| ph.start_ns).min().unwrap();
        p.origin = Some(profbench_profilers::profile::TimeOrigin {
            clock: profbench_profilers::profile::OriginClock::Monotonic,
            ns: t0,
        });
        for task in &t.tasks {
            p.spans.push(profbench_profilers::profile::Span {
                pid: task.pid,
                tid: task.tid,
                name: task.function.clone(),
                category: "task".into(),
                start: (task.start_ns - t0) as f64 / 1e9,
                end: (task.end_ns - t0) as f64 / 1e9,
            });
        }
        (p, t)
    }

    #[test]
    fn axis6_sampler_following_subprocesses_sees_remote_frames_in_workers() {
        let (p, t) = ray_pyspy();
        let c = Cell::new("ray", &p, &t).axis(6);
        expect(&c, Verdict::Pass, "parallel_heavy_loop in ");
        assert!(
            c.evidence.contains(&format!("driver {}", t.pid)),
            "{}",
            c.evidence
        );
    }

    #[test]
    fn axis6_driver_only_tracers_fail() {
        let (p, t) = ray_cprofile();
        expect(
            &Cell::new("ray", &p, &t).axis(6),
            Verdict::Fail,
            "in any process",
        );
        let (p, t) = ray_viztracer_driver();
        expect(
            &Cell::new("ray", &p, &t).axis(6),
            Verdict::Fail,
            "in any process",
        );
    }

    #[test]
    fn axis7_wall_ratio_thresholds_on_real_runs() {
        // Capture round 0 (baseline 35.4 s): cProfile 1.08, py-spy 1.37, VizTracer 1.57.
        // One pair each: too few for a 95% interval, so even cProfile's 1.08 is only partial.
        let (p, t) = ray_cprofile();
        for (backend, verdict) in [
            ("cprofile", Verdict::Partial),
            ("pyspy", Verdict::Partial),
            ("viztracer", Verdict::Fail),
        ] {
            let r = ray_ratio_of_round(backend, Some(0)).unwrap();
            let mut cell = Cell::new("ray", &p, &t);
            cell.wall_ratio = Some(&r);
            let c = cell.axis(7);
            expect(&c, verdict, &format!("median wall ratio {:.3}", r.median));
        }
        // Six pairs around cProfile's ratio (constructed, to reach the threshold's other side):
        // a 95% interval, narrow, under 1.10.
        let six = Estimate::of(&[1.08, 1.06, 1.07, 1.09, 1.05, 1.08]).unwrap();
        let mut cell = Cell::new("ray", &p, &t);
        cell.wall_ratio = Some(&six);
        expect(&cell.axis(7), Verdict::Pass, "covering 97%");
        let mut cell = Cell::new("ray", &p, &t);
        cell.wall_ratio = None;
        expect(&cell.axis(7), Verdict::NotApplicable, "no wall ratio");
    }

    #[test]
    fn axis7_noisy_ratio_is_partial() {
        // VizTracer over both rounds: 1.57 and 1.31, an interval far wider than 10%.
        let (p, t) = ray_cprofile();
        let r = ray_ratio_of_round("viztracer", None).unwrap();
        assert!(r.is_noisy() && r.median <= 1.5, "{r:?}");
        let mut cell = Cell::new("ray", &p, &t);
        cell.wall_ratio = Some(&r);
        expect(&cell.axis(7), Verdict::Partial, "noisy");
    }

    #[test]
    fn axis8_sampler_separates_deserialization_from_compute() {
        let (p, t) = ray_pyspy();
        let c = Cell::new("ray", &p, &t).axis(8);
        expect(&c, Verdict::Pass, "deserialize");
        assert!(c.evidence.contains("of remote compute"), "{}", c.evidence);
    }

    #[test]
    fn axis8_driver_tracer_sees_the_put_but_no_compute() {
        let (p, t) = ray_cprofile();
        let c = Cell::new("ray", &p, &t).axis(8);
        expect(&c, Verdict::Partial, "put_object");
    }

    #[test]
    fn axis8_fails_without_serialization_frames() {
        let (p, t) = ray_viztracer_driver();
        let c = Cell::new("ray", &p, &t).axis(8);
        expect(&c, Verdict::Fail, "no serialization span or frame");
    }

    #[test]
    fn axis9_worker_spans_make_a_timeline() {
        let (p, t) = viztracer_with_worker_spans();
        let c = Cell::new("ray", &p, &t).axis(9);
        expect(&c, Verdict::Pass, "worker pid(s)");
    }

    #[test]
    fn axis9_driver_only_timestamps_are_partial() {
        let (p, t) = ray_viztracer_driver();
        let c = Cell::new("ray", &p, &t).axis(9);
        expect(&c, Verdict::Partial, "in 0 worker pid(s) of the tasks");
    }

    #[test]
    fn axis9_samples_without_time_fail() {
        let (p, t) = ray_pyspy();
        expect(
            &Cell::new("ray", &p, &t).axis(9),
            Verdict::Fail,
            "no timestamps",
        );
        let (p, t) = ray_cprofile();
        expect(
            &Cell::new("ray", &p, &t).axis(9),
            Verdict::Fail,
            "no timestamps",
        );
    }

    #[test]
    fn axis10_24_task_spans_are_one_entry() {
        let (p, t) = viztracer_with_worker_spans();
        let c = Cell::new("ray", &p, &t).axis(10);
        expect(&c, Verdict::Pass, "parallel_heavy_loop: 24 spans");
    }

    #[test]
    fn axis10_sampler_has_time_but_no_count() {
        let (p, t) = ray_pyspy();
        let c = Cell::new("ray", &p, &t).axis(10);
        expect(&c, Verdict::Partial, "sampled, no call count");
    }

    #[test]
    fn axis10_fails_when_the_function_is_absent() {
        let (p, t) = ray_cprofile();
        let c = Cell::new("ray", &p, &t).axis(10);
        expect(&c, Verdict::Fail, "parallel_heavy_loop not in the profile");
    }

    // -------------------------------------------------------------------- applicability

    #[test]
    fn axes_outside_their_workload_are_not_applicable() {
        let t = truth("checks/single-cprofile.truth.json");
        let p = pstats("checks/single-cprofile.pstats");
        let checks = evaluate(&Cell::new("single", &p, &t).inputs());
        for c in &checks[5..] {
            assert_eq!(c.verdict, Verdict::NotApplicable, "{c:?}");
            assert!(c.evidence.contains("no Ray workers"), "{c:?}");
        }
        let (rp, rt) = ray_pyspy();
        let checks = evaluate(&Cell::new("ray", &rp, &rt).inputs());
        for c in &checks[..5] {
            assert_eq!(c.verdict, Verdict::NotApplicable, "{c:?}");
        }
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, AXES.to_vec());
    }

    #[test]
    fn a_cell_without_a_profile_fails_what_applies() {
        let t = truth("checks/ray-cprofile.truth.json");
        let r = ray_ratio("cprofile").unwrap();
        let cell = Cell {
            workload: "ray",
            profile: None,
            truth: Some(&t),
            memory_truth: None,
            wall_ratio: Some(&r),
            sampler: false,
        };
        let checks = evaluate(&cell.inputs());
        for c in &checks[5..] {
            if c.axis == 7 {
                // Overhead needs no profile.
                assert_ne!(c.verdict, Verdict::NotApplicable, "{c:?}");
            } else {
                assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
                assert!(c.evidence.starts_with("no profile"), "{c:?}");
            }
        }
    }

    #[test]
    fn checks_serialise_with_kebab_case_verdicts() {
        let c = Check {
            axis: 5,
            name: AXES[4].into(),
            verdict: Verdict::NotApplicable,
            evidence: "no memory truth run".into(),
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["verdict"], "not-applicable");
        assert_eq!(serde_json::from_value::<Check>(v).unwrap(), c);
    }

    /// Prints every verdict for every real fixture (run with --nocapture to see the table).
    #[test]
    fn survey_of_real_fixtures() {
        let single = truth("checks/single-cprofile.truth.json");
        let mem = truth("checks/single-memory.truth.json");
        let line = truth("checks/line.truth.json");
        let cases: Vec<(&str, &str, Profile, &Truth)> = vec![
            (
                "cprofile",
                "single",
                pstats("checks/single-cprofile.pstats"),
                &single,
            ),
            (
                "py-spy",
                "single",
                pyspy("checks/single-pyspy.txt", 100, Clock::Wall),
                &single,
            ),
            (
                "py-spy-cpu",
                "single",
                pyspy("checks/single-pyspy-cpu.txt", 100, Clock::Cpu),
                &single,
            ),
            (
                "scalene",
                "single",
                scalene("checks/single-scalene.json"),
                &single,
            ),
            (
                "memray",
                "single",
                memray("memray/single-peak-top40.csv"),
                &single,
            ),
            (
                "line_profiler",
                "line",
                lprof("line_profiler/line.json"),
                &line,
            ),
            ("scalene", "line", scalene("scalene/line-full.json"), &line),
            (
                "py-spy",
                "line",
                pyspy("py-spy/line-direct.txt", 100, Clock::Wall),
                &line,
            ),
            ("viztracer", "line", viz("viztracer/line.json"), &line),
        ];
        let rc = truth("checks/ray-cprofile.truth.json");
        let rp = truth("checks/ray-pyspy.truth.json");
        let rv = truth("checks/ray-viztracer-driver.truth.json");
        let mut cases = cases;
        cases.push(("cprofile", "ray", pstats("checks/ray-cprofile.pstats"), &rc));
        cases.push((
            "py-spy",
            "ray",
            pyspy("checks/ray-pyspy.txt", 20, Clock::Wall),
            &rp,
        ));
        cases.push((
            "viztracer",
            "ray",
            viz("checks/ray-viztracer-driver.json"),
            &rv,
        ));
        for (backend, workload, p, t) in &cases {
            let mut cell = Cell::new(workload, p, t);
            cell.memory_truth = Some(&mem);
            let ratio = ray_ratio(backend);
            cell.wall_ratio = ratio.as_ref();
            for c in evaluate(&cell.inputs()) {
                eprintln!(
                    "{backend:>13} {workload:>6} {:>2} {:?}: {}",
                    c.axis, c.verdict, c.evidence
                );
            }
        }
    }
}
