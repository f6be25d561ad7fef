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

/// One profiler: the paper's median slowdown and ours (median over the benchmarks of each
/// cell's median wall ratio), with how many benchmarks ours stands on.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub profiler: String,
    pub paper: f64,
    pub backend: Option<String>,
    pub ours: Option<f64>,
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
                let ratios: Vec<f64> = cells
                    .iter()
                    .filter(|c| {
                        Some(&c.key.backend) == r.backend.as_ref()
                            && c.key.launcher == "direct"
                            && ours.contains(&&c.key.workload)
                            && c.status == Status::Ok
                    })
                    .filter_map(|c| c.overhead.as_ref()?.wall.map(|w| w.median))
                    .collect();
                Row {
                    profiler: r.profiler.clone(),
                    paper: r.paper,
                    backend: r.backend.clone(),
                    benchmarks: ratios.len(),
                    ours: median(ratios),
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

/// The Markdown section (empty when no paper benchmark was run).
pub fn markdown(cells: &[CellRecord]) -> String {
    let Some(rows) = rows(cells) else {
        return String::new();
    };
    let p = paper();
    let mut out = format!(
        "\n## Beside the Scalene paper (OSDI'23), Table 3\n\nMedian slowdown over the paper's benchmarks: the paper's (CPython {}) and ours (median over benchmarks of each cell's median wall ratio, `direct` launcher). Source: {}\n\n| profiler (paper) | paper | backend here | here | benchmarks |\n|---|---|---|---|---|\n",
        p.python, p.citation
    );
    for r in &rows {
        out.push_str(&format!(
            "| {} | {:.2}× | {} | {} | {} |\n",
            r.profiler,
            r.paper,
            r.backend
                .as_deref()
                .unwrap_or("none in the same configuration"),
            r.ours
                .map(|o| format!("{o:.2}×"))
                .unwrap_or_else(|| "–".into()),
            r.benchmarks
        ));
    }
    let pairs: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.paper, r.ours?)))
        .collect();
    out.push_str(&match spearman(&pairs) {
        Some(rho) => format!(
            "\nSpearman's rank correlation, paper vs here, over the {} profilers measured here: {rho:.2}.\n",
            pairs.len()
        ),
        None => format!(
            "\nSpearman's rank correlation: not computed ({} profiler(s) measured here; 3 are needed).\n",
            pairs.len()
        ),
    });
    out
}

/// The HTML section, text escaped with `esc` (empty when no paper benchmark was run).
pub fn html(cells: &[CellRecord], esc: fn(&str) -> String) -> String {
    let Some(rows) = rows(cells) else {
        return String::new();
    };
    let p = paper();
    let body: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "<tr><td>{}</td><td>{:.2}×</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.profiler),
                r.paper,
                esc(r
                    .backend
                    .as_deref()
                    .unwrap_or("none in the same configuration")),
                r.ours
                    .map(|o| format!("{o:.2}×"))
                    .unwrap_or_else(|| "–".into()),
                r.benchmarks
            )
        })
        .collect();
    let pairs: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.paper, r.ours?)))
        .collect();
    let rho = spearman(&pairs)
        .map(|r| format!("{r:.2} over {} profilers", pairs.len()))
        .unwrap_or_else(|| {
            format!(
                "not computed ({} profiler(s) measured; 3 are needed)",
                pairs.len()
            )
        });
    format!(
        "<h2 id=\"osdi23\">Beside the Scalene paper (OSDI'23), Table 3</h2>\n<p>Median slowdown over the paper's benchmarks: the paper's (CPython {}) and ours (median over benchmarks of each cell's median wall ratio, direct launcher). Spearman's rank correlation: {}. Source: {}</p>\n<table><thead><tr><th>profiler (paper)</th><th>paper</th><th>backend here</th><th>here</th><th>benchmarks</th></tr></thead><tbody>\n{}\n</tbody></table>\n",
        esc(&p.python),
        esc(&rho),
        esc(&p.citation),
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
