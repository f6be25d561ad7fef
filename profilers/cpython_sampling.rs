//! CPython 3.15's built-in sampling profiler ("Tachyon", `python -m profiling.sampling`),
//! row `cpython-sampling`: `python -m profiling.sampling run --collapsed -r 10000 -d 86400
//! -o out.txt script.py` (3.15.2's `run --help`: `-r, --sampling-rate RATE` in Hz; the
//! alphas' `-i INTERVAL_US` is gone and is refused as an unrecognized argument). It runs the script in a child process and reads its stacks from
//! outside (like py-spy), in wall-clock mode, main thread only (its defaults).
//!
//! Output: collapsed stacks, one line per distinct stack, root first, then a space and the
//! sample count. As `CollapsedStackCollector.export` in CPython's
//! `Lib/profiling/sampling/stack_collector.py` writes them, a line starts with `tid:<id>`
//! and each frame is `<file basename>:<function>:<line>` (the executing line); special
//! frames (`<GC>`, `<native>`) are a bare name. The documentation's shorter example
//! (`main;process_data;parse_json 156`, bare names, no tid) is read as well.
//!
//! Needs Python ≥ 3.15: `check` refuses older interpreters from the environment's actual
//! version, so the cell reads "unsupported platform" without running anything.

use crate::backend::{Backend, Launch, ParseError, PythonFacts};
use crate::profile::{Clock, Frame, LineStat, Profile, Sample};
use crate::status::{classify_by, ExitInfo, Failure, Rule};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

pub const OUTPUT: &str = "cpython-sampling.txt";
/// Sampling interval asked for, µs (the tool's default: 10 kHz).
pub const INTERVAL_US: u32 = 100;
/// `-d`: the tool stops sampling after 10 s by default; a day covers every workload.
pub const DURATION_S: u32 = 86_400;
pub const MIN_VERSION: (u32, u32) = (3, 15);

pub struct CPythonSampling;

impl Backend for CPythonSampling {
    fn reads_from_outside(&self) -> bool {
        true
    }
    fn name(&self) -> &str {
        "cpython-sampling"
    }
    fn description(&self) -> String {
        format!("CPython 3.15 profiling.sampling (external sampler, wall clock, every {INTERVAL_US} µs), collapsed stacks")
    }
    fn clock(&self) -> Clock {
        Clock::Wall
    }
    fn is_sampler(&self) -> bool {
        true
    }
    fn check(&self, python: &PythonFacts) -> Result<(), (Failure, String)> {
        let (major, minor, micro) = python.version;
        if (major, minor) < MIN_VERSION {
            return Err((
                Failure::UnsupportedPlatform,
                format!(
                    "needs Python ≥ {}.{}, this environment has {major}.{minor}.{micro}",
                    MIN_VERSION.0, MIN_VERSION.1
                ),
            ));
        }
        Ok(())
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        let mut argv = launch.python.to_vec();
        argv.extend(["-m", "profiling.sampling", "run", "--collapsed"].map(OsString::from));
        argv.extend([
            "-r".into(),
            (1_000_000 / INTERVAL_US).to_string().into(),
            "-d".into(),
            DURATION_S.to_string().into(),
            OsString::from("-o"),
        ]);
        argv.push(launch.out_dir.join(OUTPUT).into());
        argv.push(launch.script.into());
        argv.extend(launch.args.iter().cloned());
        argv
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        let path = out_dir.join(OUTPUT);
        Some(match std::fs::read_to_string(&path) {
            Err(e) => Err(ParseError::NoOutput(format!("{}: {e}", path.display()))),
            Ok(text) => parse_collapsed(&text, INTERVAL_US as f64 * 1e-6),
        })
    }
    fn classify(&self, exit: &ExitInfo) -> Failure {
        classify(exit)
    }
}

/// One `file:function:line` frame; a frame without that shape is a bare function name.
fn parse_frame(text: &str) -> Frame {
    if let Some((rest, line)) = text.rsplit_once(':') {
        if let Ok(line) = line.parse::<u32>() {
            if let Some((file, function)) = rest.split_once(':') {
                return Frame {
                    file: file.to_string(),
                    function: function.to_string(),
                    line,
                };
            }
        }
    }
    Frame {
        file: String::new(),
        function: text.to_string(),
        line: 0,
    }
}

/// Parses collapsed stacks; `interval` is the sampling interval in seconds.
pub fn parse_collapsed(text: &str, interval: f64) -> Result<Profile, ParseError> {
    let bad = |n: usize, what: &str| {
        ParseError::Unparseable(format!("collapsed stacks, line {n}: {what}"))
    };
    let mut profile = Profile::new(Clock::Wall);
    profile.interval = Some(interval);
    let mut index = HashMap::new();
    let mut by_line: HashMap<(String, String, u32), (f64, u64)> = HashMap::new();
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end())) {
        if line.is_empty() {
            continue;
        }
        let (stack, count) = line
            .rsplit_once(' ')
            .ok_or_else(|| bad(n, "no sample count"))?;
        let count: u64 = count
            .parse()
            .map_err(|_| bad(n, "the sample count is not a number"))?;
        let mut parts = stack.split(';').peekable();
        let tid = match parts.peek().and_then(|p| p.strip_prefix("tid:")) {
            Some(t) => {
                let tid = t.parse::<u64>().map_err(|_| bad(n, "bad tid"))?;
                parts.next();
                tid
            }
            None => 0,
        };
        let frames: Vec<Frame> = parts.filter(|p| !p.is_empty()).map(parse_frame).collect();
        let Some(leaf) = frames.last().cloned() else {
            return Err(bad(n, "empty stack"));
        };
        let stack: Vec<u32> = frames
            .into_iter()
            .map(|f| profile.intern(&mut index, f))
            .collect();
        let weight = count as f64 * interval;
        if leaf.line > 0 {
            let e = by_line
                .entry((leaf.file, leaf.function, leaf.line))
                .or_default();
            e.0 += weight;
            // Saturating: counts come from the file; huge ones must not overflow (fuzzing).
            e.1 = e.1.saturating_add(count);
        }
        profile.samples.push(Sample {
            pid: 0,
            tid,
            stack,
            weight,
            count,
            cpu: None,
            idle: None,
            time: None,
        });
    }
    if profile.samples.is_empty() {
        return Err(ParseError::Unparseable(
            "collapsed stacks: no samples".into(),
        ));
    }
    let mut lines: Vec<LineStat> = by_line
        .into_iter()
        .map(|((file, function, line), (time, hits))| LineStat {
            file,
            function: Some(function),
            line,
            time,
            inclusive: None,
            hits: Some(hits),
        })
        .collect();
    lines.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    profile.lines = lines;
    Ok(profile)
}

/// The sampler's failure texts first, then the shared patterns.
/// Before 3.15 the stdlib has no `profiling` package: the interpreter, not an install, is
/// what is missing (`check` normally stops this before a run).
const RULES: &[Rule] = &[
    Rule::when(
        &["no module named 'profiling'"],
        Failure::UnsupportedPlatform,
    ),
    Rule::when(&["no module named profiling"], Failure::UnsupportedPlatform),
];

pub fn classify(exit: &ExitInfo) -> Failure {
    classify_by(exit, RULES)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIX: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/cpython_sampling/"
    );

    fn facts(version: (u32, u32, u32)) -> PythonFacts {
        PythonFacts {
            version,
            bin_dir: "/env/bin".into(),
        }
    }

    #[test]
    fn refuses_pythons_before_3_15() {
        let (failure, why) = CPythonSampling.check(&facts((3, 11, 7))).unwrap_err();
        assert_eq!(failure, Failure::UnsupportedPlatform);
        assert_eq!(why, "needs Python ≥ 3.15, this environment has 3.11.7");
        assert!(CPythonSampling.check(&facts((3, 15, 0))).is_ok());
        assert!(CPythonSampling.check(&facts((4, 0, 0))).is_ok());
    }

    #[test]
    fn handmade_collapsed_stacks_derived_from_the_docs() {
        // HANDMADE fixture (see its README): no Python 3.15 here to capture a real one.
        let text = std::fs::read_to_string(format!("{FIX}line-collapsed.HANDMADE.txt")).unwrap();
        let p = parse_collapsed(&text, 100e-6).unwrap();
        assert_eq!(p.sample_count(), 10398 + 6012 + 3975 + 4 + 2 + 1 + 3);
        assert_eq!(p.interval, Some(100e-6));
        assert!(p.samples.iter().all(|s| s.tid == 140011));
        let mixed = p.inclusive_seconds("mixed_lines", Some("line.py"));
        assert!(
            (mixed - (10398 + 4 + 1) as f64 * 100e-6).abs() < 1e-9,
            "{mixed}"
        );
        assert!((p.inclusive_seconds("light_loop", Some("line.py")) - 0.9987).abs() < 1e-9);
        // Line level: the leaf lines, the sum() line hot, `a = 1` (23) never seen.
        let heavy = p
            .lines
            .iter()
            .find(|l| l.file == "line.py" && l.line == 24)
            .unwrap();
        assert_eq!(heavy.hits, Some(10398));
        assert!(!p.lines.iter().any(|l| l.file == "line.py" && l.line == 23));
        assert!(p
            .frames
            .iter()
            .any(|f| f.function == "<GC>" && f.file.is_empty()));
        assert!(p
            .frames
            .iter()
            .any(|f| f.function == "phase.__enter__" && f.file == "truth.py" && f.line == 99));
    }

    #[test]
    fn a_real_capture_from_python_3_15_2() {
        // Captured in the sid-py315 chroot (see the fixtures' README), -r 10000.
        let text = std::fs::read_to_string(format!("{FIX}line-collapsed-3.15.2.txt")).unwrap();
        let p = parse_collapsed(&text, 100e-6).unwrap();
        assert_eq!(p.sample_count(), 26237);
        assert!((p.inclusive_seconds("mixed_lines", Some("line.py")) - 1.1).abs() < 1e-9);
        assert!((p.inclusive_seconds("light_loop", Some("line.py")) - 1.5202).abs() < 1e-9);
        let heavy = p
            .lines
            .iter()
            .find(|l| l.file == "line.py" && l.line == 24)
            .unwrap();
        assert_eq!(heavy.hits, Some(11000));
    }

    #[test]
    fn the_documentations_short_example_parses() {
        // Verbatim shape of Doc/library/profiling.sampling.rst's example: bare names, no tid.
        let p = parse_collapsed("main;process_data;parse_json;decode_utf8 42\nmain;process_data;parse_json 156\nmain;handle_request;send_response 89\n", 1e-4).unwrap();
        assert_eq!(p.sample_count(), 287);
        assert!((p.inclusive_seconds("parse_json", None) - 0.0198).abs() < 1e-9);
        assert!(p.lines.is_empty());
    }

    #[test]
    fn truncated_or_garbled_stacks_are_unparseable() {
        let text = std::fs::read_to_string(format!("{FIX}line-collapsed.HANDMADE.txt")).unwrap();
        // Cut inside the first line's count or stack: no count, or a count that is not one.
        for cut in [0, 10, 200] {
            assert!(
                matches!(
                    parse_collapsed(&text[..cut], 1e-4),
                    Err(ParseError::Unparseable(_))
                ),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            parse_collapsed("tid:x;a:b:1 3\n", 1e-4),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_collapsed("a;b;c 3.5\n", 1e-4),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_collapsed("\u{0}\u{1}garbage", 1e-4),
            Err(ParseError::Unparseable(_))
        ));
        let missing = CPythonSampling
            .parse(Path::new("/nonexistent-profbench-dir"), "")
            .unwrap();
        assert!(matches!(missing, Err(ParseError::NoOutput(_))));
    }

    #[test]
    fn real_failure_text_on_python_3_11() {
        let stderr = std::fs::read_to_string(format!("{FIX}errors/python-3.11.txt")).unwrap();
        assert_eq!(
            classify(&ExitInfo {
                code: Some(1),
                stderr,
                ..Default::default()
            }),
            Failure::UnsupportedPlatform
        );
    }
}
