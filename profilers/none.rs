//! The baseline: the workload with no profiler.

use crate::backend::{Backend, Launch, ParseError};
use crate::profile::{Clock, Profile};
use std::ffi::OsString;
use std::path::Path;

pub struct NoProfiler;

impl Backend for NoProfiler {
    fn name(&self) -> &str {
        "none"
    }
    fn description(&self) -> String {
        "baseline: the workload with no profiler".into()
    }
    fn clock(&self) -> Clock {
        Clock::Wall
    }
    fn command(&self, launch: &Launch) -> Vec<OsString> {
        let mut argv = launch.python.to_vec();
        argv.push(launch.script.into());
        argv.extend(launch.args.iter().cloned());
        argv
    }
    fn parse(&self, _out_dir: &Path, _stdout: &str) -> Option<Result<Profile, ParseError>> {
        None
    }
}
