//! Turns one process's record stream into time-weighted samples (the per-connection state).
//!
//! Each sample's weight is the wall time since the same thread's previous sample, measured by
//! the agent's monotonic clock. This is the fix for the GIL/safepoint bias: a long C call that
//! holds the GIL delays the sampler, and the one late sample then carries the whole delay
//! instead of a nominal interval (see README.md, "Safepoint bias").

use crate::protocol::{parse_line, Hello, ProtocolError, Record};
use std::collections::HashMap;

/// A code object as the agent described it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CodeInfo {
    pub file: String,
    pub function: String,
    pub first_line: u32,
}

/// One stack sample, weighted.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSample {
    pub tid: u64,
    /// CLOCK_MONOTONIC ns at the instant the stack was read.
    pub t_ns: u64,
    /// Wall ns this sample stands for: since this thread's previous sample.
    pub weight_ns: u64,
    /// Thread CPU ns over the same span, when the OS told.
    pub cpu_ns: Option<u64>,
    /// (code id, line), root first.
    pub stack: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawSpan {
    pub tid: u64,
    pub start_ns: u64,
    pub end_ns: u64,
    pub category: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct ThreadClock {
    last_t: u64,
    last_cpu: Option<u64>,
}

/// Everything one connected process sent.
#[derive(Debug, Clone, Default)]
pub struct ProcessData {
    pub hello: Option<Hello>,
    /// Indexed by the agent's code id (the agent numbers them 0, 1, 2, ...).
    pub codes: Vec<CodeInfo>,
    pub thread_names: HashMap<u64, String>,
    pub samples: Vec<RawSample>,
    pub spans: Vec<RawSpan>,
    pub ticks: u64,
    pub missed: u64,
    pub rereads: u64,
    /// Chains the native reader found torn (cut where they stopped, kept).
    pub torn: u64,
    /// The agent's M record: ("native" | "gil", why), absent from older agents.
    pub mode: Option<(String, String)>,
    pub agent_error: Option<String>,
    /// Lines the collector could not read (kept as a count plus the first error).
    pub bad_lines: u64,
    pub first_bad_line: Option<String>,
    /// Nominal interval, for a first sample with nothing earlier to measure from.
    pub interval_ns: u64,
    clocks: HashMap<u64, ThreadClock>,
    /// Time of the sampling round in progress and of the one before (all samples of a round
    /// share its timestamp). A thread first seen in a round did not exist in the previous
    /// one, so its first sample stands for the time since then; the first round measures
    /// from the hello (the agent's start).
    round_t: u64,
    prev_round_t: u64,
}

impl ProcessData {
    pub fn new(interval_ns: u64) -> Self {
        ProcessData {
            interval_ns,
            ..Default::default()
        }
    }

    pub fn pid(&self) -> u32 {
        self.hello.as_ref().map_or(0, |h| h.pid)
    }

    /// Feeds one line; a bad line is counted, never fatal (the target must not notice).
    pub fn ingest_line(&mut self, line: &str) {
        if let Err(e) = self.try_ingest_line(line) {
            self.bad_lines += 1;
            if self.first_bad_line.is_none() {
                self.first_bad_line = Some(e.to_string());
            }
        }
    }

    pub fn try_ingest_line(&mut self, line: &str) -> Result<(), ProtocolError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        if line.is_empty() {
            return Ok(());
        }
        match parse_line(line)? {
            Record::Sample {
                tid,
                t_ns,
                cpu_ns,
                mut frames,
            } => {
                frames.reverse();
                self.push_sample(tid, t_ns, cpu_ns, frames);
            }
            Record::Code {
                id,
                file,
                function,
                first_line,
            } => {
                let id = id as usize;
                if id >= self.codes.len() {
                    self.codes.resize(id + 1, CodeInfo::default());
                }
                self.codes[id] = CodeInfo {
                    file,
                    function,
                    first_line,
                };
            }
            Record::Thread { tid, name } => {
                self.thread_names.insert(tid, name);
            }
            Record::Span {
                tid,
                start_ns,
                end_ns,
                category,
                name,
            } => {
                self.spans.push(RawSpan {
                    tid,
                    start_ns,
                    end_ns: end_ns.max(start_ns),
                    category,
                    name,
                });
            }
            Record::Stats {
                ticks,
                missed,
                rereads,
                torn,
                ..
            } => {
                // Cumulative: the last one received wins (a crash loses at most one flush).
                self.ticks = ticks;
                self.missed = missed;
                self.rereads = rereads;
                self.torn = torn;
            }
            Record::Mode { mode, detail } => self.mode = Some((mode, detail)),
            Record::Error(msg) => self.agent_error = Some(msg),
            Record::Hello(h) => self.hello = Some(h),
        }
        Ok(())
    }

    fn push_sample(&mut self, tid: u64, t_ns: u64, cpu_ns: Option<u64>, stack: Vec<(u32, u32)>) {
        if t_ns != self.round_t {
            self.prev_round_t = if self.round_t == 0 {
                self.hello.as_ref().map_or(0, |h| h.mono_ns)
            } else {
                self.round_t
            };
            self.round_t = t_ns;
        }
        let prev = self.clocks.insert(
            tid,
            ThreadClock {
                last_t: t_ns,
                last_cpu: cpu_ns,
            },
        );
        let (weight_ns, cpu) = match prev {
            Some(p) if t_ns > p.last_t => {
                let w = t_ns - p.last_t;
                let cpu = match (cpu_ns, p.last_cpu) {
                    // Clamp: CPU accounting and the wall clock are read at slightly different
                    // instants, so a busy thread can show a hair more CPU than wall.
                    (Some(c), Some(pc)) if c >= pc => Some((c - pc).min(w)),
                    _ => None,
                };
                (w, cpu)
            }
            // A late first round (the main thread started in a long C call) must still carry
            // its time: measured from the previous round, which this thread was not in.
            _ if self.prev_round_t > 0 && t_ns > self.prev_round_t => {
                (t_ns - self.prev_round_t, None)
            }
            _ => (self.interval_ns, None),
        };
        self.samples.push(RawSample {
            tid,
            t_ns,
            weight_ns,
            cpu_ns: cpu,
            stack,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_sample_carries_the_whole_delay() {
        let mut p = ProcessData::new(10_000_000);
        p.ingest_line("C\t0\tline.py\tmixed_lines\t20\n");
        p.ingest_line("S\t7\t1000000000\t0\t0:23");
        // The next sample comes 350 ms later (a long C call held the GIL).
        p.ingest_line("S\t7\t1350000000\t349000000\t0:24");
        assert_eq!(p.samples.len(), 2);
        assert_eq!(p.samples[0].weight_ns, 10_000_000);
        assert_eq!(p.samples[0].cpu_ns, None);
        assert_eq!(p.samples[1].weight_ns, 350_000_000);
        assert_eq!(p.samples[1].cpu_ns, Some(349_000_000));
        assert_eq!(p.samples[1].stack, vec![(0, 24)]);
    }

    #[test]
    fn a_first_sample_stands_for_the_time_since_the_agent_started() {
        let mut p = ProcessData::new(10_000_000);
        p.ingest_line("H\t1\t5\t1\t1000000000\tpython\tline.py");
        // The main thread sat in a 500 ms C call before the sampler could run at all.
        p.ingest_line("S\t5\t1500000000\t-\t0:24");
        // A thread that appears in the next round existed at most since the first round.
        p.ingest_line("S\t5\t1510000000\t-\t0:25");
        p.ingest_line("S\t6\t1510000000\t-\t0:3");
        let w: Vec<u64> = p.samples.iter().map(|s| s.weight_ns).collect();
        assert_eq!(w, vec![500_000_000, 10_000_000, 10_000_000]);
    }

    #[test]
    fn threads_are_weighted_independently_and_stacks_are_root_first() {
        let mut p = ProcessData::new(10);
        p.ingest_line("S\t1\t100\t-\t2:5 1:4 0:3");
        p.ingest_line("S\t2\t105\t-\t0:3");
        p.ingest_line("S\t1\t130\t-\t0:3");
        assert_eq!(p.samples[0].stack, vec![(0, 3), (1, 4), (2, 5)]);
        assert_eq!(p.samples[2].weight_ns, 30);
        // New thread in a new round: since the previous round.
        assert_eq!(p.samples[1].weight_ns, 5);
    }

    #[test]
    fn bad_lines_are_counted_not_fatal() {
        let mut p = ProcessData::new(10);
        p.ingest_line("S\tnot-a-number");
        p.ingest_line("Z\t5\t1\t4");
        assert_eq!(p.bad_lines, 1);
        assert_eq!((p.ticks, p.missed), (5, 1));
    }
}
