//! `comparison.md`: backend × workload with status, overhead and accuracy, ready to paste.

use super::Exporter;
use crate::results::{CellRecord, RunInfo, Status};
use crate::stats::Estimate;
use std::fmt::Write;

pub struct Markdown;

fn ratio(e: &Option<Estimate>) -> String {
    match e {
        Some(e) => format!(
            "{:.2}× [{:.2}, {:.2}]{}",
            e.median,
            e.interval.low,
            e.interval.high,
            if e.is_noisy() { " noisy" } else { "" }
        ),
        None => "–".into(),
    }
}

fn one_line(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('\n', " ⏎ ")
        .chars()
        .take(160)
        .collect()
}

/// The cells of one table row, in column order.
pub fn row(c: &CellRecord) -> [String; 8] {
    let status = match &c.status {
        Status::Ok => "ok".to_string(),
        Status::Failed { category, error } => format!("**{category}**: {}", one_line(error)),
    };
    let overhead = match (&c.status, &c.overhead) {
        (Status::Ok, Some(o)) if c.key.backend == "none" => o
            .wall
            .map(|w| {
                format!(
                    "{:.2} s [{:.2}, {:.2}]",
                    w.median, w.interval.low, w.interval.high
                )
            })
            .unwrap_or_default(),
        (Status::Ok, Some(o)) => ratio(&o.wall),
        _ => "–".into(),
    };
    let cpu = c
        .overhead
        .as_ref()
        .filter(|_| c.key.backend != "none")
        .map(|o| ratio(&o.cpu))
        .unwrap_or_else(|| "–".into());
    let accuracy = match (&c.accuracy, &c.accuracy_note) {
        (Some(a), _) => format!(
            "{:.1} pp (worst {} {:.1} pp, {} clock)",
            a.mae_pp,
            a.worst_phase,
            a.worst_pp,
            format!("{:?}", a.clock).to_lowercase()
        ),
        (None, Some(n)) if c.key.backend != "none" && c.status == Status::Ok => {
            format!("n/a: {}", one_line(n))
        }
        _ => "–".into(),
    };
    let pairs = c
        .overhead
        .as_ref()
        .and_then(|o| o.wall)
        .map(|w| w.n.to_string())
        .unwrap_or_else(|| "0".into());
    let version = c.backend_version.clone().unwrap_or_default();
    [
        c.key.workload.clone(),
        format!("{} {version}", c.key.backend).trim().to_string(),
        c.key.launcher.clone(),
        status,
        overhead,
        cpu,
        accuracy,
        pairs,
    ]
}

impl Exporter for Markdown {
    fn file_name(&self) -> &'static str {
        "comparison.md"
    }

    fn render(&self, info: &RunInfo, cells: &[CellRecord]) -> String {
        let p = &info.platform;
        let mut out = String::new();
        let _ = writeln!(out, "# profbench comparison: run {}\n", info.run_id);
        let _ = writeln!(
            out,
            "Platform `{}`: {} {} {}, {}, Python {}, {}{}, {} × {}, load {:.2} → {}.\n",
            p.id,
            p.os,
            p.os_version,
            p.arch,
            p.libc,
            p.python,
            if p.root { "root" } else { "not root" },
            if p.container { ", container" } else { "" },
            p.cores,
            p.cpu_model,
            p.load_at_start,
            p.load_at_end
                .map(|l| format!("{l:.2}"))
                .unwrap_or_else(|| "?".into())
        );
        let _ = writeln!(out, "Overhead = profiled wall / baseline wall, median over interleaved pairs [95% order-statistic interval of the median; fewer than 6 pairs cannot reach 95%, see notes]. For `none`, the baseline wall time itself. Accuracy = mean absolute error of each phase's share of the phase functions' time vs ground truth, in percentage points, in the backend's own clock.\n");
        let _ = writeln!(out, "| workload | backend | launcher | status | overhead (wall) | CPU ratio | accuracy MAE | pairs |");
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        let mut sorted: Vec<&CellRecord> = cells.iter().collect();
        sorted.sort_by(|a, b| {
            (
                &a.key.workload,
                &a.key.launcher,
                a.key.backend != "none",
                &a.key.backend,
            )
                .cmp(&(
                    &b.key.workload,
                    &b.key.launcher,
                    b.key.backend != "none",
                    &b.key.backend,
                ))
        });
        for c in &sorted {
            let _ = writeln!(out, "| {} |", row(c).join(" | "));
        }
        let notes: Vec<String> = sorted
            .iter()
            .filter_map(|c| {
                let mut said: Vec<String> = c.profile_warnings.clone();
                if let Some(o) = &c.overhead {
                    said.extend(o.warning_text.iter().cloned());
                }
                (!said.is_empty()).then(|| {
                    let k = &c.key;
                    format!(
                        "- {} / {} / {}: {}",
                        k.workload,
                        k.backend,
                        k.launcher,
                        said.join("; ")
                    )
                })
            })
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(out, "\n## Warnings\n\n{}", notes.join("\n"));
        }
        let missing = info.plan.len().saturating_sub(cells.len());
        if missing > 0 {
            let _ = writeln!(out, "\n{missing} planned cell(s) not finished: continue with `profbench matrix --resume`.");
        }
        out
    }
}
