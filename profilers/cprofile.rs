//! cProfile, the standard library's deterministic profiler: `python -m cProfile -o out.pstats`.
//! Its pstats file (a marshalled dict) is parsed here without Python.

use crate::backend::{read_output, Backend, Launch, ParseError};
use crate::marshal::{self, Value};
use crate::profile::{Clock, Frame, FunctionStat, Profile};
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
        let mut argv = launch.python.to_vec();
        argv.extend(["-m", "cProfile", "-o"].map(OsString::from));
        argv.push(launch.out_dir.join(OUTPUT).into());
        argv.push(launch.script.into());
        argv.extend(launch.args.iter().cloned());
        argv
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
    }
    if profile.functions.is_empty() {
        return Err(ParseError::Unparseable(
            "pstats: no functions recorded".into(),
        ));
    }
    Ok(profile)
}
