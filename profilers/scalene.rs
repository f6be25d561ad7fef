//! Scalene 2.4.0: `python -m scalene run -o out.json [--cpu-only] script --- args`.
//! Rows: `scalene` (CPU + memory, the default) and `scalene-cpu` (`--cpu-only`).
//!
//! Clock: **wall**. Scalene 2.x samples with a wall-clock timer by default (SIGALRM;
//! `--use-virtual-time` would switch to a CPU timer) and charges each sample the elapsed time
//! since the previous one, split into Python, native (C) and "system" time, system being the
//! elapsed time the process did not spend on the CPU (sleep, I/O, waiting). Its percentages
//! (`n_cpu_percent_python` + `n_cpu_percent_c` + `n_sys_percent` per line, `cpu_samples` per
//! stack) are shares of that total elapsed time, so a sleeping line gets its sleep: what is
//! measured is wall time, whatever the field names say. Seconds are those shares × the run's
//! `elapsed_time_sec`.
//!
//! What is read:
//! - `stacks`: `[["file func:line;", ...root first], {count, cpu_samples (share), ...}]`, one
//!   entry per distinct Python stack: the samples, hence inclusive times of functions.
//!   (Scalene's `functions` lists only a function's own lines, not its callees, so they are not
//!   used as inclusive `FunctionStat`s.)
//! - `files.*.lines`: per-line time. Scalene spreads a sample that lands at the top of a tight
//!   loop evenly over the loop's body lines (its correction for loop-top bias) and scales the
//!   file's lines so they sum to ≤ 100 %: kept as it reports them.
//! - memory (full mode only): `max_footprint_mb` (its malloc-interposition heap footprint, not
//!   RSS) and each function's `n_peak_mb`.

use crate::backend::{read_output, Backend, Launch, ParseError};
use crate::profile::{Clock, Frame, LineStat, Memory, Profile, Sample};
use crate::status::{classify_by, ExitInfo, Failure, Rule};
use serde_json::Value;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

pub const OUTPUT: &str = "scalene.json";
pub const PIN: &str = "scalene==2.4.0";
/// Scalene's default CPU sampling interval (`--cpu-sampling-rate`, seconds).
pub const INTERVAL: f64 = 0.01;

pub struct Scalene {
    pub name: &'static str,
    pub cpu_only: bool,
}

impl Scalene {
    pub const FULL: Scalene = Scalene {
        name: "scalene",
        cpu_only: false,
    };
    pub const CPU_ONLY: Scalene = Scalene {
        name: "scalene-cpu",
        cpu_only: true,
    };
}

impl Backend for Scalene {
    fn variant_of(&self) -> Option<&'static str> {
        self.cpu_only.then_some(Scalene::FULL.name)
    }
    fn name(&self) -> &str {
        self.name
    }
    fn description(&self) -> String {
        let mode = if self.cpu_only {
            "--cpu-only"
        } else {
            "CPU + memory"
        };
        format!("Scalene 2.4.0 run {mode}, JSON (wall-clock time shares, line level)")
    }
    fn requirements(&self) -> Vec<&'static str> {
        vec![PIN]
    }
    fn distribution(&self) -> &str {
        "scalene"
    }
    fn clock(&self) -> Clock {
        Clock::Wall
    }
    fn is_sampler(&self) -> bool {
        true
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        let mut options = vec!["run".into(), "-o".into(), launch.out(OUTPUT)];
        if self.cpu_only {
            options.push(OsString::from("--cpu-only"));
        }
        // Scalene 2.x hands what follows the script to the program (its `---` is a sink whose
        // arguments are dropped, not passed). Caveat, seen with 2.4.0: an argument that is a
        // prefix of one of Scalene's own options (`--n`) is still taken by Scalene's parser.
        launch.python_module("scalene", options)
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        let path = out_dir.join(OUTPUT);
        Some(read_output(&path).and_then(|bytes| parse_json(&bytes)))
    }
    fn classify(&self, exit: &ExitInfo) -> Failure {
        classify_scalene(exit)
    }
}

/// Scalene's own failure texts first, then the shared patterns.
const RULES: &[Rule] = &[
    Rule::when(
        &["scalene: could not find input file"],
        Failure::TargetNotFound,
    ),
    Rule::when(
        &["scalene does not", "support"],
        Failure::UnsupportedPlatform,
    ),
    Rule::when(&["scalene requires"], Failure::UnsupportedPlatform),
];

pub fn classify_scalene(exit: &ExitInfo) -> Failure {
    classify_by(exit, RULES)
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// `"/w/line.py mixed_lines:24;"` -> frame.
fn stack_frame(text: &str) -> Option<Frame> {
    let t = text.strip_suffix(';').unwrap_or(text);
    let (file, rest) = t.rsplit_once(' ')?;
    let (function, line) = rest.rsplit_once(':')?;
    Some(Frame {
        file: file.to_string(),
        function: function.to_string(),
        line: line.parse().ok()?,
    })
}

/// Parses Scalene 2.x's JSON profile.
pub fn parse_json(bytes: &[u8]) -> Result<Profile, ParseError> {
    let bad = |what: &str| ParseError::Unparseable(format!("scalene JSON: {what}"));
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::NoOutput("scalene wrote an empty file".into()));
    }
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
    // Scalene writes `{}` when it kept no sample of the program (it says why on stderr, e.g.
    // "did not run for long enough to profile"): no profile, rather than a broken one.
    if doc.as_object().is_some_and(|o| o.is_empty()) {
        return Err(ParseError::NoOutput(
            "scalene wrote an empty profile ({})".into(),
        ));
    }
    let elapsed = doc
        .get("elapsed_time_sec")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("no elapsed_time_sec"))?;
    let files = doc
        .get("files")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no files object"))?;
    let stacks = doc
        .get("stacks")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no stacks array"))?;
    let mut profile = Profile::new(Clock::Wall);
    profile.duration = Some(elapsed);
    profile.interval = Some(INTERVAL);
    let mut index = HashMap::new();
    for entry in stacks {
        let pair = entry
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| bad("a stack entry is not [frames, stats]"))?;
        let frames = pair[0]
            .as_array()
            .ok_or_else(|| bad("stack frames are not a list"))?;
        let stats = &pair[1];
        let share = stats
            .get("cpu_samples")
            .and_then(Value::as_f64)
            .ok_or_else(|| bad("stack without cpu_samples"))?;
        let count = stats
            .get("count")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("stack without count"))?;
        let mut stack = Vec::with_capacity(frames.len());
        for f in frames {
            let text = f.as_str().ok_or_else(|| bad("a frame is not a string"))?;
            let frame = stack_frame(text)
                .ok_or_else(|| bad(&format!("frame {text:?} is not `file function:line;`")))?;
            stack.push(profile.intern(&mut index, frame));
        }
        profile.samples.push(Sample {
            pid: 0,
            tid: 0,
            stack,
            weight: share * elapsed,
            count,
            cpu: None,
            idle: None,
            time: None,
        });
    }
    let mut peak_by_function = HashMap::new();
    for (file, body) in files {
        let lines = body
            .get("lines")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("a file without lines"))?;
        // Which function each line belongs to, from the `functions` entries' first lines.
        let mut starts: Vec<(u64, String)> = Vec::new();
        for f in body
            .get("functions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = f
                .get("line")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a function without a name"))?;
            let first = f
                .get("lineno")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("a function without lineno"))?;
            starts.push((first, name.to_string()));
            let peak = num(f, "n_peak_mb");
            if peak > 0.0 {
                peak_by_function.insert(name.to_string(), (peak * 1048576.0) as u64);
            }
        }
        starts.sort();
        for l in lines {
            let lineno = l
                .get("lineno")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("a line without lineno"))?;
            let percent = num(l, "n_cpu_percent_python")
                + num(l, "n_cpu_percent_c")
                + num(l, "n_sys_percent");
            if percent <= 0.0 {
                continue;
            }
            // The function whose definition starts last at or before this line, when the line
            // is inside it (Scalene gives start/end_function_line on each line).
            let fstart = l.get("start_function_line").and_then(Value::as_u64);
            let function = starts
                .iter()
                .rev()
                .find(|(first, _)| fstart.map_or(*first <= lineno, |s| *first == s))
                .map(|(_, n)| n.clone());
            let hits = l
                .get("cpu_samples_list")
                .and_then(Value::as_array)
                .map(|a| a.len() as u64);
            profile.lines.push(LineStat {
                file: file.clone(),
                function,
                line: lineno as u32,
                // Scalene charges a sample to the innermost line of the profiled program:
                // self time among the program's lines (library calls included).
                time: percent / 100.0 * elapsed,
                inclusive: None,
                hits,
            });
        }
    }
    if doc.get("memory").and_then(Value::as_bool) == Some(true) {
        let peak_mb = num(&doc, "max_footprint_mb");
        profile.memory = Some(Memory {
            peak_bytes: Some((peak_mb * 1048576.0) as u64),
            kind: "heap".into(),
            peak_by_function,
        });
    }
    if profile.samples.is_empty() && profile.lines.is_empty() {
        return Err(ParseError::NoOutput("scalene recorded no samples".into()));
    }
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/scalene/");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{DIR}{name}: {e}"))
    }

    #[test]
    fn parses_real_runs() {
        for f in ["line-full.json", "line-cpu-only.json"] {
            let p = parse_json(&fixture(f)).unwrap();
            let mixed = p.inclusive_seconds("mixed_lines", Some("line.py"));
            let light = p.inclusive_seconds("light_loop", Some("line.py"));
            assert!(
                mixed > 0.1 && light > 0.1,
                "{f}: mixed {mixed} light {light}"
            );
            let share = mixed / (mixed + light);
            // Scalene under-charges the one long C call (few samples land in it): data, but it
            // must still be visible.
            assert!(share > 0.1 && share < 0.8, "{f}: mixed share {share}");
            // Line level: the sum(range(10**7)) line holds mixed_lines' time, `a = 1` none.
            let in_mixed: Vec<&LineStat> = p
                .lines
                .iter()
                .filter(|l| l.function.as_deref() == Some("mixed_lines"))
                .collect();
            let hot = in_mixed
                .iter()
                .find(|l| l.line == 24)
                .map(|l| l.time)
                .unwrap_or(0.0);
            let total: f64 = in_mixed.iter().map(|l| l.time).sum();
            assert!(
                total > 0.0 && hot / total > 0.9,
                "{f}: line 24 has {hot} of {total}"
            );
            assert!(!in_mixed.iter().any(|l| l.line == 23));
            assert!(p.lines.iter().all(|l| l.file.ends_with("line.py")));
            assert!(p.sample_count() > 10);
            assert_eq!(
                p.memory.is_some(),
                f == "line-full.json",
                "{f}: memory only in full mode"
            );
        }
    }

    #[test]
    fn stack_frames() {
        let f = stack_frame("/w/my dir/line.py mixed_lines:24;").unwrap();
        assert_eq!(
            (f.file.as_str(), f.function.as_str(), f.line),
            ("/w/my dir/line.py", "mixed_lines", 24)
        );
        assert!(stack_frame("garbage").is_none());
    }

    #[test]
    fn truncated_or_garbled_output_is_unparseable() {
        let bytes = fixture("line-full.json");
        for cut in [bytes.len() / 3, bytes.len() - 2] {
            assert!(matches!(
                parse_json(&bytes[..cut]),
                Err(ParseError::Unparseable(_))
            ));
        }
        let text = String::from_utf8(bytes)
            .unwrap()
            .replacen("\"stacks\"", "\"stackz\"", 1);
        assert!(matches!(
            parse_json(text.as_bytes()),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_json(b"[1, 2]"),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(parse_json(b""), Err(ParseError::NoOutput(_))));
        // Captured from pyperformance's async_tree_cpu_io_mixed (Scalene printed "did not run
        // for long enough to profile", errors/too-short-to-profile.txt).
        assert!(matches!(
            parse_json(&fixture("async-tree-cpu-io-mixed-empty.json")),
            Err(ParseError::NoOutput(_))
        ));
        let dir = std::env::temp_dir().join("profbench-scalene-missing");
        assert!(matches!(
            Scalene::FULL.parse(&dir, "").unwrap(),
            Err(ParseError::NoOutput(_))
        ));
    }

    #[test]
    fn classifies_real_failure_texts() {
        let read = |f: &str| ExitInfo {
            code: Some(1),
            stderr: String::from_utf8_lossy(&fixture(f)).into_owned(),
            ..Default::default()
        };
        assert_eq!(
            classify_scalene(&read("errors/missing-script.txt")),
            Failure::TargetNotFound
        );
        assert_eq!(
            classify_scalene(&read("errors/not-installed.txt")),
            Failure::NotInstallable
        );
    }

    #[test]
    fn command_passes_args_after_the_script() {
        let python = [OsString::from("/env/bin/python")];
        let args = [OsString::from("--n"), OsString::from("3")];
        let out = std::path::PathBuf::from("/out");
        let l = Launch {
            python: &python,
            bin_dir: Path::new("/env/bin"),
            tool_bin_dir: Path::new("/env/bin"),
            script: Path::new("/w/line.py"),
            args: &args,
            out_dir: &out,
            profbench_exe: Path::new("/pb"),
        };
        let argv: Vec<String> = Scalene::CPU_ONLY
            .command(&l)
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv,
            [
                "/env/bin/python",
                "-m",
                "scalene",
                "run",
                "-o",
                "/out/scalene.json",
                "--cpu-only",
                "/w/line.py",
                "--n",
                "3"
            ]
        );
    }
}
