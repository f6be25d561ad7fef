//! From evidence to advice: each function's verdict, its score (the share of the program's
//! CPU a Rust rewrite could remove) and the reasons, in words, for every criterion.
//! The thresholds are here, named, and explained in docs/advise.md.

use super::account::{Accounts, Kind};
use super::gil::GilEvidence;
use super::growth::Growth;
use super::memory::MemoryEvidence;
use serde::Serialize;
use std::collections::HashMap;

/// Own time off the CPU at or above this share: the function mostly waits.
pub const WAITING_SHARE: f64 = 0.5;
/// Own CPU inside long native calls at or above this share: the work is native already.
pub const NATIVE_SHARE: f64 = 0.5;
/// Own CPU in library Python code at or above this share: the time is the library's.
pub const LIBRARY_SHARE: f64 = 0.5;
/// A function is judged waiting, native or library only when its own time is at least this
/// share of all sampled thread time; below, one or two samples would decide.
pub const SIGNIFICANT_SHARE: f64 = 0.01;
/// A candidate's score (its Rust-able share of all CPU) must reach this...
pub const CANDIDATE_SCORE: f64 = 0.01;
/// ... or this, with a strong sign that Rust pays off more than its share says: recursion or
/// calls shorter than the interval, the GIL capping it, or steep growth with size.
pub const SIGNAL_SCORE: f64 = 0.002;
/// Recursion at least this deep counts as call-bound.
pub const RECURSIVE_DEPTH: u32 = 5;
/// Counted calls this short (inclusive time per call) are mostly call overhead...
pub const SHORT_CALL_US: f64 = 5.0;
/// ... when there are at least this many.
pub const MANY_CALLS: u64 = 1000;
/// Growth exponents at or above this (with a fit R² of at least `GOOD_FIT`) are worth saying.
pub const STEEP_GROWTH: f64 = 1.3;
pub const GOOD_FIT: f64 = 0.9;
/// A memory rise charged to a function is a spike at or above this many bytes.
pub const SPIKE_BYTES: u64 = 16 << 20;
/// Rows below this share of all sampled thread time are left out.
pub const SHOWN_SHARE: f64 = 0.002;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Python work a Rust rewrite would remove.
    Candidate,
    /// Python work, but too little of the program's CPU to matter (yet).
    Minor,
    /// Mostly waiting (sleep, I/O, locks): faster code would not shorten it.
    NotWorthWaiting,
    /// Mostly inside long native calls already (NumPy, hashlib, zlib, C accelerators).
    NotWorthNative,
    /// Mostly inside library Python code (imports, a library's own Python layer).
    NotWorthLibrary,
    /// A C function: native code already.
    Native,
    /// Library Python code: its time belongs to the user function that calls it.
    Library,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Candidate => "move to Rust",
            Verdict::Minor => "minor",
            Verdict::NotWorthWaiting => "not worth it: waits",
            Verdict::NotWorthNative => "not worth it: native already",
            Verdict::NotWorthLibrary => "not worth it: library code",
            Verdict::Native => "native code",
            Verdict::Library => "library code",
        }
    }

    pub fn worth_it(self) -> bool {
        matches!(self, Verdict::Candidate)
    }
}

/// Call evidence from samples (a lower bound) and, when counted, exact.
#[derive(Debug, Clone, Serialize)]
pub struct Calls {
    /// Calls that began between two consecutive samples of a thread: a lower bound.
    pub entries_lower_bound: u64,
    /// The same per second of the function's inclusive time.
    pub per_second_lower_bound: f64,
    /// Share of its samples in which a new call of it had begun since the thread's previous
    /// sample: near 1, its calls are shorter than the sampling interval.
    pub new_call_share: f64,
    /// Most frames of it on one stack (recursion).
    pub max_depth: u32,
    /// Calls counted exactly in a separate run (--count-calls), and its inclusive time per
    /// call in microseconds (the sampled run's time over the counted run's calls).
    pub exact: Option<u64>,
    pub per_call_us: Option<f64>,
}

/// One row of the advice.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionAdvice {
    pub rank: usize,
    pub function: String,
    pub file: String,
    pub line: u32,
    pub kind: Kind,
    pub verdict: Verdict,
    /// Share of all sampled CPU a Rust rewrite could remove: own bytecode, library Python code
    /// it calls, and short native calls (their call overhead).
    pub score: f64,
    pub self_cpu_share: f64,
    pub inclusive_cpu_share: f64,
    /// Own time (the function as innermost user frame), seconds, by what the leaf was doing.
    pub own_wall_s: f64,
    pub own_python_cpu_s: f64,
    pub own_library_cpu_s: f64,
    pub own_native_short_cpu_s: f64,
    pub own_native_long_cpu_s: f64,
    pub own_wait_s: f64,
    pub own_stalled_s: f64,
    /// The functions it spends its own time in (library entries, C functions), by share.
    pub top_callees: Vec<Callee>,
    pub calls: Calls,
    pub gil: Option<GilEvidence>,
    pub memory: Option<MemoryEvidence>,
    pub growth: Option<Growth>,
    pub reasons: Vec<String>,
}

/// A function called directly below one of the user's, with its share of the caller's own time.
#[derive(Debug, Clone, Serialize)]
pub struct Callee {
    pub function: String,
    pub kind: Kind,
    pub share: f64,
}

/// Everything found about one function, by index into the accounts.
pub struct Evidence<'a> {
    pub acc: &'a Accounts,
    pub gil: &'a HashMap<usize, GilEvidence>,
    pub memory: &'a HashMap<usize, MemoryEvidence>,
    pub growth: &'a HashMap<usize, Growth>,
    /// Calls counted exactly (--count-calls), by function.
    pub exact_calls: &'a HashMap<usize, u64>,
    /// Sampling interval, seconds.
    pub interval: f64,
}

pub fn advise(ev: &Evidence) -> Vec<FunctionAdvice> {
    let acc = ev.acc;
    let total_cpu = acc.total_cpu.max(1e-12);
    let mut rows: Vec<FunctionAdvice> = (0..acc.funcs.len())
        .filter(|&f| {
            let t = &acc.tallies[f];
            let shown = t.own_wall.max(t.self_wall) >= SHOWN_SHARE * acc.total_wall;
            shown || ev.growth.contains_key(&f) && acc.kinds[f] == Kind::User
        })
        .map(|f| row(ev, f, total_cpu))
        .collect();
    rows.sort_by(|a, b| {
        a.verdict
            .cmp(&b.verdict)
            .then(b.score.total_cmp(&a.score))
            .then(b.own_wall_s.total_cmp(&a.own_wall_s))
            .then(b.self_cpu_share.total_cmp(&a.self_cpu_share))
    });
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    rows
}

fn row(ev: &Evidence, f: usize, total_cpu: f64) -> FunctionAdvice {
    let acc = ev.acc;
    let t = &acc.tallies[f];
    let kind = acc.kinds[f];
    let own_cpu =
        t.own_python_cpu + t.own_library_cpu + t.own_native_short_cpu + t.own_native_long_cpu;
    let rustable = t.own_python_cpu + t.own_native_short_cpu;
    let score = rustable / total_cpu;
    let share_of = |x: f64, of: f64| if of > 0.0 { x / of } else { 0.0 };
    let significant = t.own_wall >= SIGNIFICANT_SHARE * acc.total_wall;
    let growth = ev.growth.get(&f).cloned();
    // At least a window's worth of thread time, so one stray sample does not make the claim.
    let gil = ev
        .gil
        .get(&f)
        .filter(|g| g.share >= 0.1 && g.contended_s >= super::gil::WINDOW_S)
        .cloned();
    let steep = growth
        .as_ref()
        .is_some_and(|g| g.exponent >= STEEP_GROWTH && g.r2 >= GOOD_FIT);
    let exact = ev.exact_calls.get(&f).copied();
    let per_call_us = exact
        .filter(|&n| n > 0)
        .map(|n| t.inclusive_wall / n as f64 * 1e6);
    let many_short =
        exact.is_some_and(|n| n >= MANY_CALLS) && per_call_us.is_some_and(|us| us <= SHORT_CALL_US);
    let call_bound = many_short
        || t.max_depth >= RECURSIVE_DEPTH
        || (t.samples >= 3 && share_of(t.samples_with_entry as f64, t.samples as f64) >= 0.5);
    let signal = steep || call_bound || gil.is_some();
    let verdict = match kind {
        Kind::Native => Verdict::Native,
        Kind::Library => Verdict::Library,
        Kind::User if significant && share_of(t.own_wait, t.own_wall) >= WAITING_SHARE => {
            Verdict::NotWorthWaiting
        }
        Kind::User if significant && share_of(t.own_native_long_cpu, own_cpu) >= NATIVE_SHARE => {
            Verdict::NotWorthNative
        }
        Kind::User if significant && share_of(t.own_library_cpu, own_cpu) >= LIBRARY_SHARE => {
            Verdict::NotWorthLibrary
        }
        Kind::User if score >= CANDIDATE_SCORE || (signal && score >= SIGNAL_SCORE) => {
            Verdict::Candidate
        }
        Kind::User => Verdict::Minor,
    };
    let calls = Calls {
        entries_lower_bound: t.entries,
        per_second_lower_bound: if t.inclusive_wall > 0.0 {
            t.entries as f64 / t.inclusive_wall
        } else {
            0.0
        },
        new_call_share: if t.samples > 0 {
            t.samples_with_entry as f64 / t.samples as f64
        } else {
            0.0
        },
        max_depth: t.max_depth,
        exact,
        per_call_us,
    };
    let mut callees: Vec<Callee> = t
        .callees
        .iter()
        .filter(|(_, &w)| t.own_wall > 0.0 && w / t.own_wall >= 0.05)
        .map(|(&c, &w)| Callee {
            function: acc.funcs[c].function.clone(),
            kind: acc.kinds[c],
            share: w / t.own_wall,
        })
        .collect();
    callees.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then(a.function.cmp(&b.function))
    });
    let mut advice = FunctionAdvice {
        rank: 0,
        function: acc.funcs[f].function.clone(),
        file: acc.funcs[f].file.clone(),
        line: t.first_line,
        kind,
        verdict,
        score,
        self_cpu_share: t.self_cpu / total_cpu,
        inclusive_cpu_share: t.inclusive_cpu / total_cpu,
        own_wall_s: t.own_wall,
        own_python_cpu_s: t.own_python_cpu,
        own_library_cpu_s: t.own_library_cpu,
        own_native_short_cpu_s: t.own_native_short_cpu,
        own_native_long_cpu_s: t.own_native_long_cpu,
        own_wait_s: t.own_wait,
        own_stalled_s: t.own_stalled,
        top_callees: callees,
        calls,
        gil,
        memory: ev
            .memory
            .get(&f)
            .filter(|m| m.rise_bytes >= SPIKE_BYTES)
            .cloned(),
        growth,
        reasons: Vec::new(),
    };
    advice.reasons = reasons(&advice, ev.interval);
    advice
}

fn pct(x: f64) -> String {
    if x >= 0.095 {
        format!("{:.0}%", x * 100.0)
    } else {
        format!("{:.1}%", x * 100.0)
    }
}

fn micros(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 1.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.0} ns", us * 1000.0)
    }
}

/// The three largest callees of one kind (all kinds with None), with their shares.
fn callee_list(a: &FunctionAdvice, kind: Option<Kind>) -> String {
    a.top_callees
        .iter()
        .filter(|c| kind.is_none_or(|k| c.kind == k))
        .take(3)
        .map(|c| format!("{} {}", c.function, pct(c.share)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The reasons for a row, one sentence per criterion that has something to say.
fn reasons(a: &FunctionAdvice, interval: f64) -> Vec<String> {
    let mut out = Vec::new();
    let own_cpu = a.own_python_cpu_s
        + a.own_library_cpu_s
        + a.own_native_short_cpu_s
        + a.own_native_long_cpu_s;
    // CPU splits are said only of functions that use a CPU noticeably (a sleeping one has
    // nothing to split).
    let busy = a.own_wall_s > 0.0 && own_cpu >= 0.2 * a.own_wall_s;
    match a.verdict {
        Verdict::Native => out.push(format!(
            "a C function: {} of the program's CPU is already native code",
            pct(a.self_cpu_share)
        )),
        Verdict::Library => out.push(format!(
            "library Python code ({} self CPU); its time counts for the function of yours that calls it",
            pct(a.self_cpu_share)
        )),
        _ => {}
    }
    if a.kind != Kind::User {
        return out;
    }
    if a.own_wall_s > 0.0 && a.own_wait_s / a.own_wall_s >= 0.2 {
        let inside = if a.top_callees.is_empty() {
            String::new()
        } else {
            format!(" (inside {})", callee_list(a, None))
        };
        out.push(format!(
            "waits {} of its own time off the CPU{inside}: sleep, I/O, locks, helper threads or a busy \
             machine, which Rust does not shorten",
            pct(a.own_wait_s / a.own_wall_s)
        ));
    }
    if a.own_wall_s > 0.0 && a.own_stalled_s / a.own_wall_s >= 0.2 {
        let why = if a.gil.is_some() {
            "the GIL (see below) or other programs on the machine"
        } else {
            "other programs on a busy machine, or the GIL"
        };
        out.push(format!(
            "off the CPU {} of its own time while at its own bytecode: held back by {why}, not waiting for I/O",
            pct(a.own_stalled_s / a.own_wall_s)
        ));
    }
    if a.score > 0.0 {
        let mut parts = vec![format!(
            "{} its own bytecode",
            pct(a.own_python_cpu_s / own_cpu.max(1e-12))
        )];
        if a.own_native_short_cpu_s > 0.0 {
            // Calls seen in one sample only: most of their cost is the call, not the work.
            parts.push(format!(
                "{} short native calls",
                pct(a.own_native_short_cpu_s / own_cpu.max(1e-12))
            ));
        }
        out.push(format!(
            "a rewrite could save up to {} of the program's CPU (of its own CPU: {})",
            pct(a.score),
            parts.join(", ")
        ));
    }
    if busy && a.own_library_cpu_s / own_cpu.max(1e-12) >= 0.1 {
        out.push(format!(
            "{} of its own CPU runs library Python code ({}): faster only if a rewrite replaces the library too",
            pct(a.own_library_cpu_s / own_cpu.max(1e-12)),
            callee_list(a, Some(Kind::Library))
        ));
    }
    if busy && a.own_native_long_cpu_s / own_cpu.max(1e-12) >= 0.1 {
        out.push(format!(
            "{} of its own CPU is inside long native calls ({}): already compiled code, Rust gains little there",
            pct(a.own_native_long_cpu_s / own_cpu.max(1e-12)),
            callee_list(a, Some(Kind::Native))
        ));
    }
    let c = &a.calls;
    if let (Some(n), Some(us)) = (c.exact, c.per_call_us) {
        let overhead = if n >= MANY_CALLS && us <= SHORT_CALL_US {
            ": so short that call overhead is a large part of its cost"
        } else {
            ""
        };
        out.push(if n == 1 {
            "called once (counted exactly in a separate run)".to_string()
        } else {
            format!(
                "{n} calls (counted exactly in a separate run), {} of its time per call{overhead}",
                micros(us)
            )
        });
    } else if c.entries_lower_bound > 1 {
        let how = if c.new_call_share >= 0.5 {
            format!(
                "; in {} of its samples a new call had begun since the previous one, so its calls are \
                 mostly shorter than the {:.0} ms interval and the real count is higher",
                pct(c.new_call_share),
                interval * 1e3
            )
        } else {
            String::new()
        };
        out.push(format!(
            "at least {} calls ({:.0}/s of its time; a lower bound from consecutive samples){how}",
            c.entries_lower_bound, c.per_second_lower_bound
        ));
    }
    if c.max_depth >= RECURSIVE_DEPTH {
        out.push(format!(
            "recursive: up to {} of its frames on one stack, so call overhead is a large part of its cost",
            c.max_depth
        ));
    }
    if let Some(g) = &a.gil {
        out.push(format!(
            "GIL-bound: {} of its own time ran while {:.1} threads shared about one core; with the GIL \
             released (a Rust extension) they could run in parallel",
            pct(g.share),
            g.threads
        ));
    }
    if let Some(m) = &a.memory {
        let cost = if a.score >= CANDIDATE_SCORE {
            " while taking CPU: a compact Rust representation would save both"
        } else {
            ""
        };
        out.push(format!(
            "memory spike: RSS rose {:.0} MB while it ran ({}){cost}",
            m.rise_bytes as f64 / (1u64 << 20) as f64,
            m.basis
        ));
    }
    if let Some(g) = &a.growth {
        let shape = match g.exponent {
            e if e >= 2.6 => "steeper than quadratic",
            e if e >= 1.7 => "about quadratic",
            e if e >= STEEP_GROWTH => "worse than linear",
            e if e >= 0.7 => "about linear",
            _ => "sub-linear",
        };
        let trust = if g.r2 >= GOOD_FIT {
            "a good fit"
        } else {
            "a poor fit: treat as rough"
        };
        out.push(format!(
            "grows as size^{:.2} ({shape}; R² {:.2} over {} sizes, {trust})",
            g.exponent,
            g.r2,
            g.points.len()
        ));
    }
    if a.verdict == Verdict::Minor {
        out.push("too little of the program's time to be worth a rewrite at this size".into());
    }
    out
}
