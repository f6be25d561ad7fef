//! End to end, the native reader at 1000 Hz on real CPython: a running thread's stack is the
//! one of the tick (shares of a short-call mix, no chain joined from two instants), and the
//! signal that asks it for its stack breaks no blocking call and yields to the program's
//! own handler.

use profbench_profilers::profile::Profile;
use profbench_sampler::{record, Format, Reader, RecordArgs};
use std::ffi::OsString;
use std::path::Path;

/// python3 if it is a CPython the native reader knows (3.11–3.13).
fn python() -> Option<OsString> {
    let known = std::process::Command::new("python3")
        .args(["-c", "import sys; sys.exit(sys.implementation.name != 'cpython' or sys.version_info[:2] not in ((3, 11), (3, 12), (3, 13)) or 't' in sys.abiflags)"])
        .status()
        .is_ok_and(|s| s.success());
    if !known {
        eprintln!("python3 is not a CPython 3.11-3.13 the reader knows: skipping");
    }
    known.then(|| "python3".into())
}

fn args(out: &Path, reader: Reader, command: Vec<OsString>) -> RecordArgs {
    RecordArgs {
        rate: 1000.0,
        output: Some(out.to_path_buf()),
        format: Format::Json,
        subprocesses: true,
        duration_limit: None,
        grace: 2.0,
        quiet: true,
        no_native_reader: false,
        reader,
        command,
    }
}

fn run(dir: &Path, name: &str, script: &str, reader: Reader, extra: &[&Path]) -> Profile {
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    let out = dir.join(format!("{name}.json"));
    let mut command = vec![python().unwrap(), path.into()];
    command.extend(extra.iter().map(|p| p.as_os_str().to_owned()));
    let code = record(&args(&out, reader, command)).unwrap();
    assert_eq!(code, 0, "{name} exited with {code}");
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

/// Two identical short functions under two identical callers, b's called twice as often:
/// by symmetry b has 2/3 of the short functions' self time and mid_b 2/3 of the callers'.
/// mid_a and mid_b take turns in the same stack slot, so a chain joined from two instants
/// shows short_a under mid_b (or short_b under mid_a).
const SHORT_CALLS: &str = r#"
def short_a(x):
    return (x * 3 + 1) % 1000003 + len(str(x))

def short_b(x):
    return (x * 3 + 1) % 1000003 + len(str(x))

def mid_a(n):
    s = 0
    for _ in range(n):
        s = short_a(s)
    return s

def mid_b(n):
    s = 0
    for _ in range(n):
        s = short_b(s)
    return s

def main():
    for _ in range(60000):
        mid_a(40)
        mid_b(40)
        mid_b(40)

main()
"#;

#[test]
fn a_short_call_mix_gets_its_shares_and_no_joined_chains() {
    if python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let profile = run(
        dir.path(),
        "short_calls.py",
        SHORT_CALLS,
        Reader::Signal,
        &[],
    );
    let name = |i: u32| profile.frames[i as usize].function.as_str();
    let (mut leaf, mut mid, mut joined, mut total) = ([0.0f64; 2], [0.0f64; 2], 0.0, 0.0);
    for s in &profile.samples {
        let names: Vec<&str> = s.stack.iter().map(|&i| name(i)).collect();
        let Some(k) = names.iter().position(|n| *n == "mid_a" || *n == "mid_b") else {
            continue;
        };
        let b = (names[k] == "mid_b") as usize;
        mid[b] += s.weight;
        total += s.weight;
        match names.last() {
            Some(&"short_a") => leaf[0] += s.weight,
            Some(&"short_b") => leaf[1] += s.weight,
            _ => {}
        }
        let under = names.get(k + 1).copied();
        if under == Some(if b == 1 { "short_a" } else { "short_b" }) {
            joined += s.weight;
        }
    }
    let share = |x: [f64; 2]| x[1] / (x[0] + x[1]);
    assert!(total > 0.3, "{total:.2} s sampled in the callers");
    assert!(
        (share(leaf) - 2.0 / 3.0).abs() < 0.08,
        "short_b's share of the short functions' self time: {:.3} (truth 2/3), {leaf:?}",
        share(leaf)
    );
    assert!(
        (share(mid) - 2.0 / 3.0).abs() < 0.08,
        "mid_b's share of the callers' time: {:.3} (truth 2/3)",
        share(mid)
    );
    assert!(
        joined / total < 0.01,
        "{:.2}% of the time in chains that never existed",
        100.0 * joined / total
    );
}

/// A thread alternating CPU bursts (so it is often running when the reader asks) with
/// blocking calls: every call still returns what it should at 1000 Hz.
const BLOCKING: &str = r#"
import ctypes, json, os, select, socket, subprocess, sys, threading, time

libc = ctypes.CDLL(None, use_errno=True)
N = 150

def burst():
    x = 0
    for i in range(4000):
        x += i
    return x

def feed(send, n):
    for _ in range(n):
        time.sleep(0.0005)
        send()

results = {}
for _ in range(N):
    burst()
    time.sleep(0.0005)
results["sleep"] = True
for _ in range(N):
    burst()
    results["select"] = select.select([], [], [], 0.0005) == ([], [], [])

r, w = os.pipe()
t = threading.Thread(target=feed, args=(lambda: os.write(w, b"x"), N))
t.start()
got = b""
for _ in range(N):
    burst()
    got += os.read(r, 1)
t.join()
results["os.read"] = len(got)

# libc's read through ctypes: no Python retry on EINTR, only the kernel's (SA_RESTART).
r2, w2 = os.pipe()
t = threading.Thread(target=feed, args=(lambda: os.write(w2, b"y"), N))
t.start()
buf = ctypes.create_string_buffer(1)
failed = []
for _ in range(N):
    burst()
    if libc.read(r2, buf, 1) != 1:
        failed.append(ctypes.get_errno())
t.join()
results["libc.read failures"] = failed

a, b = socket.socketpair()
t = threading.Thread(target=feed, args=(lambda: b.send(b"z"), N))
t.start()
got = 0
for _ in range(N):
    burst()
    got += len(a.recv(1))
t.join()
results["recv"] = got

results["subprocess"] = [
    subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True, check=True).stdout.strip()
    for _ in range(5)
]
with open(sys.argv[1], "w") as f:
    json.dump(results, f)
"#;

#[test]
fn blocking_calls_are_not_broken_by_the_readers_signal() {
    if python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen.json");
    let profile = run(
        dir.path(),
        "blocking.py",
        BLOCKING,
        Reader::Signal,
        &[&seen],
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&seen).unwrap()).unwrap();
    assert_eq!(results["sleep"], true);
    assert_eq!(results["select"], true);
    assert_eq!(results["os.read"], 150);
    assert_eq!(results["libc.read failures"], serde_json::json!([]));
    assert_eq!(results["recv"], 150);
    assert_eq!(
        results["subprocess"],
        serde_json::json!(["42", "42", "42", "42", "42"])
    );
    let burst = profile.inclusive_seconds("burst", Some("blocking.py"));
    assert!(burst > 0.0, "burst was sampled");
}

/// A program that installs its own handler for the reader's signal keeps it: the reader
/// notices within a round, stops signalling, and reads running threads from outside.
const TAKES_THE_SIGNAL: &str = r#"
import json, signal, sys, time

calls = []
def spin(seconds):
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1
    return x

spin(0.2)
# The reader takes the highest free real-time signal: this one, in a plain Python.
signal.signal(signal.SIGRTMAX, lambda *a: calls.append(1))
spin(0.5)
with open(sys.argv[1], "w") as f:
    json.dump({"calls": len(calls)}, f)
"#;

#[test]
fn a_program_taking_the_signal_over_keeps_it() {
    if python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen.json");
    let profile = run(
        dir.path(),
        "takes.py",
        TAKES_THE_SIGNAL,
        Reader::Signal,
        &[&seen],
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&seen).unwrap()).unwrap();
    // At most the requests of the round before the reader noticed reach the program.
    assert!(
        results["calls"].as_u64().unwrap() <= 2,
        "the program's handler ran {} times",
        results["calls"]
    );
    // Still sampled after the switch (read from outside).
    let late = profile
        .samples
        .iter()
        .filter(|s| s.time.is_some_and(|t| t > 0.5))
        .count();
    assert!(
        late > 50,
        "{late} samples after the program took the signal"
    );
}
