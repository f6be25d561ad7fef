//! `comparison.md`: backend × workload with status, overhead and accuracy, ready to paste.

use super::{ExportError, Exporter};
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
pub fn row(c: &CellRecord) -> [String; 9] {
    let status = match &c.status {
        Status::Ok => "ok".to_string(),
        Status::Failed { category, error } => format!("**{category}**: {}", one_line(error)),
    };
    let overhead = match (&c.status, &c.overhead) {
        (Status::Ok, Some(o)) if c.key.is_baseline() => o
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
        .filter(|_| !c.key.is_baseline())
        .map(|o| ratio(&o.cpu))
        .unwrap_or_else(|| "–".into());
    let accuracy = match (&c.accuracy, &c.accuracy_note) {
        (Some(a), _) => format!(
            "{:.1} pp (worst {} {:.1} pp, {} clock{})",
            a.mae_pp,
            a.worst_phase,
            a.worst_pp,
            format!("{:?}", a.clock).to_lowercase(),
            match (a.rate_hz, a.asked_hz) {
                (Some(r), Some(asked)) => format!("; {r:.0} of {asked:.0} Hz"),
                (Some(r), None) => format!("; {r:.0} Hz"),
                _ => String::new(),
            }
        ),
        (None, Some(n)) if !c.key.is_baseline() && c.status == Status::Ok => {
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
        checks(c),
        pairs,
    ]
}

/// Backend × the ten axes, each axis judged on the workloads where it applies; the best
/// verdict reached, per launcher. A backend none of whose cells ran says "not run".
fn capability_table(cells: &[CellRecord]) -> String {
    use crate::checks::Verdict;
    use std::collections::BTreeMap;
    let mut best: BTreeMap<(String, String), Option<[Option<Verdict>; 10]>> = BTreeMap::new();
    for c in cells.iter().filter(|c| !c.key.is_baseline()) {
        let slot = best
            .entry((c.key.backend.clone(), c.key.launcher.clone()))
            .or_insert(None);
        if c.status != Status::Ok {
            continue;
        }
        let slot = slot.get_or_insert([None; 10]);
        for k in &c.checks {
            let i = (k.axis as usize).saturating_sub(1).min(9);
            if k.verdict != Verdict::NotApplicable
                && slot[i].is_none_or(|v| k.verdict.rank() > v.rank())
            {
                slot[i] = Some(k.verdict);
            }
        }
    }
    if !cells.iter().any(|c| !c.checks.is_empty()) {
        return String::new();
    }
    let mut out = String::from("\n## Capabilities: the ten axes\n\nEach axis judged on the workloads whose header names its target (`single`: 1, 2, 3, 4, 5; `library`: 3; `line`: 4; `ray`: 6–10); the best verdict reached. ✔ pass, ◐ partial, ✘ fail, · not run here; *not run*: no cell of the backend ran.\n\n| backend | launcher | 1 calls | 2 CPU/wait | 3 library | 4 line | 5 memory | 6 cross-proc | 7 Ray overhead | 8 serialization | 9 timeline | 10 aggregation |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for ((backend, launcher), verdicts) in best {
        let symbols: Vec<String> = match verdicts {
            Some(v) => v
                .iter()
                .map(|v| v.map(symbol).unwrap_or('·').to_string())
                .collect(),
            None => vec![NOT_RUN.to_string(); 10],
        };
        out.push_str(&format!(
            "| {backend} | {launcher} | {} |\n",
            symbols.join(" | ")
        ));
    }
    out
}

/// The cost split, actionability and function bias table (cells that have any of them).
fn cost_and_actionability(sorted: &[&CellRecord]) -> String {
    let rows: Vec<String> = super::extras_rows(sorted)
        .iter()
        .map(|r| format!("| {} |", r.join(" | ")))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "\n## Cost split, actionability and function bias\n\n{}\n\n| workload | backend | launcher | cost: fixed + running | actionability | function bias |\n|---|---|---|---|---|---|\n{}\n",
        super::EXTRAS_LEGEND,
        rows.join("\n")
    )
}

/// The ten checks as one symbol each, axis 1 to 10: ✔ pass, ◐ partial, ✘ fail, · n/a; a
/// failed cell has no verdicts: "not run".
pub fn checks(c: &CellRecord) -> String {
    if matches!(c.status, Status::Failed { .. }) && !c.key.is_baseline() {
        return NOT_RUN.into();
    }
    let checks = crate::plot::checks::checks_of(c);
    if checks.is_empty() {
        return "–".into();
    }
    checks.iter().map(|k| symbol(k.verdict)).collect()
}

/// What the checks column says of a backend that never produced output.
pub const NOT_RUN: &str = "not run";

pub fn symbol(v: crate::checks::Verdict) -> char {
    use crate::checks::Verdict;
    match v {
        Verdict::Pass => '✔',
        Verdict::Partial => '◐',
        Verdict::Fail => '✘',
        Verdict::NotApplicable => '·',
    }
}

impl Exporter for Markdown {
    fn file_name(&self) -> &'static str {
        "comparison.md"
    }

    fn render(&self, info: &RunInfo, cells: &[CellRecord]) -> Result<String, ExportError> {
        Ok(render(info, cells))
    }
}

/// The comparison of one run's cells (writing into a String cannot fail).
pub fn render(info: &RunInfo, cells: &[CellRecord]) -> String {
    {
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
        let _ = writeln!(out, "Overhead = profiled wall / baseline wall, median over pairs (a profiled run and its own baseline run, or in rounds the mean of the baseline runs just before and after it) [95% order-statistic interval of the median; fewer than 6 pairs cannot reach 95%, see notes]. For `none`, the baseline wall time itself. Accuracy = mean absolute error of each phase's share of the phase functions' time vs ground truth, in percentage points, in the backend's own clock. Checks: the ten axes (1 calls/depth, 2 CPU vs waiting, 3 library transparency, 4 line level, 5 memory, 6 cross-process, 7 Ray overhead, 8 serialization, 9 timeline, 10 aggregation): ✔ pass, ◐ partial, ✘ fail, · not applicable to this workload, *not run* for a backend that failed (it has no verdicts); the evidence is in each cell's JSON.\n");
        let _ = writeln!(out, "| workload | backend | launcher | status | overhead (wall) | CPU ratio | accuracy MAE | checks 1–10 | pairs |");
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
        let mut sorted: Vec<&CellRecord> = cells.iter().collect();
        sorted.sort_by(|a, b| {
            (
                &a.key.workload,
                &a.key.launcher,
                !a.key.is_baseline(),
                &a.key.backend,
            )
                .cmp(&(
                    &b.key.workload,
                    &b.key.launcher,
                    !b.key.is_baseline(),
                    &b.key.backend,
                ))
        });
        for c in &sorted {
            let _ = writeln!(out, "| {} |", row(c).join(" | "));
        }
        out.push_str(&capability_table(cells));
        out.push_str(&cost_and_actionability(&sorted));
        out.push_str(&super::self_time::markdown(cells));
        let notes: Vec<String> = sorted
            .iter()
            .filter_map(|c| {
                let said = super::cell_warnings(c);
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
        let missing = super::unmeasured(std::slice::from_ref(info), cells);
        if !missing.is_empty() {
            let _ = writeln!(
                out,
                "\n## Not measured\n\n{} planned cell(s) have no run (the budget was spent, or the run was interrupted); the same command with `--resume` runs them: {}.",
                missing.len(),
                missing.join(", ")
            );
        }
        out
    }
}
