//! memray 1.20.0, a memory profiler (axis 5 only, no time attribution):
//! `python -m memray run -q -f -o out.bin script.py`, then `memray transform csv` turns the
//! capture into the allocations alive at the heap's high-water mark, one row per allocation
//! site with its Python stack. Their sizes add up to the peak `memray stats` reports
//! (checked on the fixtures), so one post-processing command gives both the peak and the
//! per-function breakdown at the peak.

use crate::backend::{Backend, Launch, ParseError};
use crate::profile::{Clock, Memory, Profile};
use crate::status::{classify_by, ExitInfo, Failure, Rule};
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::Path;

pub const CAPTURE: &str = "memray.bin";
pub const PEAK_CSV: &str = "memray-peak.csv";

pub struct Memray {
    pub name: &'static str,
    /// `--trace-python-allocators`: also every allocation of Python's own object allocator
    /// (pymalloc), as the Scalene paper ran memray; slower, and the peak is exact for small
    /// objects too.
    pub python_allocators: bool,
}

impl Memray {
    pub const DEFAULT: Memray = Memray {
        name: "memray",
        python_allocators: false,
    };
    pub const PYTHON_ALLOCATORS: Memray = Memray {
        name: "memray-pyalloc",
        python_allocators: true,
    };
}

impl Backend for Memray {
    fn name(&self) -> &str {
        self.name
    }
    fn variant_of(&self) -> Option<&'static str> {
        self.python_allocators.then_some(Memray::DEFAULT.name)
    }
    fn description(&self) -> String {
        format!(
            "memray 1.20.0 (heap allocations, memory only), python -m memray run{} + transform csv (peak)",
            if self.python_allocators {
                " --trace-python-allocators"
            } else {
                ""
            }
        )
    }
    fn requirements(&self) -> Vec<&'static str> {
        vec!["memray==1.20.0"]
    }
    fn distribution(&self) -> &str {
        "memray"
    }
    fn clock(&self) -> Clock {
        Clock::None
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        // -q: no "writing results to" banner; -f: overwrite a leftover capture.
        let mut options = ["run", "-q", "-f"].map(OsString::from).to_vec();
        if self.python_allocators {
            options.push("--trace-python-allocators".into());
        }
        options.push("-o".into());
        options.push(launch.out(CAPTURE));
        launch.python_module("memray", options)
    }
    fn postprocess(&self, launch: &Launch) -> Vec<Vec<OsString>> {
        let mut argv = launch.python.to_vec();
        // transform's default report is the high-water mark (not --leaks, not temporary).
        argv.extend(["-m", "memray", "transform", "csv", "-f", "-o"].map(OsString::from));
        argv.push(launch.out_dir.join(PEAK_CSV).into());
        argv.push(launch.out_dir.join(CAPTURE).into());
        vec![argv]
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        let path = out_dir.join(PEAK_CSV);
        Some(match std::fs::read_to_string(&path) {
            Err(e) => Err(ParseError::NoOutput(format!("{}: {e}", path.display()))),
            Ok(text) => parse_peak_csv(&text),
        })
    }
    fn classify(&self, exit: &ExitInfo) -> Failure {
        classify(exit)
    }
}

/// Parses `memray transform csv`: header
/// `allocator,num_allocations,size,tid,thread_name,stack_trace`, the stack leaf first as
/// `function;file;line` frames joined by `|`. A function's peak bytes are the bytes alive at
/// the peak whose stack contains it (inclusive; a recursive stack counts once).
pub fn parse_peak_csv(text: &str) -> Result<Profile, ParseError> {
    let bad = |what: String| ParseError::Unparseable(format!("memray csv: {what}"));
    let mut lines = text.lines();
    let header = lines.next().ok_or_else(|| bad("empty file".into()))?;
    let columns: Vec<&str> = header.split(',').collect();
    let col = |name: &str| {
        columns
            .iter()
            .position(|c| c.trim() == name)
            .ok_or_else(|| bad(format!("no {name} column")))
    };
    let (size_col, stack_col) = (col("size")?, col("stack_trace")?);
    if stack_col != columns.len() - 1 {
        return Err(bad("stack_trace is not the last column".into()));
    }
    let mut peak: u64 = 0;
    let mut by_function: HashMap<String, u64> = HashMap::new();
    let mut rows = 0usize;
    for (n, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        // The stack may itself hold commas (file names), so split only up to it.
        let fields: Vec<&str> = line.splitn(columns.len(), ',').collect();
        if fields.len() != columns.len() {
            return Err(bad(format!(
                "row {} has {} fields, expected {}",
                n + 2,
                fields.len(),
                columns.len()
            )));
        }
        let size: u64 = fields[size_col].parse().map_err(|_| {
            bad(format!(
                "row {}: size {:?} is not a number",
                n + 2,
                fields[size_col]
            ))
        })?;
        // Saturating: sizes come from the file; huge ones must not overflow (fuzzing).
        peak = peak.saturating_add(size);
        rows += 1;
        let mut seen = HashSet::new();
        for frame in fields[stack_col].split('|').filter(|f| !f.is_empty()) {
            // function;file;line — the function is everything before the first ';'.
            let mut parts = frame.rsplitn(3, ';');
            let (Some(line_no), Some(_file), Some(function)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad(format!(
                    "row {}: frame {frame:?} is not function;file;line",
                    n + 2
                )));
            };
            if line_no.parse::<u64>().is_err() {
                return Err(bad(format!(
                    "row {}: frame {frame:?} has no line number",
                    n + 2
                )));
            }
            if seen.insert(function) {
                let e = by_function.entry(function.to_string()).or_default();
                *e = e.saturating_add(size);
            }
        }
    }
    if rows == 0 {
        return Err(bad("no allocations at the peak".into()));
    }
    let mut profile = Profile::new(Clock::None);
    profile.memory = Some(Memory {
        peak_bytes: Some(peak),
        kind: "heap".into(),
        peak_by_function: by_function,
    });
    Ok(profile)
}

/// memray's own failure texts first, then the shared patterns.
const RULES: &[Rule] = &[
    // `memray run` could not open its capture file.
    Rule::when(&["could not create output file"], Failure::NoOutput),
    // `memray transform` found no capture (the run wrote nothing).
    Rule::when(&["no such file: "], Failure::NoOutput),
    // `memray run missing.py` prints only "[Errno 2] No such file or directory: 'missing.py'"
    // (no traceback, no module error): the target script is missing.
    Rule::when(
        &["[errno 2] no such file or directory: '"],
        Failure::TargetNotFound,
    )
    .unless(&["traceback"]),
];

pub fn classify(exit: &ExitInfo) -> Failure {
    classify_by(exit, RULES)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/memray/");

    fn read(name: &str) -> String {
        std::fs::read_to_string(format!("{FIX}{name}")).unwrap()
    }

    /// `metadata.peak_memory` of `memray stats --json` on the same capture.
    fn stats_peak(name: &str) -> u64 {
        let v: serde_json::Value = serde_json::from_str(&read(name)).unwrap();
        v["metadata"]["peak_memory"].as_u64().unwrap()
    }

    #[test]
    fn peak_csv_adds_up_to_memrays_own_peak() {
        let p = parse_peak_csv(&read("line-peak.csv")).unwrap();
        assert_eq!(p.clock, Clock::None);
        let m = p.memory.unwrap();
        assert_eq!(m.kind, "heap");
        assert_eq!(m.peak_bytes, Some(stats_peak("line-stats.json")));
        // Inclusive: the module's frame holds at least what main holds.
        assert!(
            m.peak_by_function.get("<module>").copied().unwrap_or(0)
                >= m.peak_by_function.get("main").copied().unwrap_or(0)
        );
    }

    #[test]
    fn single_allocation_phase_dominates_its_peak() {
        // The 40 largest rows of single.py's high-water mark (see the capture script).
        let p = parse_peak_csv(&read("single-peak-top40.csv")).unwrap();
        let m = p.memory.unwrap();
        let stats = stats_peak("single-stats.json");
        let peak = m.peak_bytes.unwrap();
        assert!(
            peak <= stats && peak as f64 > 0.99 * stats as f64,
            "{peak} vs {stats}"
        );
        let alloc = m.peak_by_function["pattern_memory_allocation"];
        // 100,000 lists of 100 ints: ~84 MB of list storage alive at the peak.
        assert!(alloc > 80_000_000, "{alloc}");
        assert!(m.peak_by_function["main"] >= alloc);
    }

    #[test]
    fn truncated_or_garbled_csv_is_unparseable() {
        let text = read("line-peak.csv");
        let header_end = text.find('\n').unwrap();
        for cut in [0, 5, header_end + 1, header_end + 40] {
            assert!(
                matches!(
                    parse_peak_csv(&text[..cut]),
                    Err(ParseError::Unparseable(_))
                ),
                "cut at {cut}"
            );
        }
        let garbled = text.replacen(",MALLOC,", ",", 1).replace(';', "?");
        assert!(matches!(
            parse_peak_csv(&garbled),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_peak_csv("allocator,num_allocations,size\nMALLOC,1,2\n"),
            Err(ParseError::Unparseable(_))
        ));
        let missing = Memray::DEFAULT
            .parse(Path::new("/nonexistent-profbench-dir"), "")
            .unwrap();
        assert!(matches!(missing, Err(ParseError::NoOutput(_))));
    }

    #[test]
    fn real_failure_texts_are_classified() {
        let text = |name: &str| ExitInfo {
            code: Some(1),
            stderr: read(&format!("errors/{name}")),
            ..Default::default()
        };
        assert_eq!(
            classify(&text("missing-script.txt")),
            Failure::TargetNotFound
        );
        assert_eq!(classify(&text("output-dir-missing.txt")), Failure::NoOutput);
        assert_eq!(
            classify(&text("transform-no-capture.txt")),
            Failure::NoOutput
        );
        assert_eq!(classify(&text("workload-crash.txt")), Failure::Crashed);
    }
}
