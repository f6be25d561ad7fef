//! Chart 6: the Ray timeline as profbench's own sampler saw it: one row per worker pid, task
//! spans coloured by remote function, serialization and object-store spans marked beneath.
//!
//! Reads `raw/<launcher>__ray__profbench/profile.json` (the last run's normalised profile).

use super::{e, font, palette, text_width, Draw};
use crate::results::CellRecord;
use plotters::coord::Shift;
use plotters::prelude::*;
use profbench_profilers::profile::Span;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct RayTimeline {
    /// What the chart shows, or why it shows nothing.
    pub source: Result<String, String>,
    /// (pid, spans of that pid), by first activity.
    pub rows: Vec<(u32, Vec<Span>)>,
    /// Task function names, in colour order.
    pub functions: Vec<String>,
    /// The driver's pid, from the truth of the run the profile came from.
    pub driver: Option<u32>,
}

/// Only the spans: serde skips the (large) samples without building them.
#[derive(Deserialize)]
struct SpansOnly {
    #[serde(default)]
    spans: Vec<Span>,
}

type Cached = Option<(PathBuf, std::time::SystemTime, u64, Vec<Span>)>;

/// The matrix redraws after every cell, but the Ray profile only changes when its own cell
/// runs; re-reading a large profile each time would break the one-second budget.
fn read_spans(path: &Path) -> Result<Vec<Span>, String> {
    static CACHE: Mutex<Cached> = Mutex::new(None);
    let meta = std::fs::metadata(path).map_err(|err| format!("{}: {err}", path.display()))?;
    let stamp = (meta.modified().ok(), meta.len());
    if let Ok(cache) = CACHE.lock() {
        if let Some((p, m, l, spans)) = cache.as_ref() {
            if p == path && Some(*m) == stamp.0 && *l == stamp.1 {
                return Ok(spans.clone());
            }
        }
    }
    let bytes = std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?;
    let parsed: SpansOnly =
        serde_json::from_slice(&bytes).map_err(|err| format!("{}: {err}", path.display()))?;
    if let (Ok(mut cache), Some(m)) = (CACHE.lock(), stamp.0) {
        *cache = Some((path.to_path_buf(), m, stamp.1, parsed.spans.clone()));
    }
    Ok(parsed.spans)
}

/// The profile to draw: the `direct` launcher's first, then any other, in the first run folder
/// that has one.
pub fn find_profile(run_dirs: &[PathBuf]) -> Option<PathBuf> {
    for dir in run_dirs {
        let raw = dir.join("raw");
        let Ok(entries) = std::fs::read_dir(&raw) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .ends_with("__ray__profbench")
            })
            .map(|e| e.path().join("profile.json"))
            .filter(|p| p.exists())
            .collect();
        found.sort_by_key(|p| (!p.to_string_lossy().contains("direct__ray__"), p.clone()));
        if let Some(p) = found.into_iter().next() {
            return Some(p);
        }
    }
    None
}

const ROW_H: i32 = 34;

impl RayTimeline {
    pub fn from_run_dirs(run_dirs: &[PathBuf], _cells: &[CellRecord]) -> RayTimeline {
        match find_profile(run_dirs) {
            None => RayTimeline::empty(Err("no profbench Ray profile in this run".into())),
            Some(path) => match read_spans(&path) {
                Err(err) => {
                    RayTimeline::empty(Err(format!("unreadable profbench Ray profile: {err}")))
                }
                Ok(spans) => {
                    let cell = path
                        .parent()
                        .and_then(|p| p.file_name())
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default();
                    let mut t = RayTimeline::from_spans(spans, &cell);
                    t.driver = path.parent().and_then(last_driver_pid);
                    t
                }
            },
        }
    }

    fn empty(source: Result<String, String>) -> RayTimeline {
        RayTimeline {
            source,
            rows: Vec::new(),
            functions: Vec::new(),
            driver: None,
        }
    }

    /// A row's label: which process it is, when the run's truth says.
    fn row_name(&self, pid: u32) -> String {
        match self.driver {
            Some(d) if d == pid => format!("driver {pid}"),
            Some(_) => format!("worker {pid}"),
            None => format!("pid {pid}"),
        }
    }

    pub fn from_spans(spans: Vec<Span>, source: &str) -> RayTimeline {
        let keep = |s: &Span| {
            matches!(
                s.category.as_str(),
                "task" | "serialization" | "object_store"
            ) && s.end >= s.start
                && s.start.is_finite()
                && s.end.is_finite()
        };
        let mut by_pid: BTreeMap<u32, Vec<Span>> = BTreeMap::new();
        for s in spans.into_iter().filter(keep) {
            by_pid.entry(s.pid).or_default().push(s);
        }
        let mut rows: Vec<(u32, Vec<Span>)> = by_pid.into_iter().collect();
        rows.sort_by(|a, b| {
            let first = |v: &Vec<Span>| v.iter().map(|s| s.start).fold(f64::INFINITY, f64::min);
            first(&a.1).total_cmp(&first(&b.1)).then(a.0.cmp(&b.0))
        });
        let functions: Vec<String> = rows
            .iter()
            .flat_map(|(_, v)| {
                v.iter()
                    .filter(|s| s.category == "task")
                    .map(|s| s.name.clone())
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if rows.is_empty() {
            return RayTimeline::empty(Err(format!(
                "the profbench Ray profile ({source}) has no task spans"
            )));
        }
        RayTimeline {
            source: Ok(source.to_string()),
            rows,
            functions,
            driver: None,
        }
    }
}

/// The driver pid in the truth of the cell's last measured profiled run (the run
/// `profile.json` was kept from).
fn last_driver_pid(cell_dir: &Path) -> Option<u32> {
    let last = std::fs::read_dir(cell_dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let n: usize = name.strip_prefix("profiled-")?.parse().ok()?;
            Some((n, e.path()))
        })
        .max_by_key(|(n, _)| *n)?
        .1;
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(last.join("truth.json")).ok()?).ok()?;
    truth
        .get("pid")?
        .as_u64()
        .and_then(|p| u32::try_from(p).ok())
}

/// `__main__.parallel_heavy_loop` → `parallel_heavy_loop`: the module is the script's.
fn short_name(name: &str) -> &str {
    name.strip_prefix("__main__.").unwrap_or(name)
}

impl RayTimeline {
    fn legend_items(&self) -> Vec<(RGBColor, String)> {
        let mut items: Vec<(RGBColor, String)> = self
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| (palette(i), short_name(f).to_string()))
            .collect();
        items.push((RGBColor(30, 30, 30), "serialization".into()));
        items.push((RGBColor(150, 150, 150), "object store".into()));
        items
    }

    fn top(&self) -> i32 {
        let names: Vec<String> = self.legend_items().into_iter().map(|i| i.1).collect();
        40 + super::legend_height(&names, 1184 - 16) + 16
    }
}

impl Draw for RayTimeline {
    fn size(&self) -> (u32, u32) {
        if self.rows.is_empty() {
            return (700, 120);
        }
        (
            1200,
            (self.top() + ROW_H * self.rows.len() as i32 + 70) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        e(root.fill(&WHITE))?;
        let source = match &self.source {
            Ok(s) => s,
            Err(why) => {
                e(root.draw(&Text::new(
                    "Ray timeline (profbench sampler)",
                    (16, 12),
                    font(17.0),
                )))?;
                e(root.draw(&Text::new(
                    why.clone(),
                    (16, 60),
                    font(16.0).color(&RGBColor(90, 90, 90)),
                )))?;
                return Ok(());
            }
        };
        e(root.draw(&Text::new(
            format!(
                "Ray timeline from profbench's sampler ({source}): {} processes, one bar per task",
                self.rows.len()
            ),
            (16, 12),
            font(17.0),
        )))?;
        let ser = RGBColor(30, 30, 30);
        let store = RGBColor(150, 150, 150);
        let mut items: Vec<(RGBColor, String)> = self
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| (palette(i), short_name(f).to_string()))
            .collect();
        items.push((ser, "serialization".into()));
        items.push((store, "object store".into()));
        let used = super::legend(root, &items, (16, 40), 1180)?;
        let (_, body) = root.split_vertically(40 + used + 20);
        let end = self
            .rows
            .iter()
            .flat_map(|(_, v)| v)
            .map(|s| s.end)
            .fold(0.0f64, f64::max)
            .max(1e-3);
        let start = self
            .rows
            .iter()
            .flat_map(|(_, v)| v)
            .map(|s| s.start)
            .fold(f64::INFINITY, f64::min)
            .min(end);
        let n = self.rows.len();
        let label_w = self
            .rows
            .iter()
            .map(|(p, _)| text_width(&self.row_name(*p), 13.0))
            .max()
            .unwrap_or(60)
            + 24;
        let mut chart = e(ChartBuilder::on(&body)
            .margin(10)
            .margin_right(30)
            .x_label_area_size(40)
            .y_label_area_size(label_w)
            .build_cartesian_2d(start..end + (end - start) * 0.02, 0f64..n as f64))?;
        e(chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("seconds since the profile started")
            .x_label_formatter(&|v| format!("{v:.1}"))
            .label_style(font(12.0))
            .axis_desc_style(font(13.0))
            .draw())?;
        // A few pixels at least, so a task of a millisecond still shows its colour.
        let min_task = (end - start) * 0.003;
        let colour_of = |name: &str| {
            self.functions
                .iter()
                .position(|f| f == name)
                .map(palette)
                .unwrap_or(RGBColor(120, 120, 120))
        };
        for (i, (pid, spans)) in self.rows.iter().enumerate() {
            let top = n as f64 - i as f64 - 0.1;
            let mid = top - 0.55;
            let bottom = n as f64 - i as f64 - 0.9;
            let (lx, ly) = chart.backend_coord(&(start, (top + bottom) / 2.0));
            let base = body.get_base_pixel();
            super::row_label(
                &body,
                &self.row_name(*pid),
                (lx - base.0 - 8, ly - base.1),
                13.0,
            )?;
            // Tasks fill the upper part of the row; serialization and object-store spans
            // sit below them, so a task that serializes shows both.
            e(
                chart.draw_series(spans.iter().filter(|s| s.category == "task").map(|s| {
                    Rectangle::new(
                        [(s.start, top), (s.end.max(s.start + min_task), mid)],
                        colour_of(&s.name).filled(),
                    )
                })),
            )?;
            // A white edge on each task, so back-to-back tasks of one function stay countable.
            e(
                chart.draw_series(spans.iter().filter(|s| s.category == "task").map(|s| {
                    Rectangle::new(
                        [(s.start, top), (s.end.max(s.start + min_task), mid)],
                        WHITE.stroke_width(1),
                    )
                })),
            )?;
            e(
                chart.draw_series(spans.iter().filter(|s| s.category != "task").map(|s| {
                    let c = if s.category == "serialization" {
                        ser
                    } else {
                        store
                    };
                    Rectangle::new(
                        [
                            (s.start, mid - 0.05),
                            (s.end.max(s.start + (end - start) * 0.001), bottom),
                        ],
                        c.filled(),
                    )
                })),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(pid: u32, cat: &str, name: &str, start: f64, end: f64) -> Span {
        Span {
            pid,
            tid: 1,
            name: name.into(),
            category: cat.into(),
            start,
            end,
        }
    }

    #[test]
    fn rows_follow_first_activity_and_skip_other_spans() {
        let t = RayTimeline::from_spans(
            vec![
                span(20, "task", "heavy", 2.0, 3.0),
                span(10, "task", "light", 1.0, 1.5),
                span(10, "serialization", "serialize", 1.5, 1.6),
                span(30, "function", "main", 0.0, 9.0),
            ],
            "direct__ray__profbench",
        );
        assert_eq!(t.rows.iter().map(|r| r.0).collect::<Vec<_>>(), [10, 20]);
        assert_eq!(t.functions, ["heavy", "light"]);
        assert!(t.source.is_ok());
    }

    #[test]
    fn missing_profile_says_so() {
        let t = RayTimeline::from_run_dirs(&[PathBuf::from("/nonexistent")], &[]);
        assert_eq!(t.source, Err("no profbench Ray profile in this run".into()));
    }

    #[test]
    fn profile_is_found_and_read_from_the_raw_folder() {
        let dir = tempfile::tempdir().unwrap();
        let cell = dir.path().join("raw/uv__ray__profbench");
        std::fs::create_dir_all(&cell).unwrap();
        let json = serde_json::json!({"clock": "wall", "frames": [], "spans": [
            {"pid": 7, "tid": 1, "name": "heavy", "category": "task", "start": 0.5, "end": 1.0}
        ]});
        std::fs::write(cell.join("profile.json"), json.to_string()).unwrap();
        for (run, pid) in [
            ("profiled-0-warmup", 5),
            ("profiled-1", 6),
            ("profiled-2", 9),
        ] {
            std::fs::create_dir_all(cell.join(run)).unwrap();
            std::fs::write(
                cell.join(run).join("truth.json"),
                format!("{{\"pid\": {pid}}}"),
            )
            .unwrap();
        }
        let t = RayTimeline::from_run_dirs(&[dir.path().to_path_buf()], &[]);
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.source.as_deref(), Ok("uv__ray__profbench"));
        // The last measured run's driver names the rows.
        assert_eq!(t.driver, Some(9));
        assert_eq!(
            (t.row_name(9), t.row_name(7)),
            ("driver 9".into(), "worker 7".into())
        );
    }
}
