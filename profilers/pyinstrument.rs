//! pyinstrument 5.1.3: `python -m pyinstrument -r json -o out.json script args`.
//!
//! pyinstrument samples the stack (every 1 ms by default, on wall-clock time from
//! `time.perf_counter`) and writes a frame tree: each node has `function`, `file_path`,
//! `line_no` (the function's first line) and `time`, the wall seconds of that node including
//! its children. Its JSON renderer applies pyinstrument's default processors, as a user sees
//! them: library frames are hidden or grouped and nodes under 1 % of the total are removed.
//!
//! The tree is turned into samples: each node's self time (its time minus its children's) is
//! one `Sample` whose stack is the path from the root, so inclusive time of a function is the
//! sum of the samples whose stack holds it. The JSON has no per-node sample counts; `count` is
//! estimated as self time / the 1 ms interval (at least 1), so sampling error computed from it
//! is an estimate. There is no line-level data (frames carry first lines only).

use crate::backend::{read_output, Backend, Launch, ParseError};
use crate::profile::{Clock, Frame, Profile, Sample};
use crate::status::{classify_by, ExitInfo, Failure, Rule};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

pub const OUTPUT: &str = "pyinstrument.json";
pub const PIN: &str = "pyinstrument==5.1.3";
/// pyinstrument's default sampling interval, seconds.
pub const INTERVAL: f64 = 0.001;

pub struct Pyinstrument;

impl Backend for Pyinstrument {
    fn name(&self) -> &str {
        "pyinstrument"
    }
    fn description(&self) -> String {
        "pyinstrument 5.1.3 -r json (1 ms wall-clock sampler, default processors)".into()
    }
    fn requirements(&self) -> Vec<&'static str> {
        vec![PIN]
    }
    fn distribution(&self) -> &str {
        "pyinstrument"
    }
    fn clock(&self) -> Clock {
        Clock::Wall
    }
    fn is_sampler(&self) -> bool {
        true
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        let options = ["-r".into(), "json".into(), "-o".into(), launch.out(OUTPUT)];
        launch.python_module("pyinstrument", options)
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        let path = out_dir.join(OUTPUT);
        Some(read_output(&path).and_then(|bytes| parse_json(&bytes)))
    }
    fn classify(&self, exit: &ExitInfo) -> Failure {
        classify_pyinstrument(exit)
    }
}

/// pyinstrument's own failure texts first, then the shared patterns.
const RULES: &[Rule] = &[Rule::when(
    &["error: program", "not found"],
    Failure::TargetNotFound,
)];

pub fn classify_pyinstrument(exit: &ExitInfo) -> Failure {
    classify_by(exit, RULES)
}

struct Walk<'a> {
    profile: &'a mut Profile,
    index: HashMap<Frame, u32>,
}

impl Walk<'_> {
    /// Recursive: the tree's depth is bounded before parsing (`MAX_NESTING`).
    fn node(&mut self, node: &Value, path: &mut Vec<u32>) -> Result<(), ParseError> {
        let bad = |what: &str| ParseError::Unparseable(format!("pyinstrument JSON: {what}"));
        let function = node
            .get("function")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a frame without function"))?;
        let file = node
            .get("file_path")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a frame without file_path"))?;
        let line = node
            .get("line_no")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("a frame without line_no"))?;
        let time = node
            .get("time")
            .and_then(Value::as_f64)
            .ok_or_else(|| bad("a frame without time"))?;
        let children = node
            .get("children")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("a frame without children"))?;
        let id = self.profile.intern(
            &mut self.index,
            Frame {
                file: file.to_string(),
                function: function.to_string(),
                line: line as u32,
            },
        );
        path.push(id);
        let mut child_time = 0.0;
        for c in children {
            child_time += c.get("time").and_then(Value::as_f64).unwrap_or(0.0);
            self.node(c, path)?;
        }
        let own = time - child_time;
        if own > 1e-9 {
            let count = ((own / INTERVAL).round() as u64).max(1);
            self.profile.samples.push(Sample {
                pid: 0,
                tid: 0,
                stack: path.clone(),
                weight: own,
                count,
                cpu: None,
                idle: None,
                time: None,
            });
        }
        path.pop();
        Ok(())
    }
}

/// JSON nesting allowed: 2,000 frames, twice CPython's default recursion limit.
const MAX_NESTING: usize = 4_000;

/// The deepest nesting of objects and arrays in a JSON text (brackets in strings skipped).
fn nesting(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses pyinstrument's JSON renderer output.
pub fn parse_json(bytes: &[u8]) -> Result<Profile, ParseError> {
    let bad = |what: &str| ParseError::Unparseable(format!("pyinstrument JSON: {what}"));
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::NoOutput(
            "pyinstrument wrote an empty file".into(),
        ));
    }
    // A frame is two JSON levels (the frame, its children), so a real stack of 64 frames
    // passes serde_json's default limit of 128; our own bound keeps the parser's recursion
    // far inside the stack instead.
    if nesting(bytes) > MAX_NESTING {
        return Err(bad(&format!("nested deeper than {MAX_NESTING} levels")));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    let doc = Value::deserialize(&mut de).map_err(|e| bad(&e.to_string()))?;
    de.end().map_err(|e| bad(&e.to_string()))?;
    let duration = doc
        .get("duration")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("no duration"))?;
    let mut profile = Profile::new(Clock::Wall);
    profile.duration = Some(duration);
    profile.interval = Some(INTERVAL);
    match doc.get("root_frame") {
        None => return Err(bad("no root_frame")),
        // pyinstrument writes null when it took no sample (a very short program).
        Some(Value::Null) => {
            return Err(ParseError::NoOutput(
                "pyinstrument recorded no samples".into(),
            ))
        }
        Some(root) => {
            let mut walk = Walk {
                profile: &mut profile,
                index: HashMap::new(),
            };
            walk.node(root, &mut Vec::new())?;
        }
    }
    if profile.samples.is_empty() {
        return Err(ParseError::NoOutput(
            "pyinstrument recorded no samples".into(),
        ));
    }
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/pyinstrument/"
    );

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{DIR}{name}: {e}"))
    }

    #[test]
    fn parses_a_real_deep_stack() {
        // docutils under pyinstrument 5.1.3: 68 frames deep, past serde_json's default limit.
        let bytes = fixture("docutils-deep.json");
        assert!(nesting(&bytes) > 128);
        let p = parse_json(&bytes).unwrap();
        assert!(p.samples.iter().map(|s| s.stack.len()).max().unwrap() >= 60);
        let too_deep = "[".repeat(MAX_NESTING + 1);
        let err = parse_json(too_deep.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("nested deeper"), "{err}");
        assert_eq!(nesting(br#"{"a": "[[[{", "b": ["\"["]}"#), 2);
    }

    #[test]
    fn parses_real_run() {
        let bytes = fixture("line.json");
        let p = parse_json(&bytes).unwrap();
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        let mixed = p.inclusive_seconds("mixed_lines", Some("line.py"));
        let light = p.inclusive_seconds("light_loop", Some("line.py"));
        assert!(mixed > 0.3 && light > 0.3, "mixed {mixed} light {light}");
        let share = mixed / (mixed + light);
        assert!(share > 0.2 && share < 0.8, "mixed share {share}");
        // Inclusive times are the tree's own: main's samples add up to main's node time.
        let main_node = &doc["root_frame"]["children"][0];
        assert_eq!(main_node["function"], "main");
        let main = p.inclusive_seconds("main", Some("line.py"));
        assert!((main - main_node["time"].as_f64().unwrap()).abs() < 1e-6);
        // The C call under mixed_lines is visible as a built-in frame.
        assert!(p.frames.iter().any(|f| f.function == "sum"));
        assert!((p.sampled_seconds() - doc["root_frame"]["time"].as_f64().unwrap()).abs() < 1e-6);
    }

    #[test]
    fn truncated_or_garbled_output_is_unparseable() {
        let bytes = fixture("line.json");
        for cut in [bytes.len() / 2, bytes.len() - 3] {
            assert!(matches!(
                parse_json(&bytes[..cut]),
                Err(ParseError::Unparseable(_))
            ));
        }
        let text = String::from_utf8(bytes)
            .unwrap()
            .replace("\"time\"", "\"tame\"");
        assert!(matches!(
            parse_json(text.as_bytes()),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_json(b"{\"duration\": 1.0}"),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(
            parse_json(b"{\"duration\": 1.0, \"root_frame\": null}"),
            Err(ParseError::NoOutput(_))
        ));
        assert!(matches!(parse_json(b""), Err(ParseError::NoOutput(_))));
        let dir = std::env::temp_dir().join("profbench-pyinstrument-missing");
        assert!(matches!(
            Pyinstrument.parse(&dir, "").unwrap(),
            Err(ParseError::NoOutput(_))
        ));
    }

    #[test]
    fn classifies_real_failure_texts() {
        let e = ExitInfo {
            code: Some(1),
            stderr: String::from_utf8_lossy(&fixture("errors/missing-script.txt")).into_owned(),
            ..Default::default()
        };
        assert_eq!(classify_pyinstrument(&e), Failure::TargetNotFound);
        let e = ExitInfo {
            code: Some(1),
            stderr: "/env/bin/python: No module named pyinstrument".into(),
            ..Default::default()
        };
        assert_eq!(classify_pyinstrument(&e), Failure::NotInstallable);
    }
}
