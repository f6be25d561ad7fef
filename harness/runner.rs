//! Runs one process tree and measures it: wall, CPU of the whole tree, peak RSS, exit status,
//! captured output. Ends the whole tree on timeout, Ctrl-C or leftovers (Ray's daemons
//! included) and says what it had to end.

use crate::reaper;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Set by the Ctrl-C handler; every wait loop checks it.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How much of stdout/stderr is kept in a record.
pub const TAIL_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone)]
pub struct Spec {
    pub argv: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
    pub timeout: Duration,
    /// Where stdout.txt and stderr.txt go.
    pub log_dir: PathBuf,
    /// The run is ended when stdout + stderr + everything under `cwd` grows past this.
    pub output_cap_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Ending {
    Exited(i32),
    Signalled(i32),
    TimedOut,
    Interrupted,
    /// Ended by profbench for writing more than the output cap (bytes written).
    OutputCapped(u64),
    /// The program could not be started at all.
    NotStarted(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    pub ending: Ending,
    pub wall_s: f64,
    /// User + system CPU of every process of the tree that was reaped.
    pub cpu_s: Option<f64>,
    /// Largest RSS of any single process of the tree, bytes.
    pub peak_rss_bytes: Option<u64>,
    pub stdout_tail: String,
    pub stderr_tail: String,
    /// Processes the harness had to end after the run (name, pid), i.e. leftovers.
    pub ended_leftovers: Vec<String>,
}

impl Measured {
    /// A run whose program was never started (`why` says what stopped it).
    pub fn not_started(why: String) -> Measured {
        Measured {
            ending: Ending::NotStarted(why),
            wall_s: 0.0,
            cpu_s: None,
            peak_rss_bytes: None,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            ended_leftovers: vec![],
        }
    }
    pub fn succeeded(&self) -> bool {
        self.ending == Ending::Exited(0)
    }
}

/// Runs `spec` to completion (or timeout/interrupt) and ends anything it left behind.
pub fn run(spec: &Spec) -> Result<Measured> {
    fs::create_dir_all(&spec.log_dir)
        .with_context(|| format!("creating {}", spec.log_dir.display()))?;
    let out_path = spec.log_dir.join("stdout.txt");
    let err_path = spec.log_dir.join("stderr.txt");
    let stdout =
        fs::File::create(&out_path).with_context(|| format!("creating {}", out_path.display()))?;
    let stderr =
        fs::File::create(&err_path).with_context(|| format!("creating {}", err_path.display()))?;
    let mut cmd = Command::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..])
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Own process group: the terminal's Ctrl-C reaches only us, and we end the group.
        cmd.process_group(0);
    }
    let cpu_before = reaper::children_cpu_seconds();
    let start = Instant::now();
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ok(Measured {
                ending: Ending::NotStarted(format!(
                    "cannot start {}: {e}",
                    spec.argv[0].to_string_lossy()
                )),
                wall_s: 0.0,
                cpu_s: None,
                peak_rss_bytes: None,
                stdout_tail: String::new(),
                stderr_tail: String::new(),
                ended_leftovers: Vec::new(),
            })
        }
    };
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = reaper::wait_child(child);
        let _ = tx.send((result, Instant::now()));
    });
    let mut ending = None;
    let mut ticks = 0u64;
    let (waited, end) = loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(done) => break done,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                anyhow::bail!("lost the waiter of process {pid}")
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if ending.is_none() {
                    if INTERRUPTED.load(Ordering::SeqCst) {
                        ending = Some(Ending::Interrupted);
                    } else if start.elapsed() > spec.timeout {
                        ending = Some(Ending::TimedOut);
                    } else if ticks.is_multiple_of(20) {
                        // Once a second: a profiler writing without end must not fill the disk.
                        let written =
                            file_len(&out_path) + file_len(&err_path) + dir_size(&spec.cwd);
                        if written > spec.output_cap_bytes {
                            ending = Some(Ending::OutputCapped(written));
                        }
                    }
                    ticks += 1;
                    if ending.is_some() {
                        reaper::end_group(pid);
                    }
                }
            }
        }
    };
    let wall_s = (end - start).as_secs_f64();
    // Anything still alive below us now is a leftover: daemons, forked children, Ray.
    let ended_leftovers = reaper::end_descendants();
    let cpu_s = reaper::children_cpu_seconds()
        .zip(cpu_before)
        .map(|(a, b)| a - b);
    let ending = ending.unwrap_or(match waited.status {
        reaper::Status::Exited(c) => Ending::Exited(c),
        reaper::Status::Signalled(s) => Ending::Signalled(s),
    });
    Ok(Measured {
        ending,
        wall_s,
        cpu_s,
        peak_rss_bytes: waited.max_rss_bytes,
        stdout_tail: tail(&out_path),
        stderr_tail: tail(&err_path),
        ended_leftovers,
    })
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Bytes under a folder, recursively.
pub fn dir_size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The last TAIL_BYTES of a file, lossily decoded.
pub fn tail(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let from = bytes.len().saturating_sub(TAIL_BYTES);
    let mut s = String::from_utf8_lossy(&bytes[from..]).into_owned();
    if from > 0 {
        s.insert_str(0, "[...]\n");
    }
    s
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::sync::Mutex;

    // Runs share this process's children: one at a time, as in the matrix.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    fn spec(script: &str, timeout_ms: u64, dir: &Path) -> Spec {
        Spec {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env: vec![],
            cwd: dir.to_path_buf(),
            timeout: Duration::from_millis(timeout_ms),
            log_dir: dir.to_path_buf(),
            output_cap_bytes: 1 << 30,
        }
    }

    #[test]
    fn exit_code_and_output_are_captured() {
        let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        reaper::become_subreaper();
        let dir = tempfile::tempdir().unwrap();
        let m = run(&spec("echo out; echo err >&2; exit 3", 10_000, dir.path())).unwrap();
        assert_eq!(m.ending, Ending::Exited(3));
        assert_eq!(m.stdout_tail.trim(), "out");
        assert_eq!(m.stderr_tail.trim(), "err");
        assert!(m.peak_rss_bytes.unwrap() > 0);
    }

    #[test]
    fn a_hanging_tree_is_ended_on_timeout() {
        let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        reaper::become_subreaper();
        let dir = tempfile::tempdir().unwrap();
        let m = run(&spec("sleep 300 & sleep 300", 300, dir.path())).unwrap();
        assert_eq!(m.ending, Ending::TimedOut);
        assert!(
            reaper::descendants().is_empty(),
            "left: {:?}",
            reaper::descendants()
        );
    }

    #[test]
    fn an_escaped_daemon_is_found_and_ended() {
        let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        reaper::become_subreaper();
        let dir = tempfile::tempdir().unwrap();
        // setsid + background: the classic daemon escape from the process group.
        let m = run(&spec(
            "setsid sleep 300 >/dev/null 2>&1 & exit 0",
            10_000,
            dir.path(),
        ))
        .unwrap();
        assert_eq!(m.ending, Ending::Exited(0));
        assert_eq!(m.ended_leftovers.len(), 1, "{:?}", m.ended_leftovers);
        assert!(reaper::descendants().is_empty());
    }

    #[test]
    fn endless_output_is_capped() {
        let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec("yes profbench", 60_000, dir.path());
        s.output_cap_bytes = 2 << 20;
        let m = run(&s).unwrap();
        assert!(
            matches!(m.ending, Ending::OutputCapped(n) if n > 2 << 20),
            "{:?}",
            m.ending
        );
        assert!(m.stdout_tail.len() <= TAIL_BYTES + 10);
    }

    #[test]
    fn a_missing_program_is_not_started() {
        let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        reaper::become_subreaper();
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec("", 1000, dir.path());
        s.argv = vec!["/nonexistent/python".into()];
        assert!(matches!(run(&s).unwrap().ending, Ending::NotStarted(_)));
    }
}
