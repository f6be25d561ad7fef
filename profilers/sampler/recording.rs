//! What a recording holds, on any OS: the collector (Linux) fills it, `normalise` and
//! `memory` read it.

use crate::ingest::ProcessData;
use crate::protocol::Hello;

#[derive(Debug, Clone)]
pub struct Config {
    pub rate: f64,
    pub subprocesses: bool,
    /// CLOCK_MONOTONIC ns after which agents stop sampling; 0 for never.
    pub stop_at_ns: u64,
}

/// One RSS reading of one process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RssPoint {
    pub pid: u32,
    pub t_ns: u64,
    pub rss: u64,
    /// Peak RSS so far (VmHWM): catches a peak that came and went between two readings.
    pub hwm: u64,
}

/// A Python process the collector told not to sample, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub hello: Hello,
    pub reason: &'static str,
}

/// Everything collected, ready to be turned into outputs.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    pub start_ns: u64,
    pub end_ns: u64,
    pub rate: f64,
    /// Sampled processes, in the order they connected.
    pub processes: Vec<ProcessData>,
    pub skipped: Vec<Skipped>,
    pub rss: Vec<RssPoint>,
    /// Connections refused (another user) or that never said hello.
    pub refused: u64,
}
