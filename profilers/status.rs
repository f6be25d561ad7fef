//! How a cell ended (docs/method.md, "Platform status"): ok, or one failure category.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    NotInstallable,
    BinaryIncompatible,
    PermissionDenied,
    UnsupportedPlatform,
    TargetNotFound,
    Crashed,
    TimedOut,
    NoOutput,
    UnparseableOutput,
    /// The workload itself failed under the `none` baseline: not the profiler's fault.
    WorkloadFailed,
    /// The user pressed Ctrl-C; the cell was not finished.
    Interrupted,
    /// profbench itself could not do its part (create a run folder, write a file it keeps):
    /// never the profiler's fault. The error says what, which path and the OS error.
    HarnessFault,
}

impl Failure {
    /// Every category, in the order docs/method.md lists them.
    pub const ALL: [Failure; 12] = [
        Failure::NotInstallable,
        Failure::BinaryIncompatible,
        Failure::PermissionDenied,
        Failure::UnsupportedPlatform,
        Failure::TargetNotFound,
        Failure::Crashed,
        Failure::TimedOut,
        Failure::NoOutput,
        Failure::UnparseableOutput,
        Failure::WorkloadFailed,
        Failure::Interrupted,
        Failure::HarnessFault,
    ];
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::NotInstallable => "not installable",
            Failure::BinaryIncompatible => "binary incompatible",
            Failure::PermissionDenied => "permission denied",
            Failure::UnsupportedPlatform => "unsupported platform",
            Failure::TargetNotFound => "target not found",
            Failure::Crashed => "crashed",
            Failure::TimedOut => "timed out",
            Failure::NoOutput => "no output",
            Failure::UnparseableOutput => "unparseable output",
            Failure::WorkloadFailed => "workload failed",
            Failure::Interrupted => "interrupted",
            Failure::HarnessFault => "harness fault",
        })
    }
}

/// How a profiled process ended, as the classifier sees it.
#[derive(Debug, Clone, Default)]
pub struct ExitInfo {
    /// Exit code, None when killed by a signal.
    pub code: Option<i32>,
    /// Signal number that ended it, if any.
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// Tail of stderr (and stdout) text.
    pub stderr: String,
    /// The workload script's file name (`single.py`): a Python traceback through it is the
    /// workload's own, and its words say nothing about the profiler. Empty: none set aside.
    pub workload_file: String,
}

/// One classification rule: the error text holds every one of `all` and none of `none`
/// (lower case).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub all: &'static [&'static str],
    pub none: &'static [&'static str],
    pub failure: Failure,
}

impl Rule {
    pub const fn when(all: &'static [&'static str], failure: Failure) -> Rule {
        Rule {
            all,
            none: &[],
            failure,
        }
    }

    pub const fn unless(self, none: &'static [&'static str]) -> Rule {
        Rule { none, ..self }
    }

    fn matches(&self, text: &str) -> bool {
        self.all.iter().all(|n| text.contains(n)) && !self.none.iter().any(|n| text.contains(n))
    }
}

/// What every profiler's failures share, tried after a backend's own rules.
pub const COMMON_RULES: &[Rule] = &[
    Rule::when(&["glibc_"], Failure::BinaryIncompatible),
    Rule::when(&["version `glibc"], Failure::BinaryIncompatible),
    Rule::when(&["cannot open shared object"], Failure::BinaryIncompatible),
    Rule::when(&["exec format error"], Failure::BinaryIncompatible),
    Rule::when(&["undefined symbol"], Failure::BinaryIncompatible),
    Rule::when(&["wrong elf class"], Failure::BinaryIncompatible),
    Rule::when(&["operation not permitted"], Failure::PermissionDenied),
    Rule::when(&["permission denied"], Failure::PermissionDenied),
    Rule::when(&["ptrace"], Failure::PermissionDenied),
    Rule::when(&["eperm"], Failure::PermissionDenied),
    Rule::when(&["insufficient permissions"], Failure::PermissionDenied),
    Rule::when(&["cap_sys_ptrace"], Failure::PermissionDenied),
    Rule::when(&["failed to find python version"], Failure::TargetNotFound),
    Rule::when(&["not a python process"], Failure::TargetNotFound),
    Rule::when(&["python version not supported"], Failure::TargetNotFound),
    Rule::when(&["couldn't find python"], Failure::TargetNotFound),
    Rule::when(&["no python processes"], Failure::TargetNotFound),
    Rule::when(
        &["not supported on this platform"],
        Failure::UnsupportedPlatform,
    ),
    Rule::when(&["unsupported platform"], Failure::UnsupportedPlatform),
    Rule::when(&["is not supported"], Failure::UnsupportedPlatform),
    Rule::when(&["requires python"], Failure::UnsupportedPlatform),
    Rule::when(&["no module named"], Failure::NotInstallable),
    Rule::when(&["command not found"], Failure::NotInstallable),
    Rule::when(&["no such file or directory: '"], Failure::NotInstallable),
    Rule::when(&["executable not found"], Failure::NotInstallable),
];

/// The error text as the profiler's own: lower case, with every Python traceback that passes
/// through the workload's file set aside (the workload's own exception, whose words, such
/// as "PermissionError" or "requires Python", are not the profiler's).
pub fn profiler_text(exit: &ExitInfo) -> String {
    let text = exit.stderr.to_lowercase();
    let workload = exit.workload_file.to_lowercase();
    if workload.is_empty() {
        return text;
    }
    let through_workload = |block: &[&str]| {
        block.iter().any(|l| {
            let l = l.trim_start();
            l.starts_with("file \"")
                && l.split('"')
                    .nth(1)
                    .is_some_and(|f| f == workload || f.ends_with(&format!("/{workload}")))
        })
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i]
            .trim_start()
            .starts_with("traceback (most recent call last)")
        {
            // The block: the header, its indented frames, and the exception line after them.
            let mut end = i + 1;
            while end < lines.len() && lines[end].starts_with([' ', '\t']) {
                end += 1;
            }
            end = (end + 1).min(lines.len());
            if !through_workload(&lines[i..end]) {
                kept.extend(&lines[i..end]);
            }
            i = end;
        } else {
            kept.push(lines[i]);
            i += 1;
        }
    }
    kept.join("\n")
}

/// Classifies a failed run into docs/method.md's categories: a timeout first, then the
/// backend's own rules (`own`), then the rules all profilers share, on the profiler's own
/// error text (`profiler_text`); nothing recognised is a crash.
pub fn classify_by(exit: &ExitInfo, own: &[Rule]) -> Failure {
    if exit.timed_out {
        return Failure::TimedOut;
    }
    let text = profiler_text(exit);
    own.iter()
        .chain(COMMON_RULES)
        .find(|r| r.matches(&text))
        .map_or(Failure::Crashed, |r| r.failure)
}

/// The rules all profilers share, for backends with none of their own.
pub fn classify_common(exit: &ExitInfo) -> Failure {
    classify_by(exit, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(text: &str) -> ExitInfo {
        ExitInfo {
            code: Some(1),
            stderr: text.into(),
            ..Default::default()
        }
    }

    #[test]
    fn common_messages_are_classified() {
        assert_eq!(
            classify_common(&with(
                "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found"
            )),
            Failure::BinaryIncompatible
        );
        assert_eq!(
            classify_common(&with(
                "Error: Failed to find python version from target process"
            )),
            Failure::TargetNotFound
        );
        assert_eq!(
            classify_common(&with("ptrace: Operation not permitted")),
            Failure::PermissionDenied
        );
        assert_eq!(
            classify_common(&with("/env/bin/python: No module named viztracer")),
            Failure::NotInstallable
        );
        assert_eq!(
            classify_common(&with("Traceback ... ValueError")),
            Failure::Crashed
        );
        let t = ExitInfo {
            timed_out: true,
            ..Default::default()
        };
        assert_eq!(classify_common(&t), Failure::TimedOut);
    }

    /// The workload's own traceback, as Python prints it when the workload raises.
    const WORKLOAD_TRACEBACK: &str = "Traceback (most recent call last):
  File \"/home/u/work/load.py\", line 12, in <module>
    open('/root/secret')
PermissionError: [Errno 13] Permission denied: '/root/secret' (ptrace scope; requires Python 3.12)";

    fn of_workload(text: &str) -> ExitInfo {
        ExitInfo {
            workload_file: "load.py".into(),
            ..with(text)
        }
    }

    #[test]
    fn the_workloads_own_traceback_says_nothing_about_the_profiler() {
        assert_eq!(
            classify_common(&of_workload(WORKLOAD_TRACEBACK)),
            Failure::Crashed
        );
        // The same words from the profiler itself still count, before or after it.
        let profiler_line = "py-spy: ptrace: Operation not permitted";
        assert_eq!(
            classify_common(&of_workload(&format!(
                "{WORKLOAD_TRACEBACK}\n{profiler_line}"
            ))),
            Failure::PermissionDenied
        );
        assert_eq!(
            classify_common(&of_workload(&format!(
                "{profiler_line}\n{WORKLOAD_TRACEBACK}"
            ))),
            Failure::PermissionDenied
        );
        // Without knowing the workload's file, the traceback counts (as before).
        assert_eq!(
            classify_common(&with(WORKLOAD_TRACEBACK)),
            Failure::PermissionDenied
        );
    }

    #[test]
    fn a_profilers_own_traceback_is_kept() {
        let own = "Traceback (most recent call last):
  File \"/env/lib/python3.11/site-packages/tool/main.py\", line 40, in save
    open(path, 'w')
PermissionError: [Errno 13] Permission denied: '/out/p.json'";
        assert_eq!(
            classify_common(&of_workload(own)),
            Failure::PermissionDenied
        );
    }

    #[test]
    fn a_workload_missing_a_module_is_not_an_install_failure() {
        let text = "Traceback (most recent call last):
  File \"/w/load.py\", line 3, in <module>
    import numpy
ModuleNotFoundError: No module named 'numpy'";
        assert_eq!(classify_common(&of_workload(text)), Failure::Crashed);
    }
}
