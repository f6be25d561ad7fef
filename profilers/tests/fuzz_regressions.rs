//! Replays every input the fuzzers found (tests/fixtures/fuzz-regressions/<target>/) through
//! the same parser call as its target in fuzz/fuzz_targets/<target>.rs: each must parse to Ok
//! or a ParseError, without panicking, within a bounded time, and an Ok profile must only hold
//! frame indices that point at a frame (the harness indexes `frames` directly).

use profbench_profilers::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/fuzz-regressions/"
);

fn check(what: &Path, result: Result<Profile, ParseError>) {
    let Ok(p) = result else { return };
    let n = p.frames.len();
    for s in &p.samples {
        for &i in &s.stack {
            assert!(
                (i as usize) < n,
                "{}: sample frame {i} of {n}",
                what.display()
            );
        }
    }
    for f in &p.functions {
        assert!(
            (f.frame as usize) < n,
            "{}: call record frame {} of {n}",
            what.display(),
            f.frame
        );
    }
}

/// The parser call of each fuzz target (keep in step with fuzz/fuzz_targets/).
fn run(target: &str, path: &Path, data: &[u8]) {
    match target {
        "cprofile" => check(path, cprofile::parse_pstats(data)),
        "marshal" => {
            let _ = marshal::parse(data);
        }
        "yappi" => check(path, yappi::parse_yappi_pstat(data, Clock::Wall)),
        "pyspy" => check(path, pyspy::parse_raw(data, 100, Clock::Wall)),
        "austin_text" => check(path, austin::parse_text(data, Clock::Wall)),
        "austin_mojo" => check(path, austin::parse_mojo(data, Clock::Wall)),
        "scalene" => check(path, scalene::parse_json(data)),
        "pyinstrument" => check(path, pyinstrument::parse_json(data)),
        "viztracer" => check(path, viztracer::parse_trace(data).map(|t| t.profile)),
        "memray" => {
            if let Ok(text) = std::str::from_utf8(data) {
                check(path, memray::parse_peak_csv(text));
            }
        }
        "line_profiler" => check(path, line_profiler::parse_dump(data)),
        "cpython_sampling" => {
            if let Ok(text) = std::str::from_utf8(data) {
                let interval = cpython_sampling::INTERVAL_US as f64 * 1e-6;
                check(path, cpython_sampling::parse_collapsed(text, interval));
            }
        }
        "profbench" => check(path, profbench::parse_profile(data)),
        "custom" => {
            let _ = custom::parse_backend_file(&String::from_utf8_lossy(data), "fuzz");
            for kind in [
                custom::OutputKind::None,
                custom::OutputKind::Pstats,
                custom::OutputKind::Profile,
            ] {
                if let Some(r) = custom::parse_bytes(kind, data, "fuzz") {
                    check(path, r);
                }
            }
        }
        other => panic!("{}: no fuzz target named {other}", path.display()),
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn every_fuzz_finding_parses_or_is_rejected_without_panicking() {
    let mut replayed = 0;
    for target_dir in files(Path::new(DIR)).into_iter().filter(|p| p.is_dir()) {
        let target = target_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for input in files(&target_dir).into_iter().filter(|p| p.is_file()) {
            let data = std::fs::read(&input).unwrap();
            let start = Instant::now();
            run(&target, &input, &data);
            // Generous: a debug build on a loaded machine; the hangs found took minutes or
            // forever.
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{}: took {:?}",
                input.display(),
                start.elapsed()
            );
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no inputs under {DIR}");
}
