//! line_profiler 5.1.0 (`kernprof -l`), a line-by-line tracer, run on an unmodified workload:
//! `python -m kernprof -l -p script.py -o out.lprof script.py` (`-p` autoprofiles every
//! function of the script itself, not of its imports). After the run a short `python -c`
//! dump (`DUMP_SCRIPT`) reads the `.lprof` with line_profiler's own `load_stats` and writes
//! JSON: exact integer times in the file's unit (ns), hits, and each line's source text.
//! The text report (`python -m line_profiler out.lprof`) rounds times to 0.1 µs or to three
//! significant digits, so it is not parsed.
//!
//! Per function: `lines` get every line's time and hits; the function's call record is
//! derived from them (line_profiler has no call records):
//! - inclusive: the sum of its lines (line_profiler's own "Total time"), except for a
//!   function whose own lines call it again (recursion): the sum of its lines then counts
//!   nested calls once per level, so the time of the lines in *other* profiled functions
//!   that call it is used instead, when there are any;
//! - calls: hits of its first executed line (one per call unless that line is a loop
//!   header);
//! - exclusive: the sum of its lines that call no profiled function.

use crate::backend::{read_output, Backend, Launch, ParseError};
use crate::profile::{Clock, Frame, FunctionStat, LineStat, Profile};
use crate::status::{classify_by, ExitInfo, Failure, Rule};
use regex::Regex;
use serde::Deserialize;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

pub const OUTPUT: &str = "line_profiler.lprof";
pub const DUMP: &str = "line_profiler.json";

/// Reads an .lprof (argv[1]) and writes JSON (argv[2]) with line_profiler's own loader.
// A raw string: a `\` line continuation would eat the indentation Python needs.
pub const DUMP_SCRIPT: &str = r#"import json, linecache, sys
from line_profiler import load_stats
s = load_stats(sys.argv[1])
fs = [{'file': f, 'line': l, 'function': n, 'lines': [[ln, h, t, linecache.getline(f, ln).strip()] for ln, h, t in rows]}
      for (f, l, n), rows in s.timings.items()]
with open(sys.argv[2], 'w') as out:
    json.dump({'unit': s.unit, 'functions': fs}, out)
"#;

pub struct LineProfiler;

impl Backend for LineProfiler {
    fn name(&self) -> &str {
        "line_profiler"
    }
    fn description(&self) -> String {
        "line_profiler 5.1.0 (line tracer, wall clock), kernprof -l -p <script> (autoprofile, workload unmodified)".into()
    }
    fn requirements(&self) -> Vec<&'static str> {
        vec!["line-profiler==5.1.0"]
    }
    fn distribution(&self) -> &str {
        "line-profiler"
    }
    fn clock(&self) -> Clock {
        // kernprof's timer is time.perf_counter (wall).
        Clock::Wall
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        // -p: profile the script's own functions (no @profile decorators needed).
        let options = [
            "-l".into(),
            "-p".into(),
            launch.script.into(),
            "-o".into(),
            launch.out(OUTPUT),
        ];
        launch.python_module("kernprof", options)
    }
    fn postprocess(&self, launch: &Launch) -> Vec<Vec<OsString>> {
        let mut argv = launch.python.to_vec();
        argv.push("-c".into());
        argv.push(DUMP_SCRIPT.into());
        argv.push(launch.out_dir.join(OUTPUT).into());
        argv.push(launch.out_dir.join(DUMP).into());
        vec![argv]
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        let path = out_dir.join(DUMP);
        Some(read_output(&path).and_then(|bytes| parse_dump(&bytes)))
    }
    fn classify(&self, exit: &ExitInfo) -> Failure {
        classify(exit)
    }
}

#[derive(Deserialize)]
struct Dump {
    unit: f64,
    functions: Vec<DumpFunction>,
}

#[derive(Deserialize)]
struct DumpFunction {
    file: String,
    line: u32,
    function: String,
    /// (line, hits, time in `unit`, source text)
    lines: Vec<(u32, u64, f64, String)>,
}

/// Whether a line of source calls `name` (bare or as the last part of a dotted name).
fn calls(source: &str, re: &Regex) -> bool {
    re.is_match(source)
}

/// Parses the JSON written by `DUMP_SCRIPT`.
pub fn parse_dump(bytes: &[u8]) -> Result<Profile, ParseError> {
    let dump: Dump = serde_json::from_slice(bytes)
        .map_err(|e| ParseError::Unparseable(format!("line_profiler dump: {e}")))?;
    if !(dump.unit.is_finite() && dump.unit > 0.0) {
        return Err(ParseError::Unparseable(format!(
            "line_profiler dump: bad unit {}",
            dump.unit
        )));
    }
    let unit = dump.unit;
    let mut profile = Profile::new(Clock::Wall);
    let mut index = HashMap::new();
    // A call of `f` in a line's source: `f(` not preceded by a name character.
    let call_re: Vec<Regex> = dump
        .functions
        .iter()
        .map(|f| {
            let bare = f.function.rsplit('.').next().unwrap_or(&f.function);
            Regex::new(&format!(r"(^|[^A-Za-z0-9_]){}\s*\(", regex::escape(bare)))
                .expect("escaped name is a valid regex")
        })
        .collect();
    for (i, f) in dump.functions.iter().enumerate() {
        let executed: Vec<&(u32, u64, f64, String)> = f.lines.iter().filter(|l| l.1 > 0).collect();
        if executed.is_empty() {
            continue; // profiled but never called
        }
        let frame = profile.intern(
            &mut index,
            Frame {
                file: f.file.clone(),
                function: f.function.clone(),
                line: f.line,
            },
        );
        for (line, hits, time, _) in &f.lines {
            profile.lines.push(LineStat {
                file: f.file.clone(),
                function: Some(f.function.clone()),
                line: *line,
                // line_profiler times a line from its start to the next line of the same
                // frame: what the line calls is in it (inclusive). Its output has no self
                // time, so `time` carries the same figure.
                time: time * unit,
                inclusive: Some(time * unit),
                hits: Some(*hits),
            });
        }
        let sum: f64 = f.lines.iter().map(|l| l.2).sum();
        let first = executed.iter().min_by_key(|l| l.0).map_or(0, |l| l.1);
        let recursive = f.lines.iter().any(|l| calls(&l.3, &call_re[i]));
        // Lines elsewhere that call this function: their time is its inclusive time.
        let call_sites: Vec<&(u32, u64, f64, String)> = dump
            .functions
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, g)| g.lines.iter())
            .filter(|l| l.1 > 0 && calls(&l.3, &call_re[i]))
            .collect();
        let (inclusive, primitive) = if recursive && !call_sites.is_empty() {
            (
                call_sites.iter().map(|l| l.2).sum::<f64>(),
                // Saturating: hit counts come from the file; huge ones must not overflow
                // (fuzzing).
                call_sites.iter().fold(0u64, |n, l| n.saturating_add(l.1)),
            )
        } else {
            (sum, first)
        };
        let exclusive: f64 = f
            .lines
            .iter()
            .filter(|l| !call_re.iter().any(|re| calls(&l.3, re)))
            .map(|l| l.2)
            .sum();
        profile.functions.push(FunctionStat {
            frame,
            calls: first,
            primitive_calls: primitive.min(first),
            inclusive: inclusive * unit,
            exclusive: exclusive * unit,
        });
    }
    if profile.lines.is_empty() {
        // kernprof profiles the script's own functions: a program whose work is all in
        // libraries it calls leaves nothing to report.
        return Err(ParseError::NoOutput(
            "line_profiler profiled no function that ran (it profiles the script's own functions)"
                .into(),
        ));
    }
    Ok(profile)
}

/// line_profiler's own failure texts first, then the shared patterns.
const RULES: &[Rule] = &[
    // kernprof checks the script before running it.
    Rule::when(&["could not find script "], Failure::TargetNotFound),
    // The .lprof could not be written (`LineStats.to_file`), or the dump found none
    // (`from_files`): nothing to read either way.
    Rule::when(
        &["in to_file", "no such file or directory"],
        Failure::NoOutput,
    ),
    Rule::when(
        &["in from_files", "no such file or directory"],
        Failure::NoOutput,
    ),
];

pub fn classify(exit: &ExitInfo) -> Failure {
    classify_by(exit, RULES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_script_is_valid_python() {
        // Its indentation once got lost in a string continuation; compile it for real.
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys; compile(sys.argv[1], 'dump', 'exec')",
                DUMP_SCRIPT,
            ])
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    const FIX: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/line_profiler/"
    );

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIX}{name}")).unwrap()
    }

    fn line(p: &Profile, n: u32) -> &LineStat {
        p.lines
            .iter()
            .find(|l| l.line == n && l.file.ends_with("line.py"))
            .unwrap()
    }

    fn stat<'p>(p: &'p Profile, function: &str) -> &'p FunctionStat {
        p.functions
            .iter()
            .find(|s| p.frames[s.frame as usize].function == function)
            .unwrap()
    }

    #[test]
    fn real_line_profile_puts_the_time_on_the_heavy_line() {
        let p = parse_dump(&read("line.json")).unwrap();
        let mixed = stat(&p, "mixed_lines");
        // line.py: 23 `a = 1`, 24 `b = sum(range(10**7))`, 25 `c = a + 1`.
        let (light, heavy) = (line(&p, 23), line(&p, 24));
        assert_eq!((light.hits, heavy.hits), (Some(3), Some(3)));
        assert_eq!(heavy.function.as_deref(), Some("mixed_lines"));
        assert!(heavy.time > 0.99 * mixed.inclusive, "{heavy:?} {mixed:?}");
        assert!(light.time < 0.001 * mixed.inclusive, "{light:?}");
        assert!(p
            .lines
            .iter()
            .filter(|l| l.file.ends_with("line.py") && (21..=26).contains(&l.line))
            .all(|l| l.time <= heavy.time));
        // Call records from the lines.
        assert_eq!(mixed.calls, 3);
        assert!(mixed.inclusive > 0.1);
        let light_loop = stat(&p, "light_loop");
        assert_eq!(light_loop.calls, 1);
        assert_eq!(line(&p, 33).hits, Some(12_000_000));
        let main = stat(&p, "main");
        assert!(main.inclusive >= mixed.inclusive + light_loop.inclusive);
        // main's lines mostly call profiled functions: little time of its own.
        assert!(main.exclusive < 0.01 * main.inclusive);
        assert_eq!(p.frames[mixed.frame as usize].line, 21);
    }

    #[test]
    fn recursion_uses_the_callers_lines() {
        // Hand-made (not a real run): fib's own lines count nested calls once per level.
        let json = br#"{"unit": 1e-9, "functions": [
            {"file": "/w/r.py", "line": 1, "function": "fib", "lines": [
                [2, 177, 1000, "if n <= 1:"], [3, 89, 500, "return n"],
                [4, 88, 90000000, "return fib(n - 1) + fib(n - 2)"]]},
            {"file": "/w/r.py", "line": 6, "function": "main", "lines": [
                [7, 1, 20000000, "fib(10)"], [8, 1, 5000, "print('done')"]]}]}"#;
        let p = parse_dump(json).unwrap();
        let fib = stat(&p, "fib");
        assert!((fib.inclusive - 0.02).abs() < 1e-12, "{fib:?}");
        assert_eq!((fib.calls, fib.primitive_calls), (177, 1));
        assert!((fib.exclusive - 1500e-9).abs() < 1e-15);
        let main = stat(&p, "main");
        assert!((main.inclusive - 0.020005).abs() < 1e-12);
        assert!((main.exclusive - 5e-6).abs() < 1e-15);
    }

    #[test]
    fn truncated_or_garbled_dumps_are_unparseable() {
        let bytes = read("line.json");
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                matches!(parse_dump(&bytes[..cut]), Err(ParseError::Unparseable(_))),
                "cut at {cut}"
            );
        }
        // The raw .lprof (a pickle) is not what parse reads.
        assert!(matches!(
            parse_dump(&read("line.lprof")),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_dump(br#"{"unit": 0, "functions": []}"#),
            Err(ParseError::Unparseable(_))
        ));
        // Well formed, but no profiled function ran (a program whose work is all in
        // libraries): nothing to report, not garbage.
        assert!(matches!(
            parse_dump(br#"{"unit": 1e-9, "functions": []}"#),
            Err(ParseError::NoOutput(_))
        ));
        let missing = LineProfiler
            .parse(Path::new("/nonexistent-profbench-dir"), "")
            .unwrap();
        assert!(matches!(missing, Err(ParseError::NoOutput(_))));
    }

    #[test]
    fn real_failure_texts_are_classified() {
        let text = |name: &str| ExitInfo {
            code: Some(1),
            stderr: String::from_utf8(read(&format!("errors/{name}"))).unwrap(),
            ..Default::default()
        };
        assert_eq!(
            classify(&text("missing-script.txt")),
            Failure::TargetNotFound
        );
        assert_eq!(classify(&text("output-dir-missing.txt")), Failure::NoOutput);
        assert_eq!(classify(&text("dump-no-lprof.txt")), Failure::NoOutput);
        assert_eq!(classify(&text("workload-crash.txt")), Failure::Crashed);
    }
}
