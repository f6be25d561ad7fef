//! cProfile, the standard library's deterministic profiler: `python -m cProfile -o out.pstats`.
//! Its pstats file (a marshalled dict) is parsed here without Python.

use crate::backend::{read_output, Backend, Launch, ParseError};
use crate::marshal::{self, Value};
use crate::profile::{CalleeTime, Clock, Frame, FunctionStat, Profile};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

pub const OUTPUT: &str = "profile.pstats";

pub struct CProfile;

impl Backend for CProfile {
    fn name(&self) -> &str {
        "cprofile"
    }
    fn description(&self) -> String {
        "cProfile (stdlib tracer, wall clock), python -m cProfile -o".into()
    }
    fn clock(&self) -> Clock {
        // cProfile's default timer is time.perf_counter: wall time.
        Clock::Wall
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        launch.python_module("cProfile", [OsString::from("-o"), launch.out(OUTPUT)])
    }
    fn parse(&self, out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        let path = out_dir.join(OUTPUT);
        Some(read_output(&path).and_then(|bytes| parse_pstats(&bytes)))
    }
}

/// Parses a pstats file: `{(file, line, func): (primitive, total, tottime, cumtime, callers)}`.
pub fn parse_pstats(bytes: &[u8]) -> Result<Profile, ParseError> {
    let bad = |what: &str| ParseError::Unparseable(format!("pstats: {what}"));
    let root = marshal::parse(bytes).map_err(|e| bad(&e.to_string()))?;
    let Value::Dict(entries) = root else {
        return Err(bad("top level is not a dict"));
    };
    let mut profile = Profile::new(Clock::Wall);
    let mut index = HashMap::new();
    for (key, value) in &entries {
        let key = key
            .as_tuple()
            .filter(|k| k.len() == 3)
            .ok_or_else(|| bad("key is not (file, line, function)"))?;
        let value = value
            .as_tuple()
            .filter(|v| v.len() == 5)
            .ok_or_else(|| bad("value is not a 5-tuple"))?;
        let (Some(file), Some(line), Some(function)) =
            (key[0].as_str(), key[1].as_f64(), key[2].as_str())
        else {
            return Err(bad("key fields have the wrong types"));
        };
        let num = |i: usize| {
            value[i]
                .as_f64()
                .ok_or_else(|| bad("a count or time is not a number"))
        };
        let frame = profile.intern(
            &mut index,
            Frame {
                file: file.to_string(),
                function: function.to_string(),
                line: line as u32,
            },
        );
        profile.functions.push(FunctionStat {
            frame,
            primitive_calls: num(0)? as u64,
            calls: num(1)? as u64,
            exclusive: num(2)?,
            inclusive: num(3)?,
        });
        // The callers table: {(file, line, function): (pc, nc, tt, ct)}, tt being this
        // function's exclusive time in calls from that caller.
        if let Value::Dict(callers) = &value[4] {
            for (caller, times) in callers {
                let caller = caller.as_tuple().filter(|k| k.len() == 3);
                let tt = times
                    .as_tuple()
                    .and_then(|t| t.get(2))
                    .and_then(Value::as_f64);
                let (Some(caller), Some(tt)) = (caller, tt) else {
                    return Err(bad(
                        "a callers entry is not (file, line, function): (…, tt, …)",
                    ));
                };
                let (Some(file), Some(line), Some(function)) =
                    (caller[0].as_str(), caller[1].as_f64(), caller[2].as_str())
                else {
                    return Err(bad("a caller's key fields have the wrong types"));
                };
                let caller = profile.intern(
                    &mut index,
                    Frame {
                        file: file.to_string(),
                        function: function.to_string(),
                        line: line as u32,
                    },
                );
                profile.callee_time.push(CalleeTime {
                    caller,
                    callee: frame,
                    exclusive: tt,
                });
            }
        }
    }
    if profile.functions.is_empty() {
        return Err(ParseError::Unparseable(
            "pstats: no functions recorded".into(),
        ));
    }
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/cprofile/line.pstats"
    );

    fn stat<'p>(p: &'p Profile, function: &str) -> &'p FunctionStat {
        p.functions
            .iter()
            .find(|s| p.frames[s.frame as usize].function == function)
            .unwrap_or_else(|| panic!("{function} not in the profile"))
    }

    #[test]
    fn a_real_pstats_file_gives_calls_and_times() {
        let p = parse_pstats(&std::fs::read(LINE).unwrap()).unwrap();
        assert_eq!(p.clock, Clock::Wall);
        let mixed = stat(&p, "mixed_lines");
        assert!(p.frames[mixed.frame as usize]
            .file
            .ends_with("workloads/line.py"));
        assert_eq!(mixed.calls, 3, "line.py calls mixed_lines three times");
        // The heavy line's builtin holds nearly all of mixed_lines' time.
        let sum = stat(&p, "<built-in method builtins.sum>");
        assert!(
            sum.inclusive / mixed.inclusive > 0.95,
            "{} of {}",
            sum.inclusive,
            mixed.inclusive
        );
        assert!(mixed.exclusive < mixed.inclusive);
        assert!(stat(&p, "light_loop").inclusive > 0.1);
    }

    #[test]
    fn the_callers_table_says_who_spent_a_builtins_time() {
        let p = parse_pstats(&std::fs::read(LINE).unwrap()).unwrap();
        let sum = stat(&p, "<built-in method builtins.sum>");
        let from: Vec<&CalleeTime> = p
            .callee_time
            .iter()
            .filter(|e| e.callee == sum.frame)
            .collect();
        assert!(!from.is_empty());
        assert!(from
            .iter()
            .any(|e| p.frames[e.caller as usize].function == "mixed_lines"));
        // The per-caller exclusive times add up to the built-in's own.
        let total: f64 = from.iter().map(|e| e.exclusive).sum();
        assert!(
            (total - sum.exclusive).abs() < 1e-6,
            "{total} vs {}",
            sum.exclusive
        );
    }

    #[test]
    fn truncated_or_garbled_pstats_are_unparseable() {
        let bytes = std::fs::read(LINE).unwrap();
        for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                matches!(parse_pstats(&bytes[..cut]), Err(ParseError::Unparseable(_))),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            parse_pstats(b"not a pstats file\n"),
            Err(ParseError::Unparseable(_))
        ));
        assert!(matches!(parse_pstats(b""), Err(ParseError::Unparseable(_))));
    }

    #[test]
    fn a_missing_file_is_no_output() {
        let dir = std::env::temp_dir().join(format!("pb-cprofile-{}", std::process::id()));
        assert!(matches!(
            CProfile.parse(&dir, ""),
            Some(Err(ParseError::NoOutput(_)))
        ));
    }
}
