//! Per-function accounting of a sampled profile: self and inclusive CPU, where a function's
//! own time goes (its own bytecode, library code, native calls, waiting), and a lower bound
//! on how often it is entered, read from consecutive samples of each thread.

use profbench_profilers::profile::{Profile, Sample};
use serde::Serialize;
use std::collections::HashMap;

/// The file the sampler gives C functions it names as leaf frames (`numpy.dot`, `time.sleep`).
pub const NATIVE_FILE: &str = "<native>";

/// Where a function's code lives: what the user can rewrite, or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The program's own Python code.
    User,
    /// Python code of the standard library or an installed package.
    Library,
    /// A C function (named by the sampler, file `<native>`).
    Native,
}

/// Classifies a frame's file. Library code is recognised by where Python installs it
/// (`site-packages`, `dist-packages`, `lib/pythonX.Y/`, frozen modules), never by its name.
pub fn kind_of(file: &str) -> Kind {
    if file == NATIVE_FILE {
        return Kind::Native;
    }
    let unknown = file.is_empty() || file == "?";
    // The sampler's own agent (in its private `profbench-*` folder) is not the program's code.
    let ours = file.ends_with("/_profbench_agent.py")
        || (file.ends_with("/sitecustomize.py") && file.contains("/profbench-"));
    let frozen = file.starts_with("<frozen");
    let installed = file.contains("/site-packages/")
        || file.contains("/dist-packages/")
        || is_stdlib_path(file);
    if unknown || ours || frozen || installed {
        Kind::Library
    } else {
        Kind::User
    }
}

/// `…/lib/python3.11/json/encoder.py`, `…/lib/pypy3.10/…`: a standard library path.
fn is_stdlib_path(file: &str) -> bool {
    file.split('/')
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| w[0] == "lib" && (w[1].starts_with("python3") || w[1].starts_with("pypy3")))
}

/// A function: its file and (qualified) name; the profile's frames also carry a line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FuncKey {
    pub file: String,
    pub function: String,
}

/// Seconds and counts of one function. "Own" time is time the function is the innermost
/// *user* frame of a sample: what rewriting it would touch.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Smallest line seen in the function's frames (its first executed line, not `def`).
    pub first_line: u32,
    /// Thread-seconds with the function anywhere on the stack (once per sample).
    pub inclusive_wall: f64,
    pub inclusive_cpu: f64,
    /// Thread-seconds with the function as the leaf frame.
    pub self_wall: f64,
    pub self_cpu: f64,
    /// Own time: the function is the innermost user frame.
    pub own_wall: f64,
    /// ... running its own bytecode.
    pub own_python_cpu: f64,
    /// ... running library Python code it called.
    pub own_library_cpu: f64,
    /// ... inside native calls seen in one sample only (shorter than the sampling interval).
    pub own_native_short_cpu: f64,
    /// ... inside native calls seen in consecutive samples with the very same stack.
    pub own_native_long_cpu: f64,
    /// ... off the CPU inside a call (native or library): sleep, I/O, locks, helper threads.
    pub own_wait: f64,
    /// ... off the CPU at its own bytecode: a thread that runs Python code does not block, so
    /// it was held back (by the GIL, or by other programs on a busy machine).
    pub own_stalled: f64,
    /// Own wall time by the function called directly below it (library entry or C function).
    pub callees: HashMap<usize, f64>,
    /// Samples with the function on the stack, and those where a call to it began since the
    /// thread's previous sample.
    pub samples: u64,
    pub samples_with_entry: u64,
    /// Calls that certainly began during the profile (a lower bound on all calls).
    pub entries: u64,
    /// The most frames of this function seen on one stack (recursion depth).
    pub max_depth: u32,
}

/// The accounting of a whole profile.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub funcs: Vec<FuncKey>,
    pub kinds: Vec<Kind>,
    pub tallies: Vec<Tally>,
    /// Thread-seconds sampled, of which on a CPU.
    pub total_wall: f64,
    pub total_cpu: f64,
    /// Samples whose CPU time the sampler did not know (counted as on-CPU unless idle).
    pub cpu_unknown: u64,
    pub samples: u64,
    pub threads: usize,
    pub processes: usize,
    /// Sample indices ordered by process, thread and time.
    pub order: Vec<usize>,
    /// Function index of every frame of the profile.
    pub func_of_frame: Vec<usize>,
}

/// CPU seconds a sample stands for: the thread's CPU over its span, at most its weight.
pub fn cpu_of(s: &Sample) -> f64 {
    match s.cpu {
        Some(c) => c.clamp(0.0, s.weight),
        None if s.idle == Some(true) => 0.0,
        None => s.weight,
    }
}

impl Accounts {
    pub fn index_of(&self, function: &str) -> Option<usize> {
        self.funcs.iter().position(|f| {
            f.function == function
                || profbench_profilers::profile::Profile::function_matches(&f.function, function)
        })
    }

    pub fn name(&self, i: usize) -> &str {
        &self.funcs[i].function
    }
}

pub fn account(profile: &Profile) -> Accounts {
    let mut funcs: Vec<FuncKey> = Vec::new();
    let mut by_key: HashMap<FuncKey, usize> = HashMap::new();
    let func_of_frame: Vec<usize> = profile
        .frames
        .iter()
        .map(|f| {
            let key = FuncKey {
                file: f.file.clone(),
                function: f.function.clone(),
            };
            *by_key.entry(key.clone()).or_insert_with(|| {
                funcs.push(key);
                funcs.len() - 1
            })
        })
        .collect();
    let kinds: Vec<Kind> = funcs.iter().map(|f| kind_of(&f.file)).collect();
    let mut tallies = vec![Tally::default(); funcs.len()];
    for (i, f) in profile.frames.iter().enumerate() {
        let t = &mut tallies[func_of_frame[i]];
        if f.line > 0 && (t.first_line == 0 || f.line < t.first_line) {
            t.first_line = f.line;
        }
    }

    let mut order: Vec<usize> = (0..profile.samples.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&profile.samples[a], &profile.samples[b]);
        (x.pid, x.tid)
            .cmp(&(y.pid, y.tid))
            .then(x.time.unwrap_or(0.0).total_cmp(&y.time.unwrap_or(0.0)))
    });
    let same_thread = |a: usize, b: usize| {
        let (x, y) = (&profile.samples[a], &profile.samples[b]);
        (x.pid, x.tid) == (y.pid, y.tid)
    };

    let mut acc = Accounts {
        funcs,
        kinds,
        tallies: Vec::new(),
        total_wall: 0.0,
        total_cpu: 0.0,
        cpu_unknown: 0,
        samples: 0,
        threads: 0,
        processes: 0,
        order: order.clone(),
        func_of_frame,
    };
    let mut threads = std::collections::HashSet::new();
    let mut seen: Vec<u64> = vec![u64::MAX; acc.funcs.len()];
    for (pos, &si) in order.iter().enumerate() {
        let s = &profile.samples[si];
        threads.insert((s.pid, s.tid));
        let prev = (pos > 0 && same_thread(order[pos - 1], si)).then(|| order[pos - 1]);
        let next = order.get(pos + 1).copied().filter(|&n| same_thread(n, si));
        let cpu = cpu_of(s);
        let wait = s.weight - cpu;
        acc.total_wall += s.weight;
        acc.total_cpu += cpu;
        acc.samples += s.count;
        if s.cpu.is_none() {
            acc.cpu_unknown += s.count;
        }
        let funcs_on: Vec<usize> = s
            .stack
            .iter()
            .map(|&f| acc.func_of_frame.get(f as usize).copied().unwrap_or(0))
            .collect();
        if funcs_on.is_empty() {
            continue;
        }

        // Inclusive: once per sample, however deep the recursion.
        let stamp = si as u64;
        let mut depth: HashMap<usize, u32> = HashMap::new();
        for &f in &funcs_on {
            let d = depth.entry(f).or_insert(0);
            *d += 1;
            tallies[f].max_depth = tallies[f].max_depth.max(*d);
            if seen[f] != stamp {
                seen[f] = stamp;
                let t = &mut tallies[f];
                t.inclusive_wall += s.weight;
                t.inclusive_cpu += cpu;
                t.samples += s.count;
            }
        }
        let leaf = *funcs_on.last().unwrap();
        tallies[leaf].self_wall += s.weight;
        tallies[leaf].self_cpu += cpu;

        // Own time goes to the innermost user frame (or the leaf, if no user code is on the stack).
        let owner_pos = funcs_on
            .iter()
            .rposition(|&f| acc.kinds[f] == Kind::User)
            .unwrap_or(funcs_on.len() - 1);
        let owner = funcs_on[owner_pos];
        let t = &mut tallies[owner];
        t.own_wall += s.weight;
        if owner_pos + 1 == funcs_on.len() {
            t.own_stalled += wait;
        } else {
            t.own_wait += wait;
        }
        if owner_pos + 1 < funcs_on.len() {
            *t.callees.entry(funcs_on[owner_pos + 1]).or_insert(0.0) += s.weight;
        }
        match acc.kinds[leaf] {
            _ if owner_pos + 1 == funcs_on.len() => t.own_python_cpu += cpu,
            Kind::Native => {
                let stack_is =
                    |o: Option<usize>| o.is_some_and(|o| profile.samples[o].stack == s.stack);
                if stack_is(prev) || stack_is(next) {
                    t.own_native_long_cpu += cpu;
                } else {
                    t.own_native_short_cpu += cpu;
                }
            }
            _ => t.own_library_cpu += cpu,
        }

        // Calls that began since the thread's previous sample: every frame below the first
        // one that differs (callers stand still on their call line while a callee runs, so a
        // frame whose callers moved, or that was not there, is a new call).
        let prev_stack: &[u32] = prev.map_or(&[], |p| &profile.samples[p].stack);
        let common = s
            .stack
            .iter()
            .zip(prev_stack)
            .take_while(|(a, b)| a == b)
            .count();
        let same_call_at_common = common < s.stack.len()
            && common < prev_stack.len()
            && acc.func_of_frame[prev_stack[common] as usize] == funcs_on[common];
        let first_new = common + usize::from(same_call_at_common);
        let mut entered: Vec<usize> = funcs_on[first_new..].to_vec();
        for &f in &entered {
            tallies[f].entries += 1;
        }
        entered.sort_unstable();
        entered.dedup();
        for f in entered {
            tallies[f].samples_with_entry += 1;
        }
    }
    acc.threads = threads.len();
    acc.processes = threads
        .iter()
        .map(|(p, _)| *p)
        .collect::<std::collections::HashSet<_>>()
        .len();
    acc.tallies = tallies;
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use profbench_profilers::profile::{Clock, Frame};

    fn profile(frames: &[(&str, &str, u32)], samples: &[(&[u32], f64, f64)]) -> Profile {
        let mut p = Profile::new(Clock::Wall);
        for (file, function, line) in frames {
            p.frames.push(Frame {
                file: file.to_string(),
                function: function.to_string(),
                line: *line,
            });
        }
        for (k, (stack, weight, cpu)) in samples.iter().enumerate() {
            p.samples.push(Sample {
                pid: 1,
                tid: 1,
                stack: stack.to_vec(),
                weight: *weight,
                count: 1,
                cpu: Some(*cpu),
                idle: Some(*cpu < 0.5 * weight),
                time: Some(k as f64 * 0.01),
            });
        }
        p
    }

    #[test]
    fn library_and_native_files_are_told_from_user_code() {
        assert_eq!(kind_of("/home/me/app/work.py"), Kind::User);
        assert_eq!(kind_of("<native>"), Kind::Native);
        assert_eq!(
            kind_of("/usr/lib/python3.11/json/encoder.py"),
            Kind::Library
        );
        assert_eq!(
            kind_of("/venv/lib/python3.11/site-packages/numpy/core/x.py"),
            Kind::Library
        );
        assert_eq!(kind_of("<frozen importlib._bootstrap>"), Kind::Library);
        assert_eq!(kind_of("/home/me/lib/pythonic/x.py"), Kind::User);
        assert_eq!(
            kind_of("/tmp/profbench-x1/_profbench_agent.py"),
            Kind::Library
        );
    }

    #[test]
    fn own_time_is_split_by_what_the_leaf_is_doing() {
        // main -> work; work runs bytecode, calls json (library), numpy.dot (long), sleeps.
        let p = profile(
            &[
                ("/a/app.py", "main", 10),
                ("/a/app.py", "work", 20),
                ("/usr/lib/python3.11/json/encoder.py", "encode", 5),
                ("<native>", "numpy.dot", 0),
                ("<native>", "time.sleep", 0),
                ("/a/app.py", "work", 21),
            ],
            &[
                (&[0, 1], 0.01, 0.01),
                (&[0, 5, 2], 0.01, 0.01),
                (&[0, 5, 3], 0.01, 0.01),
                (&[0, 5, 3], 0.01, 0.01),
                (&[0, 5, 4], 0.01, 0.0),
            ],
        );
        let a = account(&p);
        let work = a.index_of("work").unwrap();
        let t = &a.tallies[work];
        assert!((t.own_python_cpu - 0.01).abs() < 1e-12);
        assert!((t.own_library_cpu - 0.01).abs() < 1e-12);
        assert!((t.own_native_long_cpu - 0.02).abs() < 1e-12);
        assert!((t.own_wait - 0.01).abs() < 1e-12);
        assert_eq!(t.own_stalled, 0.0);
        assert!((t.inclusive_wall - 0.05).abs() < 1e-12);
        assert_eq!(t.first_line, 20);
        let main = a.index_of("main").unwrap();
        assert_eq!(a.tallies[main].own_wall, 0.0);
        assert!((a.total_cpu - 0.04).abs() < 1e-12);
        let dot = a.index_of("numpy.dot").unwrap();
        assert!((a.tallies[dot].self_cpu - 0.02).abs() < 1e-12);
    }

    #[test]
    fn calls_that_began_between_samples_are_counted() {
        // fib recursion: the stack below the first changed caller line is all new calls.
        let p = profile(
            &[
                ("/a/f.py", "main", 1),
                ("/a/f.py", "fib", 5),
                ("/a/f.py", "fib", 6),
            ],
            &[
                (&[0, 1, 1, 1], 0.01, 0.01),
                (&[0, 1, 1, 2, 1], 0.01, 0.01),
                (&[0, 1, 1, 2, 1], 0.01, 0.01),
            ],
        );
        let a = account(&p);
        let fib = a.index_of("fib").unwrap();
        // First sample: 3 fib frames. Second: depth 2 changed line (same call), 1 new below.
        // Third: the same stack, nothing new (it may be the same call).
        assert_eq!(a.tallies[fib].entries, 4);
        assert_eq!(a.tallies[fib].samples_with_entry, 2);
        assert_eq!(a.tallies[fib].samples, 3);
        assert_eq!(a.tallies[fib].max_depth, 4);
        let main = a.index_of("main").unwrap();
        assert_eq!(a.tallies[main].entries, 1);
    }
}
