//! End to end: `record` really runs python3 on small scripts and the profile shows them.

use profbench_profilers::profile::Profile;
use profbench_sampler::{record, Format, RecordArgs};
use std::ffi::OsString;
use std::path::Path;

fn python() -> Option<OsString> {
    let found = std::process::Command::new("python3")
        .arg("-c")
        .arg("pass")
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("python3 not found: skipping");
    }
    found.then(|| "python3".into())
}

fn args(out: &Path, format: Format, command: Vec<OsString>) -> RecordArgs {
    RecordArgs {
        rate: 200.0,
        output: Some(out.to_path_buf()),
        format,
        subprocesses: true,
        duration_limit: None,
        grace: 2.0,
        quiet: true,
        no_native_reader: false,
        reader: Default::default(),
        command,
    }
}

/// Records `source`, saved as `name` in a folder of its own, at the tests' settings, as JSON.
fn profile_of(py: OsString, name: &str, source: &str) -> Profile {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join(name);
    std::fs::write(&script, source).unwrap();
    let out = dir.path().join("profile.json");
    record(&args(&out, Format::Json, vec![py, script.into()])).unwrap();
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

const SCRIPT: &str = r#"
import json, os, sys, threading, time, subprocess

def busy_function():
    total = 0
    for i in range(3_000_000):
        total += i & 7
    return total

def sleepy_function():
    time.sleep(0.3)

def main():
    busy_function()
    sleepy_function()
    # The agent must not show up in the target's own view of itself.
    seen = {"threads": threading.active_count(), "modules": sorted(sys.modules)}
    with open(sys.argv[1], "w") as f:
        json.dump(seen, f)
    subprocess.run([sys.executable, "-c", "import time\ndef child_function():\n    time.sleep(0.2)\nchild_function()"], check=True)
    sys.exit(3)

main()
"#;

#[test]
fn records_a_real_python_program() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("target_script.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let seen = dir.path().join("seen.json");
    let out = dir.path().join("profile.json");
    let code = record(&args(
        &out,
        Format::Json,
        vec![py, script.clone().into(), seen.clone().into()],
    ))
    .unwrap();
    assert_eq!(code, 3, "the target's exit code is returned");

    let profile: Profile = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let busy = profile.inclusive_seconds("busy_function", Some("target_script.py"));
    let sleepy = profile.inclusive_seconds("sleepy_function", Some("target_script.py"));
    assert!(busy > 0.02, "busy_function sampled: {busy}");
    assert!(
        (sleepy - 0.3).abs() < 0.1,
        "sleepy_function's time is its wall time: {sleepy}"
    );
    // The sleep is idle, the loop is not (thread CPU time from the OS).
    let frames = &profile.frames;
    let in_fn = |s: &&profbench_profilers::Sample, f: &str| {
        s.stack.iter().any(|&i| frames[i as usize].function == f)
    };
    let sleep_samples: Vec<_> = profile
        .samples
        .iter()
        .filter(|s| in_fn(s, "sleepy_function"))
        .collect();
    // Most of it: the first sample in the sleep also covers the end of the loop before it.
    let idle_weight: f64 = sleep_samples
        .iter()
        .filter(|s| s.idle == Some(true))
        .map(|s| s.weight)
        .sum();
    assert!(idle_weight > 0.8 * sleepy, "{idle_weight} of {sleepy} idle");
    // A busy thread on a loaded machine may get less than half a CPU (then it is waiting for
    // one, and says so); compare CPU seconds rather than flags.
    let cpu = |f: &str| {
        profile
            .samples
            .iter()
            .filter(|s| in_fn(s, f))
            .filter_map(|s| s.cpu)
            .sum::<f64>()
    };
    // The first sample inside the sleep also carries the end of the loop's CPU (a sample's
    // span is charged to the stack seen at its end), more of it when the machine is loaded:
    // compare with the loop's CPU rather than with a fixed number of milliseconds.
    assert!(
        cpu("busy_function") > 0.01 && cpu("sleepy_function") < 0.1 * cpu("busy_function"),
        "{} {}",
        cpu("busy_function"),
        cpu("sleepy_function")
    );
    // Line-level data and pid/tid everywhere; the child process was followed.
    assert!(profile
        .lines
        .iter()
        .any(|l| l.function.as_deref() == Some("busy_function")));
    assert!(
        profile.inclusive_seconds("child_function", None) > 0.1,
        "subprocess followed"
    );
    assert!(
        profile
            .samples
            .iter()
            .map(|s| s.pid)
            .collect::<std::collections::HashSet<_>>()
            .len()
            >= 2
    );
    assert!(profile
        .memory
        .as_ref()
        .is_some_and(|m| m.peak_bytes.unwrap_or(0) > 1 << 20));

    let seen: serde_json::Value = serde_json::from_slice(&std::fs::read(&seen).unwrap()).unwrap();
    assert_eq!(
        seen["threads"], 1,
        "the sampler thread is invisible to threading"
    );
    // Modules: the same as without the profiler, but for the agent, its socket module and the
    // `sitecustomize` that loads it (coverage.py's injection leaves the same trace).
    let plain = dir.path().join("plain.json");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg(&plain)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    let plain: serde_json::Value = serde_json::from_slice(&std::fs::read(&plain).unwrap()).unwrap();
    let names = |v: &serde_json::Value| -> std::collections::BTreeSet<String> {
        v["modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_string())
            .collect()
    };
    let extra: Vec<String> = names(&seen).difference(&names(&plain)).cloned().collect();
    assert!(
        extra
            .iter()
            .all(|m| ["_profbench_agent", "_socket", "sitecustomize"].contains(&m.as_str())),
        "the agent imported modules the target would see: {extra:?}"
    );
}

#[test]
fn every_format_is_written() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("small.py");
    std::fs::write(
        &script,
        "def spin():\n    return sum(i * i for i in range(400000))\nspin()\n",
    )
    .unwrap();
    for (format, check) in [
        (
            Format::Speedscope,
            "\"$schema\":\"https://www.speedscope.app/file-format-schema.json\"",
        ),
        (Format::Chrome, "\"traceEvents\""),
        (Format::Collapsed, "spin ("),
        (Format::Flamegraph, "<svg"),
    ] {
        let out = dir.path().join(format!("out.{}", format.extension()));
        let code = record(&args(&out, format, vec![py.clone(), script.clone().into()])).unwrap();
        assert_eq!(code, 0);
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains(check), "{format:?} output lacks {check}");
    }
}

#[test]
fn a_command_that_is_not_python_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("none.json");
    let code = record(&args(
        &out,
        Format::Json,
        vec!["sh".into(), "-c".into(), "exit 5".into()],
    ))
    .unwrap();
    assert_eq!(code, 5);
    assert!(
        !out.exists(),
        "no Python, no profile (the harness reports no output)"
    );
}

/// A thread inside a C function shows it as a leaf frame (file `<native>`), named from the
/// bytecode of the call: `time.sleep` below the caller, `builtins.sum` below its line.
#[test]
fn c_functions_being_called_are_named() {
    let Some(py) = python() else { return };
    // The agent names callees only when the target has loaded `opcode` itself (as numpy,
    // inspect and ray do); importing it from the agent would change the target's modules.
    let profile = profile_of(
        py,
        "native_calls.py",
        "import dis, time\n\
         def sleepy():\n    time.sleep(0.3)\n\
         def summing():\n    return sum(range(3 * 10**7))\n\
         sleepy()\nsumming()\n",
    );
    let below = |parent: &str, leaf: &str| -> f64 {
        profile
            .samples
            .iter()
            .filter(|s| {
                let names: Vec<&str> = s
                    .stack
                    .iter()
                    .map(|&i| profile.frames[i as usize].function.as_str())
                    .collect();
                names.ends_with(&[parent, leaf])
            })
            .map(|s| s.weight)
            .sum()
    };
    // What the profile held, should an assertion fail: a rare failure must explain itself.
    let held = format!(
        "{} samples, {:?} missed, {:?} invalid, warnings {:?}, frames {:?}",
        profile.samples.len(),
        profile.missed_samples,
        profile.invalid_samples,
        profile.warnings,
        profile.frames
    );
    assert!(below("sleepy", "time.sleep") > 0.2, "{held}");
    assert!(below("summing", "builtins.sum") > 0.0, "{held}");
    assert!(profile
        .frames
        .iter()
        .filter(|f| f.function == "time.sleep")
        .all(|f| f.file == "<native>" && f.line == 0));
}

/// The safepoint trap of an in-process sampler: three long C calls in a row, each on its own
/// line. The sampler gets the GIL only where a call ends, and must read the stack right then:
/// if it lets go of the GIL again first (a send, an fstat), the next call starts and its time
/// lands on a later line. Measured before the fix: a whole call charged elsewhere in 2 of 6
/// runs of workloads/line.py. Each line's share is compared, not its seconds.
#[test]
fn long_c_calls_are_charged_to_their_own_lines() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("three_sums.py");
    std::fs::write(
        &script,
        "def three_sums():\n\
         \x20   a = sum(range(4 * 10**6))\n\
         \x20   b = sum(range(4 * 10**6))\n\
         \x20   c = sum(range(4 * 10**6))\n\
         \x20   return a + b + c\n\
         for _ in range(4):\n\
         \x20   three_sums()\n",
    )
    .unwrap();
    // Both ways of reading stacks: the native reader, and the agent's Python thread.
    for no_native_reader in [false, true] {
        let out = dir.path().join("profile.json");
        let mut a = args(&out, Format::Json, vec![py.clone(), script.clone().into()]);
        a.no_native_reader = no_native_reader;
        record(&a).unwrap();
        let profile: Profile = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        three_lines_get_a_third_each(&profile, no_native_reader);
    }
}

fn three_lines_get_a_third_each(profile: &Profile, no_native_reader: bool) {
    let mut by_line = std::collections::BTreeMap::<u32, f64>::new();
    for s in &profile.samples {
        let frame = s
            .stack
            .iter()
            .map(|&i| &profile.frames[i as usize])
            .rfind(|f| f.function == "three_sums");
        if let Some(f) = frame {
            *by_line.entry(f.line).or_default() += s.weight;
        }
    }
    let total: f64 = by_line.values().sum();
    for line in 2..=4 {
        let share = by_line.get(&line).copied().unwrap_or(0.0) / total;
        assert!(
            share > 0.2,
            "line {line}: {share:.2} of three_sums (truth 1/3), no_native_reader={no_native_reader}: {by_line:?}"
        );
    }
}

/// Whether python3 is a CPython the native reader knows (3.11, 3.12).
fn reader_knows(py: &OsString) -> bool {
    std::process::Command::new(py)
        .args(["-c", "import sys; sys.exit(sys.implementation.name != 'cpython' or sys.version_info[:2] not in ((3, 11), (3, 12), (3, 13)))"])
        .status()
        .is_ok_and(|s| s.success())
}

/// The native reader's point: it reads the stack while the target holds the GIL. A thread
/// reading from Python gets one sample at the end of a long C call; the reader gets them
/// all along it, at the asked rate.
#[test]
fn the_native_reader_samples_inside_a_long_c_call() {
    let Some(py) = python() else { return };
    if !reader_knows(&py) {
        eprintln!("python3 is not CPython 3.11-3.13: the agent reads from Python there; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("long_call.py");
    std::fs::write(
        &script,
        "def long_call():\n    return sum(range(3 * 10**7))\nlong_call()\n",
    )
    .unwrap();
    let count = |no_native_reader: bool| {
        let out = dir.path().join("profile.json");
        let mut a = args(&out, Format::Json, vec![py.clone(), script.clone().into()]);
        a.no_native_reader = no_native_reader;
        record(&a).unwrap();
        let profile: Profile = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let in_call = |s: &&profbench_profilers::Sample| {
            s.stack
                .iter()
                .any(|&i| profile.frames[i as usize].function == "long_call")
        };
        let samples: Vec<_> = profile.samples.iter().filter(in_call).collect();
        let seconds: f64 = samples.iter().map(|s| s.weight).sum();
        (samples.len(), seconds)
    };
    let (native, seconds) = count(false);
    let (from_python, _) = count(true);
    // At 200 Hz a call of `seconds` should get about 200 × seconds samples; half will do.
    assert!(
        native as f64 >= 100.0 * seconds && native > 4 * from_python.max(1),
        "{native} samples in {seconds:.2} s of long_call with the reader, {from_python} without"
    );
}

/// A forked child starts its own reader (the parent's thread did not survive the fork) and
/// every process says how it read stacks: none fell back here.
#[test]
fn a_forked_child_gets_its_own_reader() {
    let Some(py) = python() else { return };
    if !reader_knows(&py) {
        eprintln!("python3 is not CPython 3.11-3.13: skipping");
        return;
    }
    let profile = profile_of(
        py,
        "fork.py",
        "import os\n\
         def child_work():\n\
         \x20   return sum(range(2 * 10**7))\n\
         pid = os.fork()\n\
         if pid == 0:\n\
         \x20   child_work()\n\
         \x20   os._exit(0)\n\
         os.waitpid(pid, 0)\n",
    );
    let in_child = profile
        .samples
        .iter()
        .filter(|s| {
            s.stack
                .iter()
                .any(|&i| profile.frames[i as usize].function == "child_work")
        })
        .count();
    // A reader samples all along the C call; reading from Python would give one sample.
    assert!(
        in_child > 5,
        "{in_child} samples in the forked child's long call"
    );
    assert!(
        !profile.warnings.iter().any(|w| w.contains("GIL-bound")),
        "{:?}",
        profile.warnings
    );
}

/// Functions made and freed one after another, each running a while, called from the same
/// line with the same offsets: every one must keep its own time, however the agent caches the
/// stacks it has named.
#[test]
fn a_code_address_taken_by_another_function_names_that_function() {
    let Some(py) = python() else { return };
    let profile = profile_of(
        py,
        "reused.py",
        "import time\n\
         def run(i):\n\
         \x20   src = 'def work_%d():\\n    t = time.perf_counter()\\n    while time.perf_counter() - t < 0.06:\\n        pass\\n' % i\n\
         \x20   ns = {'time': time}\n\
         \x20   exec(compile(src, 'gen_%d.py' % i, 'exec'), ns)\n\
         \x20   ns['work_%d' % i]()\n\
         for i in range(12):\n\
         \x20   run(i)\n",
    );
    let seconds = |name: &str| -> f64 {
        profile
            .samples
            .iter()
            .filter(|s| {
                s.stack
                    .last()
                    .is_some_and(|&i| profile.frames[i as usize].function == name)
            })
            .map(|s| s.weight)
            .sum()
    };
    let each: Vec<f64> = (0..12).map(|i| seconds(&format!("work_{i}"))).collect();
    // 60 ms each at 200 Hz: a dozen samples; one charged with another's time would have two
    // dozen and the other none.
    assert!(
        each.iter().all(|&t| t > 0.02 && t < 0.1),
        "seconds per function: {each:.3?}"
    );
}

/// Deep stacks, each new: the reader's table of stacks fills by size and starts its numbering
/// afresh in the middle of the run, and every sample after that is still named.
#[test]
fn stacks_stay_named_when_the_numbering_starts_afresh() {
    let Some(py) = python() else { return };
    if !reader_knows(&py) {
        eprintln!("python3 is not CPython 3.11-3.13: skipping");
        return;
    }
    let profile = profile_of(
        py,
        "deep.py",
        "import random, sys, time\n\
         sys.setrecursionlimit(5000)\n\
         def down(d):\n\
         \x20   if d == 0:\n\
         \x20       t = time.perf_counter()\n\
         \x20       while time.perf_counter() - t < 0.005:\n\
         \x20           pass\n\
         \x20       return\n\
         \x20   down(d - 1)\n\
         random.seed(1)\n\
         for _ in range(300):\n\
         \x20   down(random.randint(600, 1000))\n",
    );
    let deep = |s: &&profbench_profilers::Sample| {
        s.stack
            .iter()
            .filter(|&&i| profile.frames[i as usize].function == "down")
            .count()
            > 600
    };
    let seconds: f64 = profile.samples.iter().filter(deep).map(|s| s.weight).sum();
    // About 300 samples of 1,200-2,000 words each: more than the 2^18 words a numbering holds.
    assert!(
        profile.samples.iter().filter(deep).count() > 150 && seconds > 1.0,
        "{} samples 600 deep or more ({seconds:.2} s) of {}; warnings {:?}",
        profile.samples.iter().filter(deep).count(),
        profile.samples.len(),
        profile.warnings
    );
}
