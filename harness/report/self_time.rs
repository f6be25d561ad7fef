//! The self-time section of the reports (comparison.md, comparison.csv, report.html) and the
//! program's own timing beside the whole-process wall (`--suite` benchmarks).

use crate::results::CellRecord;
use crate::self_time::{self, SelfTimeRow};
use crate::stats::Estimate;

/// Column names of the self-time and own-timing columns, appended to comparison.csv.
pub const CSV_COLUMNS: [&str; 13] = [
    "self_time_distance_pp",
    "self_time_distance_min_pp",
    "self_time_distance_max_pp",
    "self_time_noise_floor_pp",
    "self_time_floor_at_cell_samples_pp",
    "self_time_pooled_distance_pp",
    "self_time_pooled_floor_pp",
    "self_time_pooled_noise_pp",
    "self_time_nearest_backend",
    "self_time_nearest_pooled_pp",
    "self_time_nearest_noise_pp",
    "flagged_samples_share",
    "own_time",
];

fn num(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map(|v| format!("{v}"))
        .unwrap_or_default()
}

/// This cell's values for `CSV_COLUMNS`.
pub fn csv_values(c: &CellRecord, rows: &[SelfTimeRow]) -> Vec<String> {
    let r = row_of(c, rows);
    let nearest = r.and_then(|r| r.nearest.as_ref());
    vec![
        num(r.and_then(|r| r.distance_pp)),
        num(r.and_then(|r| r.distance_min_pp)),
        num(r.and_then(|r| r.distance_max_pp)),
        num(r.and_then(|r| r.noise_floor_pp)),
        num(r.and_then(|r| r.sampled_floor_pp)),
        num(r.and_then(|r| r.pooled_pp)),
        num(r.and_then(|r| r.pooled_floor_pp)),
        num(r.and_then(|r| r.pooled_noise_pp)),
        nearest.map(|n| n.backend.clone()).unwrap_or_default(),
        num(nearest.map(|n| n.pooled_pp)),
        num(nearest.map(|n| n.noise_pp)),
        num(r.and_then(|r| r.flagged_share)),
        num(own_time(c).map(|e| e.median)),
    ]
}

fn row_of<'a>(c: &CellRecord, rows: &'a [SelfTimeRow]) -> Option<&'a SelfTimeRow> {
    rows.iter().find(|r| {
        r.workload == c.key.workload
            && r.launcher == c.key.launcher
            && r.backend == c.key.backend
            && r.platform_id == c.platform_id
    })
}

fn own_time(c: &CellRecord) -> Option<Estimate> {
    c.overhead.as_ref().and_then(|o| o.own_time)
}

/// Rows in words: workload, backend, launcher, distance, noise floor, pooled, nearest other
/// row, flagged, top five.
pub fn text_rows(rows: &[SelfTimeRow]) -> Vec<[String; 9]> {
    rows.iter()
        .map(|r| {
            [
                r.workload.clone(),
                r.backend.clone(),
                r.launcher.clone(),
                self_time::distance_text(r),
                match (r.noise_floor_pp, r.sampled_floor_pp) {
                    (Some(f), Some(at)) if at > f + 0.05 => {
                        format!("{f:.1} pp ({at:.1} pp at this cell's samples per run)")
                    }
                    (Some(f), _) => format!("{f:.1} pp"),
                    _ => "–".into(),
                },
                match (r.pooled_pp, r.pooled_noise_pp, r.pooled_floor_pp) {
                    (Some(d), Some(n), Some(f)) => {
                        format!("{d:.1} pp (noise ≈ {n:.1} pp; reference halves {f:.1} pp)")
                    }
                    (Some(d), None, Some(f)) => format!("{d:.1} pp (reference halves {f:.1} pp)"),
                    (None, _, Some(f)) => format!("halves {f:.1} pp"),
                    _ => "–".into(),
                },
                match &r.nearest {
                    Some(n) => format!(
                        "{} {:.1} pp (noise ≈ {:.1} pp)",
                        n.backend, n.pooled_pp, n.noise_pp
                    ),
                    None => "–".into(),
                },
                self_time::flagged_text(r),
                self_time::top_text(r),
            ]
        })
        .collect()
}

pub const OWN_TIME_LEGEND: &str = "The benchmark's own timing (pyperf's timed loops, without start-up and imports) beside the whole process's wall time: seconds for `none`, else the profiled/baseline ratio over the same pairs, median [95% interval].";

/// Own timing in words: workload, backend, launcher, own time, whole-process wall.
pub fn own_time_rows(cells: &[&CellRecord]) -> Vec<[String; 5]> {
    let fmt = |e: &Estimate, seconds: bool| {
        let unit = if seconds { " s" } else { "×" };
        format!(
            "{:.3}{unit} [{:.3}, {:.3}]",
            e.median, e.interval.low, e.interval.high
        )
    };
    cells
        .iter()
        .filter_map(|c| {
            let own = own_time(c)?;
            let seconds = c.key.backend == "none";
            let wall = c
                .overhead
                .as_ref()
                .and_then(|o| o.wall)
                .map(|w| fmt(&w, seconds))
                .unwrap_or_else(|| "–".into());
            Some([
                c.key.workload.clone(),
                c.key.backend.clone(),
                c.key.launcher.clone(),
                fmt(&own, seconds),
                wall,
            ])
        })
        .collect()
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The Markdown sections (empty when no cell has self-time data or own timing).
pub fn markdown(cells: &[CellRecord]) -> String {
    let mut out = String::new();
    let rows = self_time::rows(cells);
    if !rows.is_empty() {
        out.push_str(&format!(
            "\n## Self time against {}\n\n{}\n\n| workload | backend | launcher | distance to reference | noise floor | pooled distance | nearest other row, pooled | flagged samples | top 5 functions: share (reference's) |\n|---|---|---|---|---|---|---|---|---|\n",
            self_time::REFERENCE,
            self_time::LEGEND
        ));
        for r in text_rows(&rows) {
            let cells: Vec<String> = r.iter().map(|t| md_escape(t)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
    out.push_str(&crate::suite::osdi23::markdown(cells));
    let sorted = crate::report::table_order(cells);
    let own = own_time_rows(&sorted);
    if !own.is_empty() {
        out.push_str(&format!(
            "\n## The program's own timing\n\n{OWN_TIME_LEGEND}\n\n| workload | backend | launcher | own timing | whole process (wall) |\n|---|---|---|---|---|\n"
        ));
        for r in own {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
    }
    out
}

/// The HTML sections, text escaped with `esc`.
pub fn html(cells: &[CellRecord], esc: fn(&str) -> String) -> String {
    let table = |head: &[&str], rows: Vec<Vec<String>>| {
        let head: String = head
            .iter()
            .map(|h| format!("<th>{}</th>", esc(h)))
            .collect();
        let body: Vec<String> = rows
            .iter()
            .map(|r| {
                let tds: String = r.iter().map(|t| format!("<td>{}</td>", esc(t))).collect();
                format!("<tr>{tds}</tr>")
            })
            .collect();
        format!(
            "<table><thead><tr>{head}</tr></thead><tbody>\n{}\n</tbody></table>",
            body.join("\n")
        )
    };
    let mut out = String::new();
    let rows = self_time::rows(cells);
    if !rows.is_empty() {
        out.push_str(&format!(
            "<h2 id=\"self-time\">Self time against {}</h2>\n<p>{}</p>\n{}\n",
            esc(self_time::REFERENCE),
            esc(self_time::LEGEND),
            table(
                &[
                    "workload",
                    "backend",
                    "launcher",
                    "distance to reference",
                    "noise floor",
                    "pooled distance",
                    "nearest other row, pooled",
                    "flagged samples",
                    "top 5 functions: share (reference's)",
                ],
                text_rows(&rows).into_iter().map(Vec::from).collect()
            )
        ));
    }
    out.push_str(&crate::suite::osdi23::html(cells, esc));
    let sorted = crate::report::table_order(cells);
    let own = own_time_rows(&sorted);
    if !own.is_empty() {
        out.push_str(&format!(
            "<h2 id=\"own-time\">The program's own timing</h2>\n<p>{}</p>\n{}\n",
            esc(OWN_TIME_LEGEND),
            table(
                &[
                    "workload",
                    "backend",
                    "launcher",
                    "own timing",
                    "whole process (wall)"
                ],
                own.into_iter().map(Vec::from).collect()
            )
        ));
    }
    out
}
