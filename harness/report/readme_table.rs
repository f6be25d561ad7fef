//! `readme-table.md`: the one table a project page shows, the run's most-measured workload
//! (every backend on one program, the one with the most measured pairs) as backend rows. The
//! README's results block is this file, and a test keeps the two the same.

use super::{markdown, table_order, ExportError, Exporter};
use crate::results::{CellRecord, RunInfo, Status};
use crate::stats::Estimate;
use std::collections::BTreeMap;

pub struct ReadmeTable;

fn ratio(e: &Estimate) -> String {
    format!(
        "{:.3}× [{:.3}, {:.3}]{}",
        e.median,
        e.interval.low,
        e.interval.high,
        if e.is_noisy() { " noisy" } else { "" }
    )
}

/// The (launcher, workload) with the most measured pairs over its profiled cells, then the
/// most cells: where the backends can be compared most closely. (A Ray program has Ray's own
/// tools as extra rows, but its long runs get fewer pairs within a budget.)
fn widest(cells: &[CellRecord]) -> Option<(String, String)> {
    let mut count: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for c in cells.iter().filter(|c| !c.key.is_baseline()) {
        let pairs = c.overhead.as_ref().and_then(|o| o.wall).map_or(0, |w| w.n);
        let entry = count
            .entry((c.key.launcher.clone(), c.key.workload.clone()))
            .or_default();
        entry.0 += pairs;
        entry.1 += 1;
    }
    count
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(k, _)| k)
}

/// One backend's row: status or overhead, CPU ratio, accuracy with the achieved rate, checks.
fn row(c: &CellRecord) -> String {
    let version = c.backend_version.clone().unwrap_or_default();
    let (overhead, cpu, accuracy) = match &c.status {
        Status::Failed { category, .. } => (format!("**{category}**"), "–".into(), "–".into()),
        Status::Ok => {
            let o = c.overhead.as_ref();
            let wall = o.and_then(|o| o.wall).map(|e| ratio(&e));
            let cpu = o.and_then(|o| o.cpu).map(|e| format!("{:.2}×", e.median));
            let accuracy = c.accuracy.as_ref().map(|a| {
                let clock = format!("{:?}", a.clock).to_lowercase();
                match (a.rate_hz, a.asked_hz) {
                    (Some(r), Some(asked)) => {
                        format!("{:.2} pp ({clock}), {r:.0}/{asked:.0} Hz", a.mae_pp)
                    }
                    _ => format!("{:.2} pp ({clock})", a.mae_pp),
                }
            });
            let dash = || "–".to_string();
            (
                wall.unwrap_or_else(dash),
                cpu.unwrap_or_else(dash),
                accuracy.unwrap_or_else(dash),
            )
        }
    };
    format!(
        "| {} | {version} | {overhead} | {cpu} | {accuracy} | {} |",
        c.key.backend,
        markdown::checks(c)
    )
}

/// The table, with a line saying which program and baseline it is.
pub fn render(cells: &[CellRecord]) -> String {
    let Some((launcher, workload)) = widest(cells) else {
        return "No profiled cells in this run.\n".into();
    };
    let mine: Vec<&CellRecord> = table_order(cells)
        .into_iter()
        .filter(|c| c.key.launcher == launcher && c.key.workload == workload)
        .collect();
    let baseline = mine
        .iter()
        .find(|c| c.key.is_baseline())
        .and_then(|c| c.overhead.as_ref()?.wall)
        .map(|w| format!("{:.2} s", w.median))
        .unwrap_or_else(|| "not measured".into());
    let pairs = mine
        .iter()
        .filter_map(|c| c.overhead.as_ref()?.wall.map(|w| w.n))
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "`{workload}` ({launcher} launcher), baseline {baseline}, up to {pairs} measured pairs per cell.\n\n\
         | backend | version | overhead (wall) [95% CI] | CPU ratio | MAE vs truth, achieved rate | checks 1–10 |\n\
         |---|---|---|---|---|---|\n"
    );
    for c in mine.iter().filter(|c| !c.key.is_baseline()) {
        out.push_str(&row(c));
        out.push('\n');
    }
    out
}

impl Exporter for ReadmeTable {
    fn file_name(&self) -> &'static str {
        "readme-table.md"
    }

    fn render(&self, _info: &RunInfo, cells: &[CellRecord]) -> Result<String, ExportError> {
        Ok(render(cells))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::testdata;
    use crate::results::RunDir;
    use std::path::Path;

    #[test]
    fn failed_backends_show_their_status_and_no_verdicts() {
        let mut cells = testdata::run();
        cells.push(testdata::failed(
            "single",
            "austin3-wall",
            "direct",
            profbench_profilers::Failure::PermissionDenied,
            "ptrace: Operation not permitted",
        ));
        let text = render(&cells);
        assert!(
            text.contains("| austin3-wall | 1.0 | **permission denied** | – | – | not run |"),
            "{text}"
        );
        assert!(
            text.starts_with("`single` (direct launcher), baseline 5.00 s"),
            "{text}"
        );
    }

    #[test]
    fn the_table_shows_the_program_with_the_most_measured_pairs() {
        let mut cells = testdata::run();
        // Five rows on `ray`, one pair each: more cells than `single` has, fewer pairs.
        for b in ["ray-timeline", "ray-state", "py-spy", "cprofile", "scalene"] {
            let mut c = testdata::cell("ray", b, "direct", Some(1.1), None);
            if let Some(w) = c.overhead.as_mut().and_then(|o| o.wall.as_mut()) {
                w.n = 1;
            }
            cells.push(c);
        }
        assert_eq!(
            widest(&cells),
            Some(("direct".to_string(), "single".to_string()))
        );
    }

    /// The README's results block is `profbench report <run>`'s readme-table.md, for the run
    /// folder its opening marker names.
    #[test]
    fn the_readme_shows_the_reference_runs_table() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let (_, rest) = readme
            .split_once("<!-- readme-table: ")
            .expect("README.md has no readme-table block");
        let (folder, rest) = rest
            .split_once(" -->\n")
            .expect("the readme-table marker names no run folder");
        let (block, _) = rest
            .split_once("<!-- /readme-table -->")
            .expect("README.md's readme-table block is not closed");
        let (cells, problems) = RunDir {
            root: root.join(folder),
        }
        .read_cells();
        assert!(problems.is_empty(), "{problems:?}");
        assert!(!cells.is_empty(), "{folder} has no cells");
        assert_eq!(
            block,
            render(&cells),
            "README.md's table differs from {folder}'s: run `profbench report {folder}` and paste readme-table.md between the markers"
        );
    }
}
