//! `--suite scalene-osdi23`: the pyperformance benchmarks of the Scalene paper's overhead
//! table, and the paper's published median slowdowns beside the ones measured here with
//! Spearman's rank correlation. The published numbers are data of the paper, in
//! `scalene_osdi23.json` with its citation.

use crate::results::{CellRecord, Status};
use serde::Deserialize;
use std::collections::BTreeMap;

const DATA: &str = include_str!("scalene_osdi23.json");

#[derive(Debug, Deserialize)]
pub struct Paper {
    pub citation: String,
    pub python: String,
    /// The paper's benchmark name → pyperformance's.
    pub benchmarks: BTreeMap<String, String>,
    pub median_slowdown: Vec<PaperRow>,
}

#[derive(Debug, Deserialize)]
pub struct PaperRow {
    pub profiler: String,
    pub paper: f64,
    /// The backend here in the same configuration, if there is one.
    pub backend: Option<String>,
}

pub fn paper() -> Paper {
    serde_json::from_str(DATA).expect("scalene_osdi23.json is valid (tested)")
}

/// One profiler: the paper's median slowdown and ours, both ways (median over the benchmarks
/// of each cell's median ratio), with how many benchmarks ours stands on.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub profiler: String,
    pub paper: f64,
    pub backend: Option<String>,
    /// The paper's way: the time the benchmark itself reports (its timed loops).
    pub own: Option<f64>,
    /// The whole process, start-up and tear-down included.
    pub whole: Option<f64>,
    pub benchmarks: usize,
}

/// The median of finite values (both callers pass medians and distances, always finite).
fn median(v: Vec<f64>) -> Option<f64> {
    crate::stats::Sample::new(v).map(|s| s.median())
}

/// The table, when the cells hold any of the paper's benchmarks.
pub fn rows(cells: &[CellRecord]) -> Option<Vec<Row>> {
    let p = paper();
    let ours: Vec<&String> = p.benchmarks.values().collect();
    if !cells.iter().any(|c| ours.contains(&&c.key.workload)) {
        return None;
    }
    Some(
        p.median_slowdown
            .iter()
            .map(|r| {
                let measured: Vec<&CellRecord> = cells
                    .iter()
                    .filter(|c| {
                        Some(&c.key.backend) == r.backend.as_ref()
                            && c.key.launcher == "direct"
                            && ours.contains(&&c.key.workload)
                            && c.status == Status::Ok
                    })
                    .filter(|c| c.overhead.as_ref().is_some_and(|o| o.wall.is_some()))
                    .collect();
                let of = |f: fn(&crate::results::Overhead) -> Option<f64>| {
                    median(
                        measured
                            .iter()
                            .filter_map(|c| f(c.overhead.as_ref()?))
                            .collect(),
                    )
                };
                Row {
                    profiler: r.profiler.clone(),
                    paper: r.paper,
                    backend: r.backend.clone(),
                    benchmarks: measured.len(),
                    own: of(|o| o.own_time.map(|e| e.median)),
                    whole: of(|o| o.wall.map(|e| e.median)),
                }
            })
            .collect(),
    )
}

/// Ranks from 1, ties sharing their mean rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation (Pearson's over ranks, ties averaged); None below 3 pairs or
/// when one side is constant.
pub fn spearman(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 3 {
        return None;
    }
    let a = ranks(&pairs.iter().map(|p| p.0).collect::<Vec<_>>());
    let b = ranks(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

const TITLE: &str = "Beside the Scalene paper (OSDI'23), Table 3";
const HEADER: [&str; 7] = [
    "profiler (paper)",
    "paper",
    "backend here",
    "here, the benchmark's own time",
    "here ÷ paper",
    "here, whole process",
    "benchmarks",
];

/// The table's cells, one row per profiler of the paper.
fn table(rows: &[Row]) -> Vec<[String; 7]> {
    let times = |x: Option<f64>| x.map_or_else(|| "–".into(), |x| format!("{x:.2}×"));
    rows.iter()
        .map(|r| {
            [
                r.profiler.clone(),
                format!("{:.2}×", r.paper),
                r.backend
                    .clone()
                    .unwrap_or_else(|| "none in the same configuration".into()),
                times(r.own),
                r.own
                    .map_or_else(|| "–".into(), |o| format!("{:.2}", o / r.paper)),
                times(r.whole),
                r.benchmarks.to_string(),
            ]
        })
        .collect()
}

/// What the table is, with Spearman's rank correlation both ways.
fn summary(rows: &[Row]) -> String {
    let p = paper();
    let rho = |f: fn(&Row) -> Option<f64>| {
        let pairs: Vec<(f64, f64)> = rows.iter().filter_map(|r| Some((r.paper, f(r)?))).collect();
        match spearman(&pairs) {
            Some(rho) => format!("{rho:.2} over {} profilers", pairs.len()),
            None => format!(
                "not computed ({} profiler(s) measured; 3 are needed)",
                pairs.len()
            ),
        }
    };
    format!(
        "Median slowdown over the paper's benchmarks: the paper's (CPython {}, the time each benchmark reports) and ours, median over benchmarks of each cell's median ratio (direct launcher), from the benchmark's own time as the paper did and from the whole process. Spearman's rank correlation with the paper: {} (own time), {} (whole process). Source: {}",
        p.python,
        rho(|r| r.own),
        rho(|r| r.whole),
        p.citation
    )
}

/// The Markdown section (empty when no paper benchmark was run).
pub fn markdown(cells: &[CellRecord]) -> String {
    let Some(rows) = rows(cells) else {
        return String::new();
    };
    let mut out = format!(
        "\n## {TITLE}\n\n{}\n\n| {} |\n|{}\n",
        summary(&rows),
        HEADER.join(" | "),
        "---|".repeat(HEADER.len())
    );
    for row in table(&rows) {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

/// The HTML section, text escaped with `esc` (empty when no paper benchmark was run).
pub fn html(cells: &[CellRecord], esc: fn(&str) -> String) -> String {
    let Some(rows) = rows(cells) else {
        return String::new();
    };
    let cells_of = |tag: &str, row: &[String]| -> String {
        row.iter()
            .map(|c| format!("<{tag}>{}</{tag}>", esc(c)))
            .collect()
    };
    let head = cells_of("th", &HEADER.map(String::from));
    let body: Vec<String> = table(&rows)
        .iter()
        .map(|r| format!("<tr>{}</tr>", cells_of("td", r)))
        .collect();
    format!(
        "<h2 id=\"osdi23\">{}</h2>\n<p>{}</p>\n<table><thead><tr>{head}</tr></thead><tbody>\n{}\n</tbody></table>\n",
        esc(TITLE),
        esc(&summary(&rows)),
        body.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_papers_data_reads_and_names_real_benchmarks() {
        let p = paper();
        assert_eq!(p.benchmarks.len(), 10);
        assert_eq!(p.median_slowdown.len(), 11);
        assert!(p.citation.contains("OSDI"));
        let known: Vec<String> = profbench_profilers::all_backends()
            .iter()
            .map(|b| b.name().to_string())
            .collect();
        for r in &p.median_slowdown {
            if let Some(b) = &r.backend {
                assert!(known.contains(b), "{b} is not a backend");
            }
        }
    }

    #[test]
    fn the_table_gives_both_ways_from_measured_cells() {
        let dir = crate::results::RunDir {
            root: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("results/2026-12-06-scalene-osdi23"),
        };
        let (cells, _) = dir.read_cells();
        let rows = rows(&cells).unwrap();
        let spy = rows.iter().find(|r| r.profiler == "py-spy").unwrap();
        assert!(spy.benchmarks >= 1, "{spy:?}");
        assert!(spy.own.is_some() && spy.whole.is_some(), "{spy:?}");
        let md = markdown(&cells);
        assert!(
            md.contains("here ÷ paper") && md.contains("(own time)"),
            "{md}"
        );
        let html = html(&cells, |s| s.replace('<', "&lt;"));
        assert!(html.contains("<th>here, whole process</th>"), "{html}");
    }

    #[test]
    fn spearman_is_one_for_the_same_order_and_handles_ties() {
        assert_eq!(
            spearman(&[(1.0, 10.0), (2.0, 20.0), (3.0, 35.0)]),
            Some(1.0)
        );
        assert_eq!(spearman(&[(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]), Some(-1.0));
        let tied = spearman(&[(1.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]).unwrap();
        assert!(tied > 0.9 && tied < 1.0, "{tied}");
        assert_eq!(spearman(&[(1.0, 1.0), (2.0, 2.0)]), None);
    }
}
