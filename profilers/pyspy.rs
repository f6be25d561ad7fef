//! py-spy 0.4.3, the out-of-process sampler: `py-spy record --format raw` wrapping the
//! workload's python argv. Its raw output is Brendan Gregg's collapsed format, one line per
//! distinct stack: `frame;frame;... count`, root first, frames `function (file:line)`; with
//! `--subprocesses` the first frames are `process PID:"cmdline"` (one per process between
//! py-spy's child and the sampled one, e.g. `uv` then `python`), with `--threads` the next
//! is `thread (TID)` or `thread (TID): name`.
//!
//! Rows:
//! - `py-spy`: `--idle --subprocesses`, blocking (py-spy pauses the target for each sample),
//!   100 Hz: the wall-clock view a user picks to see sleeps and I/O.
//! - `py-spy-cpu`: the same without `--idle` (py-spy's default): samples of threads it
//!   judges idle are dropped, so counts approximate on-CPU time.
//! - `py-spy-nonblocking`: as `py-spy` with `--nonblocking` (no pause, cheaper, may tear).
//! - `py-spy-nosub`: as `py-spy` without `--subprocesses`: under the `uv` launcher py-spy
//!   then sees the `uv` process, not Python (a target-not-found failure, kept as data).

use crate::backend::{read_output, Backend, Launch, ParseError};
use crate::profile::{Clock, Frame, LineStat, Profile, Sample};
use crate::status::{classify_by, ExitInfo, Failure, Rule};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

pub const OUTPUT: &str = "py-spy.txt";
pub const PIN: &str = "py-spy==0.4.3";

pub struct PySpy {
    pub name: &'static str,
    /// `--idle`: keep samples of idle threads (wall view).
    pub idle: bool,
    /// `--subprocesses`: follow children (finds Python behind a launcher).
    pub subprocesses: bool,
    /// `--nonblocking`: do not pause the target while reading its stacks.
    pub nonblocking: bool,
    /// Samples per second (`--rate`).
    pub rate: u32,
}

impl PySpy {
    pub const DEFAULT: PySpy = PySpy {
        name: "py-spy",
        idle: true,
        subprocesses: true,
        nonblocking: false,
        rate: 100,
    };
    /// The rate sweep (docs/method.md): the default row at 10 and 1000 Hz.
    pub const RATE_10: PySpy = PySpy {
        name: "py-spy-10hz",
        rate: 10,
        ..PySpy::DEFAULT
    };
    pub const RATE_1000: PySpy = PySpy {
        name: "py-spy-1000hz",
        rate: 1000,
        ..PySpy::DEFAULT
    };
    pub const CPU: PySpy = PySpy {
        name: "py-spy-cpu",
        idle: false,
        subprocesses: true,
        nonblocking: false,
        rate: 100,
    };
    pub const NONBLOCKING: PySpy = PySpy {
        name: "py-spy-nonblocking",
        idle: true,
        subprocesses: true,
        nonblocking: true,
        rate: 100,
    };
    pub const NOSUB: PySpy = PySpy {
        name: "py-spy-nosub",
        idle: true,
        subprocesses: false,
        nonblocking: false,
        rate: 100,
    };

    fn flags(&self) -> Vec<String> {
        let mut f = vec!["--threads".to_string(), "--full-filenames".to_string()];
        if self.idle {
            f.push("--idle".into());
        }
        if self.subprocesses {
            f.push("--subprocesses".into());
        }
        if self.nonblocking {
            f.push("--nonblocking".into());
        }
        f
    }
}

impl Backend for PySpy {
    fn reads_from_outside(&self) -> bool {
        true
    }
    fn variant_of(&self) -> Option<&'static str> {
        (self.name != PySpy::DEFAULT.name).then_some(PySpy::DEFAULT.name)
    }
    fn name(&self) -> &str {
        self.name
    }
    fn description(&self) -> String {
        format!(
            "py-spy 0.4.3 record --format raw --rate {} {} ({})",
            self.rate,
            self.flags().join(" "),
            if self.idle {
                "wall clock"
            } else {
                "on-CPU samples"
            }
        )
    }
    fn requirements(&self) -> Vec<&'static str> {
        vec![PIN]
    }
    fn distribution(&self) -> &str {
        "py-spy"
    }
    fn clock(&self) -> Clock {
        // With --idle every sample counts whatever the thread does: wall time. Without it
        // py-spy keeps only threads it judges active (OS state / GIL): an estimate of CPU.
        if self.idle {
            Clock::Wall
        } else {
            Clock::Cpu
        }
    }
    fn is_sampler(&self) -> bool {
        true
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![launch.bin_dir.join("py-spy").into()];
        argv.extend(["record", "--format", "raw", "--output"].map(OsString::from));
        argv.push(launch.out_dir.join(OUTPUT).into());
        argv.push("--rate".into());
        argv.push(self.rate.to_string().into());
        argv.extend(self.flags().into_iter().map(OsString::from));
        argv.push("--".into());
        // The launcher's python argv as is: under `uv run` py-spy's child is `uv`.
        argv.extend(launch.python.iter().cloned());
        argv.push(launch.script.into());
        argv.extend(launch.args.iter().cloned());
        argv
    }
    fn parse(&self, out_dir: &Path, stdout: &str) -> Option<Result<Profile, ParseError>> {
        let path = out_dir.join(OUTPUT);
        Some(read_output(&path).and_then(|bytes| {
            parse_raw(&bytes, self.rate, self.clock()).map(|mut p| {
                p.missed_samples = errors_from_stdout(stdout);
                p
            })
        }))
    }
    fn classify(&self, exit: &ExitInfo) -> Failure {
        classify_pyspy(exit)
    }
}

/// py-spy's own failure texts first (seen on real runs), then the shared patterns.
const RULES: &[Rule] = &[
    // Its text when reading the target's memory is refused (ptrace / process_vm_readv).
    Rule::when(
        &["permission denied: try running again with elevated permissions"],
        Failure::PermissionDenied,
    ),
    // The target is not Python: a launcher (`uv`) without --subprocesses, or a non-Python
    // program.
    Rule::when(
        &["failed to find python version from target process"],
        Failure::TargetNotFound,
    ),
    Rule::when(
        &["failed to get process executable name"],
        Failure::TargetNotFound,
    ),
    Rule::when(
        &["no python processes found in process"],
        Failure::TargetNotFound,
    ),
    Rule::when(
        &["unsupported version of python"],
        Failure::UnsupportedPlatform,
    ),
    // The python/launcher program to start does not exist: the environment is broken.
    Rule::when(
        &["failed to create process", "no such file or directory"],
        Failure::NotInstallable,
    ),
];

pub fn classify_pyspy(exit: &ExitInfo) -> Failure {
    classify_by(exit, RULES)
}

/// `Samples: 218 Errors: 0` from py-spy's closing line on stdout.
fn errors_from_stdout(stdout: &str) -> Option<u64> {
    let re = regex::Regex::new(r"Samples: \d+ Errors: (\d+)").expect("static regex");
    re.captures_iter(stdout)
        .last()
        .and_then(|c| c[1].parse().ok())
}

/// Splits `function (file:line)` (or `function (file)`, or a bare name).
pub fn split_frame(text: &str) -> Frame {
    if let (true, Some(open)) = (text.ends_with(')'), text.rfind(" (")) {
        let name = &text[..open];
        let inner = &text[open + 2..text.len() - 1];
        if let Some((file, line)) = inner.rsplit_once(':') {
            if let Ok(line) = line.parse::<u32>() {
                return Frame {
                    file: file.to_string(),
                    function: name.to_string(),
                    line,
                };
            }
        }
        return Frame {
            file: inner.to_string(),
            function: name.to_string(),
            line: 0,
        };
    }
    Frame {
        file: String::new(),
        function: text.to_string(),
        line: 0,
    }
}

/// Parses py-spy's raw (collapsed) output; `rate` samples per second gives each sample's
/// weight.
pub fn parse_raw(bytes: &[u8], rate: u32, clock: Clock) -> Result<Profile, ParseError> {
    let bad = |what: String| ParseError::Unparseable(format!("py-spy raw: {what}"));
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::NoOutput(
            "py-spy wrote an empty file (no samples)".into(),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    if !text.ends_with('\n') {
        return Err(bad(
            "the last line is cut off (no final newline): truncated output".into(),
        ));
    }
    if rate == 0 {
        return Err(bad("rate 0".into()));
    }
    let interval = 1.0 / rate as f64;
    let process_re = regex::Regex::new(r#"^process (\d+):""#).expect("static regex");
    let thread_re =
        regex::Regex::new(r"^thread \((0x[0-9a-fA-F]+|\d+)\)(: .*)?$").expect("static regex");
    let mut profile = Profile::new(clock);
    profile.interval = Some(interval);
    let mut index = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (stack, count) = line
            .rsplit_once(' ')
            .ok_or_else(|| bad(format!("line {}: no sample count", n + 1)))?;
        let count: u64 = count
            .parse()
            .map_err(|_| bad(format!("line {}: count {count:?} is not a number", n + 1)))?;
        let mut rest = stack;
        let mut pid = 0u32;
        // Leading `process PID:"cmdline";` frames (several under a launcher): the last is the
        // sampled process.
        while let Some(c) = process_re.captures(rest) {
            pid = c[1]
                .parse()
                .map_err(|_| bad(format!("line {}: bad pid", n + 1)))?;
            let after = &rest[c.get(0).expect("match").end()..];
            let close = after
                .find("\";")
                .map(|i| i + 2)
                .or_else(|| after.ends_with('"').then_some(after.len()));
            let close =
                close.ok_or_else(|| bad(format!("line {}: unterminated process frame", n + 1)))?;
            rest = &after[close..];
        }
        let mut parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split(';').collect()
        };
        let mut tid = 0u64;
        if let Some(c) = parts.first().and_then(|p| thread_re.captures(p)) {
            let t = &c[1];
            tid = match t.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => t.parse(),
            }
            .map_err(|_| bad(format!("line {}: bad thread id", n + 1)))?;
            parts.remove(0);
        }
        let mut ids = Vec::with_capacity(parts.len());
        for p in parts {
            if p.is_empty() {
                return Err(bad(format!("line {}: empty frame", n + 1)));
            }
            ids.push(profile.intern(&mut index, split_frame(p)));
        }
        profile.samples.push(Sample {
            pid,
            tid,
            stack: ids,
            weight: count as f64 * interval,
            count,
            cpu: None,
            idle: None,
            time: None,
        });
    }
    if profile.samples.is_empty() {
        return Err(ParseError::NoOutput("py-spy recorded no samples".into()));
    }
    profile.lines = leaf_lines(&profile);
    Ok(profile)
}

/// Line-level self time from samples: each sample's weight goes to its leaf frame's line.
pub fn leaf_lines(profile: &Profile) -> Vec<LineStat> {
    let mut acc: HashMap<u32, (f64, u64)> = HashMap::new();
    for s in &profile.samples {
        if let Some(&leaf) = s.stack.last() {
            let e = acc.entry(leaf).or_default();
            e.0 += s.weight;
            // Saturating: counts come from the file, and two huge ones must not overflow
            // (a panic in debug builds, a wrapped count in release). Found by fuzzing.
            e.1 = e.1.saturating_add(s.count);
        }
    }
    let mut lines: Vec<LineStat> = acc
        .into_iter()
        .filter(|(i, _)| profile.frames[*i as usize].line > 0)
        .map(|(i, (time, hits))| {
            let f = &profile.frames[i as usize];
            LineStat {
                file: f.file.clone(),
                function: Some(f.function.clone()),
                line: f.line,
                time,
                inclusive: None,
                hits: Some(hits),
            }
        })
        .collect();
    lines.sort_by(|a, b| {
        b.time
            .total_cmp(&a.time)
            .then_with(|| a.file.cmp(&b.file))
            .then(a.line.cmp(&b.line))
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/py-spy/");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{DIR}{name}: {e}"))
    }

    fn share(p: &Profile, a: &str, b: &str) -> f64 {
        let x = p.inclusive_seconds(a, Some("line.py"));
        let y = p.inclusive_seconds(b, Some("line.py"));
        x / (x + y)
    }

    fn check_line_workload(p: &Profile) {
        let mixed = p.inclusive_seconds("mixed_lines", Some("line.py"));
        let light = p.inclusive_seconds("light_loop", Some("line.py"));
        assert!(mixed > 0.3 && light > 0.3, "mixed {mixed} light {light}");
        let s = share(p, "mixed_lines", "light_loop");
        assert!(s > 0.2 && s < 0.8, "mixed share {s}");
        // Line level: inside mixed_lines the sum(range(10**7)) line (24) holds the time.
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
        assert!(hot / total > 0.9, "line 24 has {hot} of {total}");
        assert!(
            p.frames
                .iter()
                .any(|f| f.file.ends_with("/workloads/line.py")),
            "full file names"
        );
    }

    #[test]
    fn parses_real_direct_run() {
        let p = parse_raw(&fixture("line-direct.txt"), 100, Clock::Wall).unwrap();
        check_line_workload(&p);
        assert_eq!(p.interval, Some(0.01));
        assert!(
            p.samples.iter().all(|s| s.pid > 0 && s.tid > 0),
            "pid and tid from process/thread frames"
        );
        assert!(p.sample_count() > 100);
        let stdout = String::from_utf8(fixture("line-direct.stdout")).unwrap();
        assert_eq!(errors_from_stdout(&stdout), Some(0));
        assert!((p.sampled_seconds() - p.sample_count() as f64 * 0.01).abs() < 1e-9);
    }

    #[test]
    fn parses_real_uv_run_with_subprocesses() {
        // Under `uv run` the first frame is the uv process; the python child is the second.
        let text = fixture("line-uv-subprocesses.txt");
        assert!(String::from_utf8_lossy(&text).starts_with("process "));
        let p = parse_raw(&text, 100, Clock::Wall).unwrap();
        check_line_workload(&p);
        assert!(!p.frames.iter().any(|f| f.function.starts_with("process ")));
        let pids: std::collections::HashSet<u32> = p.samples.iter().map(|s| s.pid).collect();
        assert_eq!(pids.len(), 1, "only the python child is sampled: {pids:?}");
    }

    #[test]
    fn uv_run_where_py_spy_followed_uvs_interpreter_probe() {
        // Real run (kept, not regenerable): under `uv run` with a cold cache, py-spy
        // --subprocesses followed uv's short-lived `get_interpreter_info` python child and
        // stopped when it exited ("Stopped sampling because process exited"), exit code 0.
        let p = parse_raw(&fixture("line-uv-probe-only.txt"), 100, Clock::Wall).unwrap();
        assert_eq!(p.inclusive_seconds("mixed_lines", Some("line.py")), 0.0);
        assert_eq!(p.inclusive_seconds("light_loop", Some("line.py")), 0.0);
        assert_eq!(p.sample_count(), 3);
        // The probe's command line holds `;` and quotes; its samples have no Python frame yet.
        assert!(p
            .samples
            .iter()
            .all(|s| s.pid == 18522 && s.tid == 18522 && s.stack.is_empty()));
        let stdout = String::from_utf8(fixture("line-uv-probe-only.stdout")).unwrap();
        assert!(stdout.contains("Stopped sampling because process exited"));
        assert_eq!(errors_from_stdout(&stdout), Some(0));
    }

    #[test]
    fn parses_cpu_and_nonblocking_runs() {
        for f in ["line-cpu.txt", "line-nonblocking.txt"] {
            let p = parse_raw(&fixture(f), 100, Clock::Cpu).unwrap();
            check_line_workload(&p);
        }
    }

    #[test]
    fn frames_and_errors() {
        let f = split_frame("_tp_cache.<locals>.inner (typing.py:362)");
        assert_eq!(
            (f.function.as_str(), f.file.as_str(), f.line),
            ("_tp_cache.<locals>.inner", "typing.py", 362)
        );
        let f = split_frame("<module> (<frozen importlib._bootstrap>:1176)");
        assert_eq!(
            (f.file.as_str(), f.line),
            ("<frozen importlib._bootstrap>", 1176)
        );
        assert_eq!(split_frame("bare").function, "bare");
        assert_eq!(
            errors_from_stdout(
                "py-spy> Wrote raw flamegraph data to 'x'. Samples: 218 Errors: 3\n"
            ),
            Some(3)
        );
        assert_eq!(errors_from_stdout("nothing"), None);
    }

    #[test]
    fn truncated_or_garbled_output_is_unparseable() {
        let bytes = fixture("line-direct.txt");
        let cut = &bytes[..bytes.len() * 2 / 3];
        assert!(matches!(
            parse_raw(cut, 100, Clock::Wall),
            Err(ParseError::Unparseable(_))
        ));
        let mut garbled = bytes.clone();
        garbled.truncate(bytes.len() - 1);
        garbled.extend_from_slice(b"x\n");
        assert!(matches!(
            parse_raw(&garbled, 100, Clock::Wall),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_raw(b"\x00\xff\xfe\n", 100, Clock::Wall),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_raw(b"", 100, Clock::Wall),
            Err(ParseError::NoOutput(_))
        ));
        let dir = std::env::temp_dir().join("profbench-pyspy-missing");
        let r = PySpy::DEFAULT.parse(&dir, "").unwrap();
        assert!(matches!(r, Err(ParseError::NoOutput(_))));
    }

    fn exit(name: &str) -> ExitInfo {
        let text = std::fs::read_to_string(format!("{DIR}errors/{name}")).unwrap();
        ExitInfo {
            code: Some(1),
            stderr: text,
            ..Default::default()
        }
    }

    #[test]
    fn classifies_real_failure_texts() {
        // uv launcher without --subprocesses: py-spy sees `uv`, not Python.
        assert_eq!(
            classify_pyspy(&exit("uv-nosubprocesses.txt")),
            Failure::TargetNotFound
        );
        assert_eq!(
            classify_pyspy(&exit("non-python-target.txt")),
            Failure::TargetNotFound
        );
        // Non-root py-spy reading a non-dumpable / other user's process.
        assert_eq!(
            classify_pyspy(&exit("permission-denied.txt")),
            Failure::PermissionDenied
        );
        assert_eq!(
            classify_pyspy(&exit("missing-python.txt")),
            Failure::NotInstallable
        );
        let t = ExitInfo {
            timed_out: true,
            ..Default::default()
        };
        assert_eq!(classify_pyspy(&t), Failure::TimedOut);
    }

    #[test]
    fn command_wraps_the_launcher_argv() {
        let python = [OsString::from("/u/uv"), "run".into(), "python".into()];
        let out = std::path::PathBuf::from("/out");
        let l = Launch {
            python: &python,
            bin_dir: Path::new("/env/bin"),
            tool_bin_dir: Path::new("/env/bin"),
            script: Path::new("/w/line.py"),
            args: &[],
            out_dir: &out,
            profbench_exe: Path::new("/pb"),
        };
        let argv: Vec<String> = PySpy::NOSUB
            .command(&l)
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(argv[0], "/env/bin/py-spy");
        assert!(!argv.contains(&"--subprocesses".to_string()));
        let dash = argv.iter().position(|a| a == "--").unwrap();
        assert_eq!(&argv[dash + 1..], ["/u/uv", "run", "python", "/w/line.py"]);
        assert!(argv.contains(&"/out/py-spy.txt".to_string()));
    }
}
