//! The agent→collector wire format: one TAB-separated record a line (grammar in README.md).
//!
//! Text, not binary: the agent builds lines with `%` formatting (the cheapest thing Python can
//! do), and a written grammar is something anyone can read and test. Strings are escaped
//! (`\\`, `\t`, `\n`, `\r`) so that a record is always exactly one line.

use std::fmt;

/// The protocol version the agent sends in its hello; a mismatch means a stale agent file.
pub const PROTO: &str = "1";

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

#[derive(Debug, Clone, PartialEq)]
pub struct Hello {
    pub proto: String,
    pub pid: u32,
    pub ppid: u32,
    pub mono_ns: u64,
    pub executable: String,
    pub argv: Vec<String>,
}

/// One record. `Sample::frames` are (code id, line), leaf first, as the agent walks them.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Hello(Hello),
    Code {
        id: u32,
        file: String,
        function: String,
        first_line: u32,
    },
    Thread {
        tid: u64,
        name: String,
    },
    Sample {
        tid: u64,
        t_ns: u64,
        cpu_ns: Option<u64>,
        frames: Vec<(u32, u32)>,
    },
    Span {
        tid: u64,
        start_ns: u64,
        end_ns: u64,
        category: String,
        name: String,
    },
    Stats {
        ticks: u64,
        missed: u64,
        samples: u64,
        /// Extra rounds taken because the sampler lost the GIL for longer than an interval,
        /// during a round or a syscall (absent from older agents).
        rereads: u64,
        /// Stack chains the native reader found inconsistent (cut, kept, counted).
        torn: u64,
    },
    /// How the agent samples: `native` (the stack reader) or `gil` (from Python), and why.
    Mode {
        mode: String,
        detail: String,
    },
    Error(String),
}

fn bad(what: &str, line: &str) -> ProtocolError {
    let mut shown: String = line.chars().take(80).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    ProtocolError(format!("{what} in {shown:?}"))
}

/// Undoes the agent's `_esc`.
pub fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The agent's escaping, for tests and for anyone writing records themselves.
pub fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn num<T: std::str::FromStr>(
    field: Option<&str>,
    what: &str,
    line: &str,
) -> Result<T, ProtocolError> {
    field
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| bad(what, line))
}

/// Parses one line (without its newline).
pub fn parse_line(line: &str) -> Result<Record, ProtocolError> {
    let mut f = line.split('\t');
    let kind = f.next().unwrap_or("");
    Ok(match kind {
        "S" => {
            let tid = num(f.next(), "sample tid", line)?;
            let t_ns = num(f.next(), "sample time", line)?;
            let cpu_ns = match f.next() {
                Some("-") => None,
                other => Some(num(other, "sample cpu", line)?),
            };
            let mut frames = Vec::with_capacity(16);
            for item in f.next().unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
                let (code, lineno) = item.split_once(':').ok_or_else(|| bad("frame", line))?;
                frames.push((
                    code.parse().map_err(|_| bad("frame code id", line))?,
                    lineno.parse().map_err(|_| bad("frame line", line))?,
                ));
            }
            Record::Sample {
                tid,
                t_ns,
                cpu_ns,
                frames,
            }
        }
        "C" => Record::Code {
            id: num(f.next(), "code id", line)?,
            file: unescape(f.next().ok_or_else(|| bad("code file", line))?),
            function: unescape(f.next().ok_or_else(|| bad("code function", line))?),
            first_line: num(f.next(), "code first line", line)?,
        },
        "N" => Record::Thread {
            tid: num(f.next(), "thread tid", line)?,
            name: unescape(f.next().unwrap_or("")),
        },
        "K" => Record::Span {
            tid: num(f.next(), "span tid", line)?,
            start_ns: num(f.next(), "span start", line)?,
            end_ns: num(f.next(), "span end", line)?,
            category: unescape(f.next().ok_or_else(|| bad("span category", line))?),
            name: unescape(f.next().unwrap_or("")),
        },
        "Z" => Record::Stats {
            ticks: num(f.next(), "ticks", line)?,
            missed: num(f.next(), "missed", line)?,
            samples: num(f.next(), "samples", line)?,
            rereads: match f.next() {
                Some(v) => num(Some(v), "rereads", line)?,
                None => 0,
            },
            torn: match f.next() {
                Some(v) => num(Some(v), "torn", line)?,
                None => 0,
            },
        },
        "M" => Record::Mode {
            mode: unescape(f.next().ok_or_else(|| bad("mode", line))?),
            detail: unescape(f.next().unwrap_or("")),
        },
        "E" => Record::Error(unescape(f.next().unwrap_or("unknown agent error"))),
        "H" => Record::Hello(Hello {
            proto: f.next().unwrap_or("").to_string(),
            pid: num(f.next(), "hello pid", line)?,
            ppid: num(f.next(), "hello ppid", line)?,
            mono_ns: num(f.next(), "hello time", line)?,
            executable: unescape(f.next().unwrap_or("")),
            argv: f
                .next()
                .filter(|s| !s.is_empty())
                .map(|s| s.split('\x1f').map(unescape).collect())
                .unwrap_or_default(),
        }),
        _ => return Err(bad("unknown record kind", line)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_lines_parse_leaf_first() {
        let r = parse_line("S\t4242\t1000\t500\t3:12 2:7 0:1").unwrap();
        assert_eq!(
            r,
            Record::Sample {
                tid: 4242,
                t_ns: 1000,
                cpu_ns: Some(500),
                frames: vec![(3, 12), (2, 7), (0, 1)]
            }
        );
        let r = parse_line("S\t1\t2\t-\t0:0").unwrap();
        assert!(matches!(r, Record::Sample { cpu_ns: None, .. }));
    }

    #[test]
    fn escaped_strings_round_trip() {
        let nasty = "a\tb\\n\nc\r";
        assert_eq!(unescape(&escape(nasty)), nasty);
        let line = format!("C\t7\t{}\tf\t3", escape("/tmp/we\tird.py"));
        assert_eq!(
            parse_line(&line).unwrap(),
            Record::Code {
                id: 7,
                file: "/tmp/we\tird.py".into(),
                function: "f".into(),
                first_line: 3
            }
        );
    }

    #[test]
    fn hello_carries_argv() {
        let r = parse_line("H\t1\t10\t9\t123\t/usr/bin/python3\tscript.py\x1f--flag").unwrap();
        let Record::Hello(h) = r else { panic!() };
        assert_eq!(h.argv, vec!["script.py", "--flag"]);
        assert_eq!((h.pid, h.ppid), (10, 9));
    }

    #[test]
    fn mode_names_the_sampler_and_why() {
        assert_eq!(
            parse_line("M\tgil\tframe layout of cpython 3.13 not known").unwrap(),
            Record::Mode {
                mode: "gil".into(),
                detail: "frame layout of cpython 3.13 not known".into()
            }
        );
        assert_eq!(
            parse_line("M\tnative\t").unwrap(),
            Record::Mode {
                mode: "native".into(),
                detail: String::new()
            }
        );
    }

    #[test]
    fn stats_carry_rereads_when_the_agent_sends_them() {
        let four = parse_line("Z\t10\t2\t30\t4").unwrap();
        let three = parse_line("Z\t10\t2\t30").unwrap();
        let rereads = |r| match r {
            Record::Stats { rereads, .. } => rereads,
            _ => panic!(),
        };
        assert_eq!((rereads(four), rereads(three)), (4, 0));
        assert!(parse_line("Z\t10\t2\t30\tx").is_err());
        match parse_line("Z\t10\t2\t30\t4\t7").unwrap() {
            Record::Stats { torn, .. } => assert_eq!(torn, 7),
            _ => panic!(),
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for line in [
            "",
            "S",
            "S\tx\t1\t1\t",
            "S\t1\t1\t1\t1-2",
            "C\t1",
            "Q\t1",
            "Z\t1\t2",
        ] {
            assert!(parse_line(line).is_err(), "{line:?}");
        }
    }
}
