//! How a cell ended (METHOD.md, "Platform status"): ok, or one failure category.

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
}

/// Classifies with a backend's own rules first (`specific` gets the lower-cased error text
/// and returns a category when it recognises it), then the patterns all profilers share.
pub fn classify_with(exit: &ExitInfo, specific: impl Fn(&str) -> Option<Failure>) -> Failure {
    if exit.timed_out {
        return Failure::TimedOut;
    }
    specific(&exit.stderr.to_lowercase()).unwrap_or_else(|| classify_common(exit))
}

/// Classifies a failed run from its exit status and error text into METHOD.md's categories.
/// Backends call this for the shared patterns and may check their own first.
pub fn classify_common(exit: &ExitInfo) -> Failure {
    if exit.timed_out {
        return Failure::TimedOut;
    }
    let text = exit.stderr.to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(&[
        "glibc_",
        "version `glibc",
        "cannot open shared object",
        "exec format error",
        "undefined symbol",
        "wrong elf class",
    ]) {
        Failure::BinaryIncompatible
    } else if has(&[
        "operation not permitted",
        "permission denied",
        "ptrace",
        "eperm",
        "insufficient permissions",
        "cap_sys_ptrace",
    ]) {
        Failure::PermissionDenied
    } else if has(&[
        "failed to find python version",
        "not a python process",
        "python version not supported",
        "couldn't find python",
        "no python processes",
    ]) {
        Failure::TargetNotFound
    } else if has(&[
        "not supported on this platform",
        "unsupported platform",
        "is not supported",
        "requires python",
    ]) {
        Failure::UnsupportedPlatform
    } else if has(&[
        "no module named",
        "command not found",
        "no such file or directory: '",
        "executable not found",
    ]) {
        Failure::NotInstallable
    } else {
        Failure::Crashed
    }
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
}
