//! Exporters: one file per format, all fed the same finished cells. Adding a format is one
//! file implementing `Exporter`.

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod readme_table;
pub mod self_time;

use crate::actionability::Actionability;
use crate::cost_split::CostSplit;
use crate::plot::Chart;
use crate::results::{CellRecord, RunInfo};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Why an exporter could not render its file.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing {file}: {source}")]
    Csv {
        file: &'static str,
        #[source]
        source: ::csv::Error,
    },
    #[error("writing {file}: {source}")]
    Json {
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("writing {file}: the text is not UTF-8 ({source})")]
    Utf8 {
        file: &'static str,
        #[source]
        source: std::string::FromUtf8Error,
    },
}

pub trait Exporter {
    /// File name written inside the run folder.
    fn file_name(&self) -> &'static str;
    fn render(&self, info: &RunInfo, cells: &[CellRecord]) -> Result<String, ExportError>;
    /// Formats that show the charts (HTML) override this; the others ignore the charts.
    fn render_with_charts(
        &self,
        info: &RunInfo,
        cells: &[CellRecord],
        _charts: &[Chart],
    ) -> Result<String, ExportError> {
        self.render(info, cells)
    }
}

pub fn exporters() -> Vec<Box<dyn Exporter>> {
    vec![
        Box::new(markdown::Markdown),
        Box::new(csv::Csv),
        Box::new(json::Json),
        Box::new(html::Html),
        Box::new(readme_table::ReadmeTable),
    ]
}

/// Row order shared by the machine-readable exports: workload, launcher, the baseline first,
/// then backends in profbench's order, then platform.
pub fn table_order(cells: &[CellRecord]) -> Vec<&CellRecord> {
    let mut sorted: Vec<&CellRecord> = cells.iter().collect();
    sorted.sort_by(|a, b| {
        let k = |c: &CellRecord| {
            (
                c.key.workload.clone(),
                c.key.launcher.clone(),
                !c.key.is_baseline(),
                crate::plot::backend_rank(&c.key.backend),
                c.key.backend.clone(),
                c.platform_id.clone(),
            )
        };
        k(a).cmp(&k(b))
    });
    sorted
}

/// A cost split in words: `0.02 s + 1.3% of run time, 130 µs per sample (lengths 1, 3)`.
pub fn cost_split_text(s: &CostSplit) -> String {
    let lengths: Vec<String> = s.points.iter().map(|p| p.scale.to_string()).collect();
    format!(
        "{:.2} s + {:.1}% of run time{} (lengths {})",
        s.fixed_s,
        s.running * 100.0,
        s.per_sample_us
            .map(|u| format!(", {u:.0} µs per sample"))
            .unwrap_or_default(),
        lengths.join(", ")
    )
}

/// An actionability verdict in words.
pub fn actionability_text(a: &Actionability) -> String {
    format!(
        "{}: +{:.2} s true, +{:.2} s attributed ({:+.0}%); {} moved {:.2} s",
        a.phase,
        a.truth_growth_s,
        a.attributed_growth_s,
        a.error_pct,
        a.other_phase.as_deref().unwrap_or("no other phase"),
        a.other_drift_s
    )
}

/// A function bias in words: `many_calls/inline_work 3.50× vs 1.42× unprofiled (+147%)`.
pub fn function_bias_text(b: &crate::function_bias::FunctionBias) -> String {
    format!(
        "{}/{} {:.2}× vs {:.2}× unprofiled ({:+.0}%)",
        b.calls, b.inline, b.attributed_ratio, b.truth_ratio, b.bias_pct
    )
}

pub const EXTRAS_LEGEND: &str = "Cost: extra seconds per run = fixed + running × the workload's own seconds, a line through the median extra seconds at each length (`--lengths`). Actionability: one more profiled run with known work added to one phase; the growth the profiler attributes to that phase (in truth's units) against the truth's growth, and the other phase that moved most. Function bias: the call-heavy phase's time over the inline one's (same work), as the profiler attributes it, against the same ratio in the baseline runs (the program without the profiler).";

/// Workload, backend, launcher, cost split, actionability and function bias in words, for
/// the cells that have any of the last three.
pub fn extras_rows(cells: &[&CellRecord]) -> Vec<[String; 6]> {
    let or_dash = |s: Option<String>| s.unwrap_or_else(|| "–".into());
    cells
        .iter()
        .filter(|c| {
            c.cost_split.is_some() || c.actionability.is_some() || c.function_bias.is_some()
        })
        .map(|c| {
            [
                c.key.workload.clone(),
                c.key.backend.clone(),
                c.key.launcher.clone(),
                or_dash(c.cost_split.as_ref().map(cost_split_text)),
                or_dash(c.actionability.as_ref().map(actionability_text)),
                or_dash(c.function_bias.as_ref().map(function_bias_text)),
            ]
        })
        .collect()
}

/// Everything said about a cell's numbers: the profiler's own warnings, the statistics'
/// warnings, and why an optional part is missing.
/// The planned cells that have no record ("workload / backend / launcher"): the budget was
/// spent or the run interrupted before them.
pub fn unmeasured(infos: &[RunInfo], cells: &[CellRecord]) -> Vec<String> {
    infos
        .iter()
        .flat_map(|i| &i.plan)
        .filter(|k| !cells.iter().any(|c| &c.key == *k))
        .map(|k| format!("{} / {} / {}", k.workload, k.backend, k.launcher))
        .collect()
}

pub fn cell_warnings(c: &CellRecord) -> Vec<String> {
    let mut said = c.profile_warnings.clone();
    if let Some(o) = &c.overhead {
        said.extend(o.warning_text.iter().cloned());
    }
    said.extend(c.notes.iter().cloned());
    said
}

/// Rewrites every report of a run folder from its finished cells, and its charts under
/// `charts/`; returns the paths written. A chart that cannot be drawn is skipped with a warning.
pub fn write_all(dir: &Path, info: &RunInfo, cells: &[CellRecord]) -> Result<Vec<PathBuf>> {
    let charts = crate::plot::render_all(dir, &[dir.to_path_buf()], cells);
    let mut written = Vec::new();
    for e in exporters() {
        let path = dir.join(e.file_name());
        let text = e.render_with_charts(info, cells, &charts)?;
        crate::results::write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    for c in charts {
        written.push(c.svg_path);
        written.push(c.png_path);
    }
    Ok(written)
}
