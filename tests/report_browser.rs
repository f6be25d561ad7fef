//! report.html in a real browser: `profbench report` re-renders a real run folder (the fixture
//! is a matrix run trimmed to run.json + cells/), headless Chromium opens the page offline, and
//! the screenshot and the rendered DOM must show the table, the sorted rows and the charts.

use assert_cmd::Command;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results-small")
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("PROFBENCH_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    assert!(
        path.exists(),
        "{} is missing: this test needs headless Chromium; install it with `apt-get install chromium` (or set PROFBENCH_CHROMIUM)",
        path.display()
    );
    path
}

/// Runs Chromium headless on `url` with a fresh profile; returns stdout. Chromium sometimes
/// lingers after it has written its output, so it is given a deadline and then ended.
fn chromium_run(profile: &Path, extra: &[String], url: &str) -> String {
    let mut cmd = std::process::Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("starting chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap()
}

#[test]
fn report_html_renders_in_headless_chromium() {
    let browser = chromium();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run folder");
    fs::create_dir_all(run.join("cells")).unwrap();
    fs::copy(fixture().join("run.json"), run.join("run.json")).unwrap();
    let mut cells = 0;
    for entry in fs::read_dir(fixture().join("cells")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), run.join("cells").join(entry.file_name())).unwrap();
        cells += 1;
    }

    Command::cargo_bin("profbench")
        .unwrap()
        .args(["report"])
        .arg(&run)
        .assert()
        .success();
    let page = run.join("report.html");
    assert!(page.exists(), "report.html written");
    for name in [
        "overhead",
        "accuracy",
        "pareto",
        "checks",
        "platforms",
        "ray-timeline",
    ] {
        for ext in ["svg", "png"] {
            assert!(
                run.join("charts").join(format!("{name}.{ext}")).exists(),
                "charts/{name}.{ext}"
            );
        }
    }
    let url = format!("file://{}", page.display()).replace(' ', "%20");

    // The screenshot: a real, non-blank picture of the page.
    let shot = tmp.path().join("shot.png");
    chromium_run(
        &tmp.path().join("profile-shot"),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,2000".into(),
        ],
        &url,
    );
    let decoder = png::Decoder::new(
        fs::File::open(&shot)
            .unwrap_or_else(|e| panic!("{} gave no screenshot: {e}", browser.display())),
    );
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1400, 2000));
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut not_white = 0usize;
    for px in pixels.chunks(channels) {
        let rgb = (px[0], px[1], px[2.min(channels - 1)]);
        colours.insert(rgb);
        if rgb != (255, 255, 255) {
            not_white += 1;
        }
    }
    let total = pixels.len() / channels;
    assert!(
        colours.len() > 50,
        "screenshot has only {} colours: blank?",
        colours.len()
    );
    assert!(
        not_white * 50 > total,
        "screenshot is nearly all white ({not_white} of {total} pixels)"
    );

    // The DOM after scripts ran, sorted by the URL's #sort (checks the inline JS too).
    let dom = chromium_run(
        &tmp.path().join("profile-dom"),
        &["--dump-dom".into()],
        &format!("{url}#sort=overhead,desc"),
    );
    assert!(
        dom.contains("<table id=\"results\""),
        "results table in the DOM"
    );
    assert_eq!(
        dom.matches("<tr class=\"cell").count(),
        cells,
        "one row per cell"
    );
    for name in [
        "overhead",
        "accuracy",
        "pareto",
        "checks",
        "platforms",
        "ray-timeline",
    ] {
        let at = dom
            .find(&format!("id=\"chart-{name}\""))
            .unwrap_or_else(|| panic!("chart {name} in the DOM"));
        assert!(dom[at..].contains("<svg"), "chart {name} is an inline SVG");
    }
    assert!(dom.matches("<svg").count() >= 6);
    assert!(
        dom.contains("aria-sort=\"descending\""),
        "the sort script ran"
    );
    // The fixture's largest wall ratio is cProfile under uv on `single`: it must come first.
    let first_row = &dom[dom.find("<tr class=\"cell").unwrap()..];
    let first_row = &first_row[..first_row.find("</tr>").unwrap()];
    assert!(
        first_row.contains("1.88×"),
        "sorted by overhead, descending: {first_row}"
    );
    // Failures keep their reason, escaped: the fixture's tracebacks mention `<module>`.
    assert!(dom.contains("workload failed"));
    assert!(dom.contains("&lt;module&gt;") && !dom.contains("<module>"));
    assert!(dom.contains("<details>"));
}
