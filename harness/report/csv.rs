//! `comparison.csv`: one row per cell, every number in its own column, for spreadsheets and
//! pandas. Columns are documented in docs/results-schema.md.

use super::{table_order, ExportError, Exporter};
use crate::results::{CellRecord, RunInfo, Status};
use crate::stats::Estimate;

pub struct Csv;

pub const COLUMNS: [&str; 51] = [
    "platform_id",
    "workload",
    "backend",
    "launcher",
    "backend_version",
    "backend_description",
    "status",
    "error_first_line",
    "error_last_line",
    "pairs",
    "baseline_wall_s",
    "baseline_wall_s_low",
    "baseline_wall_s_high",
    "wall_ratio",
    "wall_ratio_low",
    "wall_ratio_high",
    "wall_coverage",
    "wall_noisy",
    "cpu_ratio",
    "cpu_ratio_low",
    "cpu_ratio_high",
    "rss_ratio",
    "rss_ratio_low",
    "rss_ratio_high",
    "accuracy_clock",
    "mae_pp",
    "worst_phase",
    "worst_pp",
    "samples",
    "sampling_error_pp",
    "accuracy_note",
    "output_bytes",
    "postprocess_s",
    "warnings",
    "schema",
    "started",
    "finished",
    "checks",
    "rate_hz",
    "asked_hz",
    "missed_samples",
    "other_load_cores",
    "fixed_cost_s",
    "running_cost",
    "per_sample_us",
    "lengths",
    "actionability_phase",
    "actionability_error_pct",
    "actionability_other_drift_s",
    "function_bias_pct",
    "notes",
];

fn num(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map(|v| format!("{v}"))
        .unwrap_or_default()
}

fn est3(e: Option<Estimate>) -> [String; 3] {
    [
        num(e.map(|e| e.median)),
        num(e.map(|e| e.interval.low)),
        num(e.map(|e| e.interval.high)),
    ]
}

/// First and last non-empty lines of an error: the first says what was being done, the last
/// (in a traceback) what went wrong.
pub fn first_last_lines(error: &str) -> (String, String) {
    let mut lines = error.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default().to_string();
    let last = lines
        .next_back()
        .map(str::to_string)
        .unwrap_or_else(|| first.clone());
    (first, last)
}

/// One record in `COLUMNS` order.
pub fn record(c: &CellRecord) -> Vec<String> {
    let (status, first, last) = match &c.status {
        Status::Ok => ("ok".to_string(), String::new(), String::new()),
        Status::Failed { category, error } => {
            let (f, l) = first_last_lines(error);
            (category.to_string(), f, l)
        }
    };
    let o = c.overhead.as_ref();
    let wall = o.and_then(|o| o.wall);
    let baseline = c.key.is_baseline();
    let (base, ratio) = if baseline {
        (est3(wall), est3(None))
    } else {
        (est3(None), est3(wall))
    };
    let a = c.accuracy.as_ref();
    let checks = if matches!(c.status, Status::Failed { .. }) && !c.key.is_baseline() {
        super::markdown::NOT_RUN.to_string()
    } else {
        crate::plot::checks::checks_of(c)
            .iter()
            .map(|k| format!("{}:{}", k.axis, k.verdict.word()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut warnings: Vec<String> = c.profile_warnings.clone();
    warnings.extend(o.map(|o| o.warning_text.clone()).unwrap_or_default());
    let mut r = vec![
        c.platform_id.clone(),
        c.key.workload.clone(),
        c.key.backend.clone(),
        c.key.launcher.clone(),
        c.backend_version.clone().unwrap_or_default(),
        c.backend_description.clone(),
        status,
        first,
        last,
        wall.map(|w| w.n.to_string()).unwrap_or_else(|| "0".into()),
    ];
    r.extend(base);
    r.extend(ratio);
    r.push(num(wall.map(|w| w.interval.coverage)));
    r.push(wall.map(|w| w.is_noisy().to_string()).unwrap_or_default());
    r.extend(est3(o.and_then(|o| o.cpu)));
    r.extend(est3(o.and_then(|o| o.peak_rss)));
    r.push(
        a.map(|a| format!("{:?}", a.clock).to_lowercase())
            .unwrap_or_default(),
    );
    r.push(num(a.map(|a| a.mae_pp)));
    r.push(a.map(|a| a.worst_phase.clone()).unwrap_or_default());
    r.push(num(a.map(|a| a.worst_pp)));
    r.push(
        a.and_then(|a| a.samples)
            .map(|s| s.to_string())
            .unwrap_or_default(),
    );
    r.push(num(a.and_then(|a| a.sampling_error_pp)));
    r.push(c.accuracy_note.clone().unwrap_or_default());
    r.push(c.output_bytes.map(|b| b.to_string()).unwrap_or_default());
    r.push(num(c.postprocess_s));
    r.push(warnings.join("; "));
    r.push(c.schema.to_string());
    r.push(c.started.clone());
    r.push(c.finished.clone());
    r.push(checks);
    r.push(num(a.and_then(|a| a.rate_hz)));
    r.push(num(a.and_then(|a| a.asked_hz)));
    r.push(
        a.and_then(|a| a.missed_samples)
            .map(|m| m.to_string())
            .unwrap_or_default(),
    );
    r.push(num(o.and_then(|o| o.other_load_cores)));
    let split = c.cost_split.as_ref();
    r.push(num(split.map(|s| s.fixed_s)));
    r.push(num(split.map(|s| s.running)));
    r.push(num(split.and_then(|s| s.per_sample_us)));
    r.push(
        split
            .map(|s| {
                s.points
                    .iter()
                    .map(|p| p.scale.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
    );
    let act = c.actionability.as_ref();
    r.push(act.map(|a| a.phase.clone()).unwrap_or_default());
    r.push(num(act.map(|a| a.error_pct)));
    r.push(num(act.map(|a| a.other_drift_s)));
    r.push(num(c.function_bias.as_ref().map(|b| b.bias_pct)));
    r.push(c.notes.join("; "));
    r
}

/// The CSV of any set of cells (one run, or several merged: `platform_id` tells them apart).
pub fn render_cells(cells: &[CellRecord]) -> Result<String, ExportError> {
    let file = "comparison.csv";
    let csv_error = |source| ExportError::Csv { file, source };
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let header = COLUMNS.iter().chain(super::self_time::CSV_COLUMNS.iter());
    w.write_record(header).map_err(csv_error)?;
    let self_time = crate::self_time::rows(cells);
    for c in table_order(cells) {
        let mut r = record(c);
        r.extend(super::self_time::csv_values(c, &self_time));
        w.write_record(r).map_err(csv_error)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv_error(e.into_error().into()))?;
    String::from_utf8(bytes).map_err(|source| ExportError::Utf8 { file, source })
}

impl Exporter for Csv {
    fn file_name(&self) -> &'static str {
        "comparison.csv"
    }

    fn render(&self, _info: &RunInfo, cells: &[CellRecord]) -> Result<String, ExportError> {
        render_cells(cells)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::testdata;

    #[test]
    fn one_row_per_cell_with_every_column() {
        let cells = testdata::run();
        let text = render_cells(&cells).unwrap();
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            r.headers().unwrap().len(),
            COLUMNS.len() + super::super::self_time::CSV_COLUMNS.len()
        );
        let rows: Vec<::csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), cells.len());
        let col = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap();
        let base = rows.iter().find(|r| &r[col("backend")] == "none").unwrap();
        assert_eq!(&base[col("baseline_wall_s")], "5");
        assert_eq!(&base[col("wall_ratio")], "");
        let failed = rows
            .iter()
            .find(|r| &r[col("status")] == "permission denied")
            .unwrap();
        assert_eq!(
            &failed[col("error_first_line")],
            "ptrace: Operation not permitted"
        );
        let cp = rows
            .iter()
            .find(|r| &r[col("backend")] == "cprofile" && &r[col("workload")] == "single")
            .unwrap();
        assert_eq!(&cp[col("mae_pp")], "0.3");
        assert_eq!(&cp[col("wall_ratio")], "1.6");
    }

    #[test]
    fn error_lines_skip_blanks() {
        assert_eq!(
            first_last_lines("\n a \n\n b\nc \n"),
            ("a".into(), "c".into())
        );
        assert_eq!(first_last_lines("only"), ("only".into(), "only".into()));
    }
}
