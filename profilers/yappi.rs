//! yappi 1.7.6, a tracing profiler with a choice of clock: two rows, `yappi-wall` and
//! `yappi-cpu`, each `python -m yappi -c wall|cpu -f pstat -o out.pstat script.py`.
//! Its pstat file is read with cProfile's parser, with one fix: yappi writes its
//! (all calls, non-recursive calls) into pstats' (primitive, total) slots the other way round
//! (`convert2pstats` puts `ncall` first), so the two counts are swapped back here.

use crate::backend::{read_output, Backend, Launch, ParseError};
use crate::cprofile::parse_pstats;
use crate::profile::{Clock, Profile};
use crate::status::{classify_by, ExitInfo, Failure, Rule};
use std::ffi::OsString;
use std::path::Path;

pub const OUTPUT: &str = "yappi.pstat";

/// One yappi row: the same profiler with its wall or its CPU clock.
pub struct Yappi {
    pub clock: Clock,
}

impl Yappi {
    pub const WALL: Yappi = Yappi { clock: Clock::Wall };
    pub const CPU: Yappi = Yappi { clock: Clock::Cpu };

    fn clock_arg(&self) -> &'static str {
        match self.clock {
            Clock::Cpu => "cpu",
            _ => "wall",
        }
    }
}

impl Backend for Yappi {
    fn variant_of(&self) -> Option<&'static str> {
        matches!(self.clock, Clock::Cpu).then_some("yappi-wall")
    }
    fn name(&self) -> &str {
        match self.clock {
            Clock::Cpu => "yappi-cpu",
            _ => "yappi-wall",
        }
    }
    fn description(&self) -> String {
        format!(
            "yappi 1.7.6 (tracer, {} clock, all threads), python -m yappi -c {} -f pstat",
            self.clock_arg(),
            self.clock_arg()
        )
    }
    fn requirements(&self) -> Vec<&'static str> {
        vec!["yappi==1.7.6"]
    }
    fn distribution(&self) -> &str {
        "yappi"
    }
    fn clock(&self) -> Clock {
        self.clock
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        let mut options = ["-c", self.clock_arg(), "-f", "pstat", "-o"]
            .map(OsString::from)
            .to_vec();
        options.push(launch.out(OUTPUT));
        launch.python_module("yappi", options)
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        let path = out_dir.join(OUTPUT);
        Some(read_output(&path).and_then(|bytes| parse_yappi_pstat(&bytes, self.clock)))
    }
    fn classify(&self, exit: &ExitInfo) -> Failure {
        classify(exit)
    }
}

/// Parses yappi's pstat output (see the module comment for the swapped counts).
pub fn parse_yappi_pstat(bytes: &[u8], clock: Clock) -> Result<Profile, ParseError> {
    let mut profile = parse_pstats(bytes)?;
    profile.clock = clock;
    for f in &mut profile.functions {
        std::mem::swap(&mut f.calls, &mut f.primitive_calls);
    }
    Ok(profile)
}

/// yappi's own failure texts first, then the shared patterns.
const RULES: &[Rule] = &[
    // The script is opened by yappi's main(): `compile(open(sys.argv[0]...` fails, and then
    // yappi crashes again saving empty stats. Without this rule the shared "no such file or
    // directory" rule would call it not installable.
    Rule::when(
        &["compile(open(sys.argv[0]", "filenotfounderror"],
        Failure::TargetNotFound,
    ),
    // The pstat file could not be written (folder gone, disk full).
    Rule::when(&["in dump_stats", "filenotfounderror"], Failure::NoOutput),
    Rule::when(&["in dump_stats", "oserror"], Failure::NoOutput),
    Rule::when(&["in dump_stats", "permissionerror"], Failure::NoOutput),
    // Nothing was recorded, so pstats refused to build stats (seen after the error above
    // when only the tail of stderr is kept).
    Rule::when(
        &["cannot create or construct a <class 'pstats.stats'>"],
        Failure::NoOutput,
    ),
];

pub fn classify(exit: &ExitInfo) -> Failure {
    classify_by(exit, RULES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::FunctionStat;

    const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/yappi/");

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIX}{name}")).unwrap()
    }

    fn stat<'p>(p: &'p Profile, function: &str) -> &'p FunctionStat {
        p.functions
            .iter()
            .find(|s| {
                p.frames[s.frame as usize].function == function
                    && p.frames[s.frame as usize].file.ends_with("line.py")
            })
            .unwrap_or_else(|| panic!("{function} not in the profile"))
    }

    #[test]
    fn real_wall_and_cpu_profiles_of_the_line_workload() {
        for (file, clock) in [
            ("line-wall.pstat", Clock::Wall),
            ("line-cpu.pstat", Clock::Cpu),
        ] {
            let p = parse_yappi_pstat(&read(file), clock).unwrap();
            assert_eq!(p.clock, clock);
            let mixed = stat(&p, "mixed_lines");
            let light = stat(&p, "light_loop");
            let main = stat(&p, "main");
            assert_eq!((mixed.calls, mixed.primitive_calls), (3, 3), "{file}");
            assert_eq!((light.calls, main.calls), (1, 1), "{file}");
            assert!(
                mixed.inclusive > 0.1 && light.inclusive > 0.1,
                "{file}: {mixed:?} {light:?}"
            );
            assert!(
                main.inclusive >= 0.99 * (mixed.inclusive + light.inclusive),
                "{file}"
            );
            // Seen in the real files: without -b yappi lists no entry for builtins.sum, yet
            // keeps its time out of mixed_lines' own time (it is in the inclusive time only).
            assert!(mixed.exclusive < 0.01 * mixed.inclusive, "{file}");
        }
    }

    #[test]
    fn counts_are_swapped_back() {
        // yappi's pstat holds (all calls, non-recursive calls): the importlib machinery in
        // the real file recurses, so some entry must have more calls than primitive calls.
        let p = parse_yappi_pstat(&read("line-wall.pstat"), Clock::Wall).unwrap();
        assert!(p.functions.iter().all(|f| f.calls >= f.primitive_calls));
        assert!(p.functions.iter().any(|f| f.calls > f.primitive_calls));
    }

    #[test]
    fn truncated_or_garbled_files_are_unparseable() {
        let bytes = read("line-wall.pstat");
        for cut in [0, 1, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                matches!(
                    parse_yappi_pstat(&bytes[..cut], Clock::Wall),
                    Err(ParseError::Unparseable(_))
                ),
                "cut at {cut}"
            );
        }
        let mut garbled = bytes.clone();
        garbled[0] = b'X';
        assert!(matches!(
            parse_yappi_pstat(&garbled, Clock::Wall),
            Err(ParseError::Unparseable(_))
        ));
        let missing = Yappi::CPU
            .parse(Path::new("/nonexistent-profbench-dir"), "")
            .unwrap();
        assert!(matches!(missing, Err(ParseError::NoOutput(_))));
    }

    #[test]
    fn real_failure_texts_are_classified() {
        let text = |name: &str| ExitInfo {
            code: Some(1),
            stderr: std::fs::read_to_string(format!("{FIX}errors/{name}")).unwrap(),
            ..Default::default()
        };
        assert_eq!(
            classify(&text("missing-script.txt")),
            Failure::TargetNotFound
        );
        assert_eq!(classify(&text("output-dir-missing.txt")), Failure::NoOutput);
        assert_eq!(classify(&text("workload-crash.txt")), Failure::Crashed);
        assert_eq!(
            classify(&text("not-installed.txt")),
            Failure::NotInstallable
        );
        // Only the tail of stderr kept: the second error alone still says nothing was written.
        let tail = text("missing-script.txt")
            .stderr
            .lines()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            classify(&ExitInfo {
                code: Some(1),
                stderr: tail,
                ..Default::default()
            }),
            Failure::NoOutput
        );
    }

    #[test]
    fn two_rows_with_their_clocks() {
        assert_eq!(
            (Yappi::WALL.name(), Yappi::WALL.clock()),
            ("yappi-wall", Clock::Wall)
        );
        assert_eq!(
            (Yappi::CPU.name(), Yappi::CPU.clock()),
            ("yappi-cpu", Clock::Cpu)
        );
    }
}
