//! Charts of a run (criterion's `src/plot/` shape): one chart a file, each drawn once to SVG
//! (inlined in report.html) and once to PNG (for READMEs and issues) under `<run>/charts/`.
//!
//! Rendering runs after every cell, so it must be quick and must never fail a run: a chart that
//! cannot be drawn is skipped with a warning line and the others go on.

pub mod accuracy;
pub mod checks;
pub mod overhead;
pub mod pareto;
pub mod platforms;
pub mod ray_timeline;

use crate::results::{CellRecord, Status};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A chart that was drawn: its SVG text (for inlining) and the files written.
#[derive(Debug, Clone)]
pub struct Chart {
    /// File stem: `overhead`, `accuracy`, `pareto`, `checks`, `platforms`, `ray-timeline`.
    pub name: &'static str,
    pub title: &'static str,
    pub svg: String,
    pub svg_path: PathBuf,
    pub png_path: PathBuf,
}

/// What every chart implements: its pixel size (which grows with the data) and one drawing
/// function written once for both backends.
pub trait Draw {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Converts plotters' backend-typed errors into one printable line.
pub(crate) fn e<T, E: std::fmt::Debug>(r: Result<T, E>) -> Result<T, String> {
    r.map_err(|e| format!("{e:?}"))
}

/// The font family name registered with plotters (any name works; this one reads well in SVG,
/// where the browser substitutes its own sans-serif face).
pub const FONT: &str = "sans-serif";

/// Where a usable TrueType font usually is, per OS; `PROFBENCH_FONT` comes first.
const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
    "C:\\Windows\\Fonts\\segoeui.ttf",
];

/// Loads a font once per process. plotters' ab_glyph text needs `'static` bytes, so the file
/// is leaked on purpose (one font, a few hundred KB, for the life of the process).
pub fn ensure_font() -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let from_env = std::env::var("PROFBENCH_FONT").ok();
            let candidates = from_env.iter().map(String::as_str).chain(FONT_CANDIDATES.iter().copied());
            for path in candidates {
                let Ok(bytes) = std::fs::read(path) else { continue };
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
            Err("no TrueType font for chart text: install one (`apt-get install fonts-dejavu-core`) or set PROFBENCH_FONT=/path/to/font.ttf".into())
        })
        .clone()
}

/// Sizes in the chart code are nominal; both backends draw them a little small (plotters' SVG
/// writes size/1.24 as the CSS font-size), so they are scaled up once here.
const TEXT_SCALE: f64 = 1.15;

pub(crate) fn font(size: f64) -> TextStyle<'static> {
    (FONT, size * TEXT_SCALE).into_font().color(&BLACK)
}

/// Rough text width in pixels for layout (DejaVu Sans averages ~0.6 em per character).
pub(crate) fn text_width(s: &str, size: f64) -> u32 {
    (s.chars().count() as f64 * size * TEXT_SCALE * 0.6).ceil() as u32
}

/// Ten colours told apart in print and by most colour-blind readers (Tableau 10).
pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub(crate) fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// One fixed colour per status so that a category reads the same in every chart and run.
pub fn status_colour(category: &str) -> RGBColor {
    match category {
        "ok" => RGBColor(44, 160, 44),
        "not installable" => RGBColor(127, 127, 127),
        "binary incompatible" => RGBColor(140, 86, 75),
        "permission denied" => RGBColor(214, 39, 40),
        "unsupported platform" => RGBColor(148, 103, 189),
        "target not found" => RGBColor(255, 127, 14),
        "crashed" => RGBColor(227, 119, 194),
        "timed out" => RGBColor(188, 189, 34),
        "no output" => RGBColor(23, 190, 207),
        "unparseable output" => RGBColor(31, 119, 180),
        "workload failed" => RGBColor(57, 59, 121),
        "interrupted" => RGBColor(199, 199, 199),
        "harness fault" => RGBColor(102, 51, 0),
        _ => RGBColor(0, 0, 0),
    }
}

/// Status categories in the order docs/method.md lists them (legends follow it).
pub const STATUS_ORDER: [&str; 13] = [
    "ok",
    "not installable",
    "binary incompatible",
    "permission denied",
    "unsupported platform",
    "target not found",
    "crashed",
    "timed out",
    "no output",
    "unparseable output",
    "workload failed",
    "interrupted",
    "harness fault",
];

/// Text colour readable on `bg`.
pub(crate) fn ink_on(bg: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = bg;
    let lum = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64;
    if lum > 140.0 {
        BLACK
    } else {
        WHITE
    }
}

/// Backend names in the order profbench lists them; names it does not know go last.
pub(crate) fn backend_rank(name: &str) -> usize {
    static ORDER: OnceLock<Vec<String>> = OnceLock::new();
    let order = ORDER.get_or_init(|| {
        profbench_profilers::all_backends()
            .iter()
            .map(|b| b.name().to_string())
            .collect()
    });
    order.iter().position(|n| n == name).unwrap_or(order.len())
}

/// How a cell's (platform, launcher) is named in legends: just the launcher while the charts
/// hold one platform, since the platform is then in the page's header.
pub(crate) fn variant_label(c: &CellRecord, many_platforms: bool) -> String {
    if many_platforms {
        format!("{} · {}", c.platform_id, c.key.launcher)
    } else {
        c.key.launcher.clone()
    }
}

pub(crate) fn many_platforms(cells: &[CellRecord]) -> bool {
    cells
        .iter()
        .map(|c| &c.platform_id)
        .collect::<BTreeSet<_>>()
        .len()
        > 1
}

pub(crate) fn status_category(c: &CellRecord) -> String {
    match &c.status {
        Status::Ok => "ok".into(),
        Status::Failed { category, .. } => category.to_string(),
    }
}

/// A chart holding only a sentence (e.g. "no checks in this run"), so the page and the chart
/// folder keep the same shape whatever the run measured.
pub struct Message {
    pub title: String,
    pub text: String,
}

impl Draw for Message {
    fn size(&self) -> (u32, u32) {
        (700, 120)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        e(area.fill(&WHITE))?;
        e(area.draw(&Text::new(self.title.clone(), (20, 20), font(20.0))))?;
        e(area.draw(&Text::new(
            self.text.clone(),
            (20, 70),
            font(16.0).color(&RGBColor(90, 90, 90)),
        )))?;
        Ok(())
    }
}

/// Draws `chart` as `<dir>/<name>.svg` and `.png`. Files are written through a temporary name
/// and a rename, so a reader never sees half a picture.
pub fn render<C: Draw>(
    chart: &C,
    name: &'static str,
    title: &'static str,
    dir: &Path,
) -> Result<Chart, String> {
    ensure_font()?;
    let size = chart.size();
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        chart.draw(&area)?;
        e(area.present())?;
    }
    std::fs::create_dir_all(dir).map_err(|err| format!("creating {}: {err}", dir.display()))?;
    let svg_path = dir.join(format!("{name}.svg"));
    crate::results::write_atomic(&svg_path, svg.as_bytes()).map_err(|err| format!("{err:#}"))?;
    let png_path = dir.join(format!("{name}.png"));
    // The image encoder picks the format from the extension, hence `.png` at the end.
    let tmp = dir.join(format!(".{name}.{}.tmp.png", std::process::id()));
    {
        let area = BitMapBackend::new(&tmp, size).into_drawing_area();
        chart.draw(&area)?;
        e(area.present())?;
    }
    std::fs::rename(&tmp, &png_path).map_err(|err| {
        let _ = std::fs::remove_file(&tmp);
        format!("writing {}: {err}", png_path.display())
    })?;
    Ok(Chart {
        name,
        title,
        svg,
        svg_path,
        png_path,
    })
}

/// Every chart of a set of cells into `out/charts/`. `run_dirs` are the run folders the cells
/// came from (the Ray timeline reads a raw profile from them). Charts that fail are skipped
/// with a warning on stderr; the caller gets the others.
pub fn render_all(out: &Path, run_dirs: &[PathBuf], cells: &[CellRecord]) -> Vec<Chart> {
    let dir = out.join("charts");
    let mut charts = Vec::new();
    let mut attempt = |r: Result<Chart, String>, name: &str| match r {
        Ok(c) => charts.push(c),
        Err(err) => warn_once(name, &err),
    };
    // A panic inside plotters (a degenerate range, say) must not end a matrix run either.
    fn guarded<F: FnOnce() -> Result<Chart, String>>(f: F) -> Result<Chart, String> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .unwrap_or_else(|_| Err("the chart code panicked".into()))
    }
    attempt(
        guarded(|| {
            render(
                &overhead::Overhead::from_cells(cells),
                "overhead",
                "Overhead per backend",
                &dir,
            )
        }),
        "overhead",
    );
    attempt(
        guarded(|| {
            render(
                &accuracy::AccuracyHeatmap::from_cells(cells),
                "accuracy",
                "Accuracy per phase",
                &dir,
            )
        }),
        "accuracy",
    );
    attempt(
        guarded(|| {
            render(
                &pareto::Pareto::from_cells(cells),
                "pareto",
                "Overhead vs accuracy",
                &dir,
            )
        }),
        "pareto",
    );
    attempt(
        guarded(|| {
            render(
                &checks::ChecksGrid::from_cells(cells),
                "checks",
                "Capability checks",
                &dir,
            )
        }),
        "checks",
    );
    attempt(
        guarded(|| {
            render(
                &platforms::PlatformGrid::from_cells(cells),
                "platforms",
                "Status per platform",
                &dir,
            )
        }),
        "platforms",
    );
    attempt(
        guarded(|| {
            render(
                &ray_timeline::RayTimeline::from_run_dirs(run_dirs, cells),
                "ray-timeline",
                "Ray timeline (profbench sampler)",
                &dir,
            )
        }),
        "ray-timeline",
    );
    charts
}

/// The matrix rewrites reports after every cell; one warning per chart and message per process
/// is enough to tell the user without flooding the progress display.
fn warn_once(name: &str, err: &str) {
    static SAID: OnceLock<std::sync::Mutex<BTreeSet<String>>> = OnceLock::new();
    let said = SAID.get_or_init(Default::default);
    let key = format!("{name}: {err}");
    if said.lock().map(|mut s| s.insert(key)).unwrap_or(true) {
        eprintln!("warning: chart {name} skipped: {err}");
    }
}

#[cfg(test)]
pub(crate) mod testdata {
    //! Cells built in code, for chart data tests that need more backends than a fixture has.
    use crate::accuracy::{Accuracy, PhaseAccuracy};
    use crate::results::{CellKey, CellRecord, Overhead, Status};
    use crate::stats::{Estimate, Interval};
    use profbench_profilers::{Clock, Failure};

    pub fn est(median: f64, low: f64, high: f64) -> Estimate {
        Estimate {
            median,
            interval: Interval {
                low,
                high,
                coverage: 0.95,
            },
            n: 6,
        }
    }

    /// Built through JSON so that fields added to `CellRecord` later (with serde defaults)
    /// need no change here.
    pub fn cell(
        workload: &str,
        backend: &str,
        launcher: &str,
        wall: Option<f64>,
        mae: Option<f64>,
    ) -> CellRecord {
        let overhead = wall.map(|w| Overhead {
            wall: Some(est(w, w * 0.95, w * 1.05)),
            cpu: Some(est(w, w, w)),
            ..Default::default()
        });
        let phase = |name: &str, m: f64| PhaseAccuracy {
            phase: name.into(),
            function: format!("f{name}"),
            attributed_s: 1.0,
            truth_s: 1.0,
            attributed_share: 0.5,
            truth_share: 0.5,
            error_pp: m,
        };
        let accuracy = mae.map(|m| Accuracy {
            clock: Clock::Wall,
            phases: vec![phase("a", m), phase("b <x>", m)],
            mae_pp: m,
            worst_phase: "a".into(),
            worst_pp: m,
            samples: None,
            sampling_error_pp: None,
            rate_hz: None,
            asked_hz: None,
            missed_samples: None,
        });
        serde_json::from_value(serde_json::json!({
            "schema": crate::results::SCHEMA,
            "key": CellKey { launcher: launcher.into(), workload: workload.into(), backend: backend.into() },
            "platform_id": "linux-test",
            "backend_description": backend,
            "backend_version": "1.0",
            "status": Status::Ok,
            "overhead": overhead,
            "accuracy": accuracy,
            "accuracy_note": null,
            "output_bytes": 10,
            "postprocess_s": null,
            "runs": [],
            "started": "s",
            "finished": "f",
        }))
        .expect("a valid cell record")
    }

    pub fn failed(
        workload: &str,
        backend: &str,
        launcher: &str,
        category: Failure,
        error: &str,
    ) -> CellRecord {
        let mut c = cell(workload, backend, launcher, None, None);
        c.status = Status::Failed {
            category,
            error: error.into(),
        };
        c
    }

    /// A small but varied run: two workloads, a baseline, three profilers, two launchers, failures.
    pub fn run() -> Vec<CellRecord> {
        vec![
            cell("single", "none", "direct", Some(5.0), None),
            cell("single", "cprofile", "direct", Some(1.6), Some(0.3)),
            cell("single", "py-spy", "direct", Some(1.02), Some(1.5)),
            cell("single", "scalene", "direct", Some(1.3), Some(4.0)),
            cell("single", "yappi-wall", "direct", Some(2.5), Some(0.2)),
            failed(
                "single",
                "py-spy",
                "uv",
                Failure::TargetNotFound,
                "no python in <uv> & friends",
            ),
            cell("single", "cprofile", "uv", Some(1.7), Some(0.4)),
            cell("line", "cprofile", "direct", Some(3.0), Some(10.0)),
            failed(
                "line",
                "austin",
                "direct",
                Failure::PermissionDenied,
                "ptrace: Operation not permitted",
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_charts_render_to_svg_and_png() {
        let dir = tempfile::tempdir().unwrap();
        let charts = render_all(dir.path(), &[], &testdata::run());
        let names: Vec<&str> = charts.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "overhead",
                "accuracy",
                "pareto",
                "checks",
                "platforms",
                "ray-timeline"
            ]
        );
        for c in &charts {
            assert!(c.svg.starts_with("<svg"), "{}", c.name);
            assert!(c.png_path.exists() && c.svg_path.exists());
            let png = std::fs::read(&c.png_path).unwrap();
            assert_eq!(&png[1..4], b"PNG");
        }
        let left: Vec<_> = std::fs::read_dir(dir.path().join("charts"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(left.is_empty(), "no temporary files left");
    }

    #[test]
    fn charts_of_an_empty_run_still_render() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(render_all(dir.path(), &[], &[]).len(), 6);
    }

    #[test]
    fn every_status_has_its_own_colour() {
        let colours: BTreeSet<(u8, u8, u8)> = STATUS_ORDER
            .iter()
            .map(|s| {
                let RGBColor(r, g, b) = status_colour(s);
                (r, g, b)
            })
            .collect();
        assert_eq!(colours.len(), STATUS_ORDER.len());
        for f in profbench_profilers::Failure::ALL {
            assert!(STATUS_ORDER.contains(&f.to_string().as_str()), "{f}");
        }
    }
}

/// One filled box of a grid chart with centred text (grids are laid out explicitly: categorical
/// axes in plotters would cost more code than they save).
pub(crate) fn grid_box<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    (w, h): (i32, i32),
    fill: RGBColor,
    text: &str,
    size: f64,
) -> Result<(), String> {
    e(area.draw(&Rectangle::new([(x, y), (x + w, y + h)], fill.filled())))?;
    e(area.draw(&Rectangle::new(
        [(x, y), (x + w, y + h)],
        WHITE.stroke_width(1),
    )))?;
    if !text.is_empty() {
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        e(area.draw(&Text::new(
            text.to_string(),
            (x + w / 2, y + h / 2),
            font(size)
                .color(&ink_on(fill))
                .pos(Pos::new(HPos::Center, VPos::Center)),
        )))?;
    }
    Ok(())
}

/// Right-aligned row label, vertically centred on `y`.
pub(crate) fn row_label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    (x, y): (i32, i32),
    size: f64,
) -> Result<(), String> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    e(area.draw(&Text::new(
        text.to_string(),
        (x, y),
        font(size).pos(Pos::new(HPos::Right, VPos::Center)),
    )))?;
    Ok(())
}

/// Centred column label.
pub(crate) fn col_label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    (x, y): (i32, i32),
    style: TextStyle,
) -> Result<(), String> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    e(area.draw(&Text::new(
        text.to_string(),
        (x, y),
        style.pos(Pos::new(HPos::Center, VPos::Center)),
    )))?;
    Ok(())
}

/// Where each legend item goes when wrapping at `width`, relative to the legend's corner.
fn legend_layout(names: &[String], width: i32) -> Vec<(i32, i32)> {
    let (mut x, mut y) = (0, 0);
    names
        .iter()
        .map(|name| {
            let w = 24 + text_width(name, 13.0) as i32 + 18;
            if x + w > width && x > 0 {
                x = 0;
                y += 22;
            }
            let at = (x, y);
            x += w;
            at
        })
        .collect()
}

/// Height a legend of these names takes when wrapped at `width`.
pub(crate) fn legend_height(names: &[String], width: i32) -> i32 {
    legend_layout(names, width)
        .last()
        .map(|l| l.1 + 22)
        .unwrap_or(0)
}

/// A legend of coloured boxes with names, wrapping at `width`; returns the height used.
pub(crate) fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(RGBColor, String)],
    (x0, y0): (i32, i32),
    width: i32,
) -> Result<i32, String> {
    let names: Vec<String> = items.iter().map(|i| i.1.clone()).collect();
    let layout = legend_layout(&names, width - x0);
    for ((colour, name), (dx, dy)) in items.iter().zip(&layout) {
        let (x, y) = (x0 + dx, y0 + dy);
        e(area.draw(&Rectangle::new([(x, y), (x + 16, y + 16)], colour.filled())))?;
        e(area.draw(&Rectangle::new(
            [(x, y), (x + 16, y + 16)],
            RGBColor(120, 120, 120).stroke_width(1),
        )))?;
        e(area.draw(&Text::new(name.clone(), (x + 22, y + 2), font(13.0))))?;
    }
    Ok(legend_height(&names, width - x0))
}

/// Rows of the grid charts: (backend, variant) pairs in profbench's backend order.
pub(crate) fn backend_variants(cells: &[&CellRecord], many: bool) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = cells
        .iter()
        .map(|c| (c.key.backend.clone(), variant_label(c, many)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    rows.sort_by(|a, b| (backend_rank(&a.0), &a.0, &a.1).cmp(&(backend_rank(&b.0), &b.0, &b.1)));
    rows
}

pub(crate) fn row_name((backend, variant): &(String, String), variants: usize) -> String {
    if variants > 1 {
        format!("{backend} ({variant})")
    } else {
        backend.clone()
    }
}

/// Tick values for a log axis over [lo, hi]: the finest "round" ratios that give at most ten
/// ticks (plotters' own log ticks give a single label over the 1×–3× range overheads live in).
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    const LISTS: [&[f64]; 4] = [
        &[
            0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0, 7.0,
            10.0, 15.0, 20.0, 30.0, 50.0, 70.0, 100.0,
        ],
        &[
            0.5, 0.7, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 70.0, 100.0,
            200.0, 300.0, 500.0, 1000.0,
        ],
        &[
            0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
        ],
        &[0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0],
    ];
    let mut last = Vec::new();
    for list in LISTS {
        let t: Vec<f64> = list
            .iter()
            .copied()
            .filter(|v| *v >= lo && *v <= hi)
            .collect();
        if t.len() <= 10 {
            return t;
        }
        last = t;
    }
    last
}

/// `1.5×`, `10×`: ratios as a reader writes them.
pub(crate) fn ratio_label(v: f64) -> String {
    let s = format!("{:.2}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}×")
}
