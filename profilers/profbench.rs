//! profbench's own sampler (`profbench record`, crate profbench-sampler): an in-process,
//! stdlib-only Python agent injected through PYTHONPATH plus a Rust collector. Needs no root,
//! ptrace or system setting, follows launchers and subprocesses, weights each sample by the
//! wall time it stands for and marks it idle from the thread's own CPU time.
//!
//! Its `--format json` output is exactly `Profile` serialised with serde, so parsing is one
//! `serde_json::from_slice`; the checks below only say *why* a file is unusable.

use crate::backend::{read_output, Backend, Launch, ParseError};
use crate::profile::{Clock, Profile};
use std::ffi::OsString;
use std::path::Path;

pub const OUTPUT: &str = "profile.json";

/// One row per sampling rate (the default 100 Hz, and the sweep's 10 and 1000 Hz); one
/// reading stacks from Python instead of with the native reader (`--no-native-reader`), and
/// two with the older frame-by-frame reader (`--reader walk`), to measure what each changes.
pub struct ProfbenchSampler {
    pub name: &'static str,
    pub rate: u32,
    pub native_reader: bool,
    /// `--reader` when not the default one.
    pub reader: Option<&'static str>,
}

impl ProfbenchSampler {
    pub const DEFAULT: ProfbenchSampler = ProfbenchSampler {
        name: "profbench",
        rate: 100,
        native_reader: true,
        reader: None,
    };
    pub const RATE_10: ProfbenchSampler = ProfbenchSampler {
        name: "profbench-10hz",
        rate: 10,
        native_reader: true,
        reader: None,
    };
    pub const RATE_1000: ProfbenchSampler = ProfbenchSampler {
        name: "profbench-1000hz",
        rate: 1000,
        native_reader: true,
        reader: None,
    };
    pub const FROM_PYTHON: ProfbenchSampler = ProfbenchSampler {
        name: "profbench-gil",
        rate: 100,
        native_reader: false,
        reader: None,
    };
    pub const WALK: ProfbenchSampler = ProfbenchSampler {
        name: "profbench-walk",
        rate: 100,
        native_reader: true,
        reader: Some("walk"),
    };
    pub const WALK_1000: ProfbenchSampler = ProfbenchSampler {
        name: "profbench-walk-1000hz",
        rate: 1000,
        native_reader: true,
        reader: Some("walk"),
    };

    /// The options after `--subprocesses` that pick how stacks are read.
    fn reader_args(&self) -> Vec<&'static str> {
        match (self.native_reader, self.reader) {
            (false, _) => vec!["--no-native-reader"],
            (true, Some(r)) => vec!["--reader", r],
            (true, None) => Vec::new(),
        }
    }
}

impl Backend for ProfbenchSampler {
    fn variant_of(&self) -> Option<&'static str> {
        (self.name != ProfbenchSampler::DEFAULT.name).then_some(ProfbenchSampler::DEFAULT.name)
    }
    fn name(&self) -> &str {
        self.name
    }
    fn description(&self) -> String {
        format!(
            "profbench record --rate {} --subprocesses{} (own in-process sampler, {}, time-weighted, wall clock)",
            self.rate,
            self.reader_args().iter().fold(String::new(), |s, a| s + " " + a),
            match (self.native_reader, self.reader) {
                (false, _) => "stacks read from a Python thread",
                (true, Some(_)) => "native stack reader walking frame by frame while the thread runs",
                (true, None) => "native stack reader: running threads copy their own stack at the tick",
            }
        )
    }
    fn clock(&self) -> Clock {
        Clock::Wall
    }
    fn is_sampler(&self) -> bool {
        true
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![launch.profbench_exe.into()];
        argv.extend(
            [
                "record",
                "--rate",
                &self.rate.to_string(),
                "--subprocesses",
                "--format",
                "json",
                "-o",
            ]
            .map(OsString::from),
        );
        argv.push(launch.out_dir.join(OUTPUT).into());
        argv.extend(self.reader_args().into_iter().map(OsString::from));
        argv.push("--".into());
        argv.extend(launch.python.iter().cloned());
        argv.push(launch.script.into());
        argv.extend(launch.args.iter().cloned());
        argv
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        let path = out_dir.join(OUTPUT);
        Some(read_output(&path).and_then(|bytes| parse_profile(&bytes)))
    }
}

pub fn parse_profile(bytes: &[u8]) -> Result<Profile, ParseError> {
    let profile: Profile = serde_json::from_slice(bytes)
        .map_err(|e| ParseError::Unparseable(format!("profbench json: {e}")))?;
    if profile.samples.is_empty() {
        return Err(ParseError::Unparseable("profbench json: no samples".into()));
    }
    check_frame_indices(&profile, "profbench json")?;
    Ok(profile)
}

/// Every frame index in a deserialised profile must point at a frame: the harness indexes
/// `frames` directly. Call records are checked too (fuzzing found a `functions[].frame` out of
/// range passing, which panicked later in harness/checks.rs); custom backends' profile JSON
/// shares this check.
pub fn check_frame_indices(profile: &Profile, what: &str) -> Result<(), ParseError> {
    let frames = profile.frames.len();
    if let Some(bad) = profile
        .samples
        .iter()
        .flat_map(|s| &s.stack)
        .chain(profile.functions.iter().map(|f| &f.frame))
        .find(|&&i| i as usize >= frames)
    {
        return Err(ParseError::Unparseable(format!(
            "{what}: frame index {bad} out of {frames}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Frame, Sample};
    use std::path::PathBuf;

    fn profile() -> Profile {
        let mut p = Profile::new(Clock::Wall);
        p.frames.push(Frame {
            file: "w/single.py".into(),
            function: "pattern_io_bound".into(),
            line: 40,
        });
        p.samples.push(Sample {
            pid: 1,
            tid: 1,
            stack: vec![0],
            weight: 0.5,
            count: 1,
            cpu: Some(0.0),
            idle: Some(true),
            time: Some(0.5),
        });
        p.interval = Some(0.01);
        p
    }

    #[test]
    fn command_wraps_the_launchers_python() {
        let python = [OsString::from("uv"), "run".into(), "python".into()];
        let launch = Launch {
            python: &python,
            bin_dir: Path::new("/env/bin"),
            tool_bin_dir: Path::new("/env/bin"),
            script: Path::new("w/single.py"),
            args: &[],
            out_dir: Path::new("/out"),
            profbench_exe: Path::new("/bin/profbench"),
        };
        let argv: Vec<String> = ProfbenchSampler::DEFAULT
            .command(&launch)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv,
            [
                "/bin/profbench",
                "record",
                "--rate",
                "100",
                "--subprocesses",
                "--format",
                "json",
                "-o",
                "/out/profile.json",
                "--",
                "uv",
                "run",
                "python",
                "w/single.py"
            ]
        );
    }

    #[test]
    fn the_older_reader_rows_ask_for_it() {
        let python = [OsString::from("python3")];
        let launch = Launch {
            python: &python,
            bin_dir: Path::new("/env/bin"),
            tool_bin_dir: Path::new("/env/bin"),
            script: Path::new("w/single.py"),
            args: &[],
            out_dir: Path::new("/out"),
            profbench_exe: Path::new("/bin/profbench"),
        };
        let argv = |b: &ProfbenchSampler| -> String {
            b.command(&launch)
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(argv(&ProfbenchSampler::WALK_1000).contains(
            "--rate 1000 --subprocesses --format json -o /out/profile.json --reader walk --"
        ));
        assert!(argv(&ProfbenchSampler::FROM_PYTHON).contains("--no-native-reader --"));
        assert!(!argv(&ProfbenchSampler::DEFAULT).contains("--reader"));
    }

    #[test]
    fn parses_its_own_json_and_rejects_bad_files() {
        let text = serde_json::to_vec(&profile()).unwrap();
        let p = parse_profile(&text).unwrap();
        assert!((p.inclusive_seconds("pattern_io_bound", Some("single.py")) - 0.5).abs() < 1e-12);
        assert!(matches!(
            parse_profile(b"{not json"),
            Err(ParseError::Unparseable(_))
        ));
        let mut bad = profile();
        bad.samples[0].stack = vec![7];
        assert!(matches!(
            parse_profile(&serde_json::to_vec(&bad).unwrap()),
            Err(ParseError::Unparseable(_))
        ));
        let dir = PathBuf::from("/nonexistent-profbench-dir");
        assert!(matches!(
            ProfbenchSampler::DEFAULT.parse(&dir, ""),
            Some(Err(ParseError::NoOutput(_)))
        ));
    }
}
