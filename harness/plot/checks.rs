//! Chart 4: the ten capability checks (docs/method.md) × backends, one box per verdict. A
//! backend whose cells failed has no verdicts: its boxes say "not run", in their own colour,
//! never a fail.

use super::{
    backend_variants, col_label, e, font, grid_box, legend, many_platforms, row_label, row_name,
    text_width, variant_label, Draw,
};
use crate::checks::{Check, Verdict};
use crate::results::{CellRecord, Status};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeSet;

/// Short names of the axes, used when a check does not name itself.
pub const AXES: [&str; 10] = [
    "calls & depth",
    "CPU vs waiting",
    "library frames",
    "line level",
    "memory",
    "cross-process",
    "Ray overhead",
    "serialization",
    "timeline",
    "aggregation",
];

/// What one box of the grid shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Decided(Verdict),
    /// The backend's cells for this axis failed: nothing was decided.
    NotRun,
}

impl Mark {
    fn style(self) -> (RGBColor, &'static str) {
        match self {
            Mark::Decided(Verdict::Pass) => (RGBColor(44, 160, 44), "pass"),
            Mark::Decided(Verdict::Partial) => (RGBColor(253, 174, 97), "partial"),
            Mark::Decided(Verdict::Fail) => (RGBColor(215, 48, 39), "fail"),
            Mark::Decided(Verdict::NotApplicable) => (RGBColor(220, 220, 220), "n/a"),
            Mark::NotRun => (RGBColor(158, 202, 225), "not run"),
        }
    }
}

/// The checks a cell decided: none when the cell failed (records written before failed
/// cells stopped carrying verdicts still hold fails; they are not verdicts either).
pub fn checks_of(cell: &CellRecord) -> &[Check] {
    match cell.status {
        Status::Ok => &cell.checks,
        Status::Failed { .. } => &[],
    }
}

pub struct ChecksGrid {
    pub rows: Vec<String>,
    /// Per row, per axis 1..=10: the verdict, if any cell of that row decided it.
    pub verdicts: Vec<[Option<Mark>; 10]>,
    pub names: [String; 10],
}

const CELL_H: i32 = 26;
const CELL_W: i32 = 104;
const TOP: i32 = 110;

impl ChecksGrid {
    pub fn from_cells(cells: &[CellRecord]) -> ChecksGrid {
        let many = many_platforms(cells);
        // Every profiled cell has a row, failed or not; the baseline has no checks.
        let profiled: Vec<&CellRecord> = cells.iter().filter(|c| !c.key.is_baseline()).collect();
        let keys = backend_variants(&profiled, many);
        let nvariants = keys.iter().map(|k| &k.1).collect::<BTreeSet<_>>().len();
        let mut names: [String; 10] = AXES.map(String::from);
        let verdicts = keys
            .iter()
            .map(|(b, v)| {
                let mut row = [None; 10];
                // Workloads in name order; the first verdict that applies wins, since each axis
                // is decided on the workloads whose header names its target and is
                // not-applicable elsewhere.
                let mut mine: Vec<&CellRecord> = profiled
                    .iter()
                    .copied()
                    .filter(|c| &c.key.backend == b && &variant_label(c, many) == v)
                    .collect();
                mine.sort_by(|a, b| a.key.workload.cmp(&b.key.workload));
                for k in mine.iter().flat_map(|c| checks_of(c)) {
                    let Some(slot) = (k.axis as usize).checked_sub(1).filter(|i| *i < 10) else {
                        continue;
                    };
                    if !k.name.is_empty() && names[slot] == AXES[slot] {
                        names[slot] = k.name.clone();
                    }
                    let decided = Some(Mark::Decided(k.verdict));
                    if row[slot].is_none()
                        || row[slot] == Some(Mark::Decided(Verdict::NotApplicable))
                    {
                        row[slot] = decided;
                    }
                }
                // What no working cell decided, a failed cell might have: not run.
                if mine.iter().any(|c| c.status != Status::Ok) {
                    for slot in row.iter_mut().filter(|m| {
                        m.is_none() || **m == Some(Mark::Decided(Verdict::NotApplicable))
                    }) {
                        *slot = Some(Mark::NotRun);
                    }
                }
                row
            })
            .collect();
        ChecksGrid {
            rows: keys.iter().map(|k| row_name(k, nvariants)).collect(),
            verdicts,
            names,
        }
    }

    fn label_width(&self) -> i32 {
        self.rows
            .iter()
            .map(|r| text_width(r, 13.0))
            .max()
            .unwrap_or(60) as i32
            + 24
    }

    fn col_width(&self) -> i32 {
        self.names
            .iter()
            .map(|n| text_width(n, 12.0) as i32 + 12)
            .max()
            .unwrap_or(CELL_W)
            .max(CELL_W)
    }
}

impl Draw for ChecksGrid {
    fn size(&self) -> (u32, u32) {
        if self.rows.is_empty() {
            return (700, 120);
        }
        let w = self.label_width() + self.col_width() * 10 + 30;
        (
            w as u32,
            (TOP + CELL_H * self.rows.len() as i32 + 30) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        e(area.fill(&WHITE))?;
        e(area.draw(&Text::new(
            "Capability checks: the ten axes, decided from each cell's own output",
            (16, 12),
            font(17.0),
        )))?;
        if self.rows.is_empty() {
            e(area.draw(&Text::new(
                "no checks in this run",
                (16, 60),
                font(16.0).color(&RGBColor(90, 90, 90)),
            )))?;
            return Ok(());
        }
        let items: Vec<(RGBColor, String)> = [
            Mark::Decided(Verdict::Pass),
            Mark::Decided(Verdict::Partial),
            Mark::Decided(Verdict::Fail),
            Mark::Decided(Verdict::NotApplicable),
            Mark::NotRun,
        ]
        .iter()
        .map(|m| match m {
            // Axes are decided on the workloads built for them: n/a means none ran here.
            Mark::Decided(Verdict::NotApplicable) => {
                (m.style().0, "n/a: its workload not run".to_string())
            }
            Mark::NotRun => (m.style().0, "not run: the backend failed".to_string()),
            _ => (m.style().0, m.style().1.to_string()),
        })
        .chain([(WHITE, "not decided".to_string())])
        .collect();
        legend(area, &items, (16, 40), 900)?;
        let (lw, cw) = (self.label_width(), self.col_width());
        for (j, name) in self.names.iter().enumerate() {
            let cx = lw + cw * j as i32 + cw / 2;
            let group = if j < 5 { "single process" } else { "Ray" };
            col_label(
                area,
                &format!("{} · {group}", j + 1),
                (cx, TOP - 34),
                font(11.0).color(&RGBColor(100, 100, 100)),
            )?;
            col_label(area, name, (cx, TOP - 16), font(12.0))?;
        }
        for (i, (name, row)) in self.rows.iter().zip(&self.verdicts).enumerate() {
            let y = TOP + CELL_H * i as i32;
            row_label(area, name, (lw - 8, y + CELL_H / 2), 13.0)?;
            for (j, v) in row.iter().enumerate() {
                let (fill, text) = match v {
                    Some(v) => v.style(),
                    None => (RGBColor(250, 250, 250), ""),
                };
                grid_box(
                    area,
                    (lw + cw * j as i32, y),
                    (cw, CELL_H),
                    fill,
                    text,
                    12.0,
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::testdata;

    fn check(axis: u8, verdict: Verdict) -> Check {
        Check {
            axis,
            name: crate::checks::AXES[axis as usize - 1].into(),
            verdict,
            evidence: "e".into(),
        }
    }

    #[test]
    fn cells_without_checks_leave_their_boxes_undecided() {
        let g = ChecksGrid::from_cells(&testdata::run());
        assert!(g
            .verdicts
            .iter()
            .flatten()
            .all(|m| m.is_none() || *m == Some(Mark::NotRun)));
    }

    #[test]
    fn grid_reads_the_checks_a_cell_record_carries() {
        let mut cell = testdata::cell("single", "py-spy", "direct", Some(1.1), Some(1.0));
        cell.checks = vec![check(1, Verdict::Pass), check(6, Verdict::NotApplicable)];
        let g = ChecksGrid::from_cells(&[cell]);
        assert_eq!(g.rows, ["py-spy"]);
        assert_eq!(g.verdicts[0][0], Some(Mark::Decided(Verdict::Pass)));
        assert_eq!(
            g.verdicts[0][5],
            Some(Mark::Decided(Verdict::NotApplicable))
        );
        assert_eq!(g.verdicts[0][1], None);
        assert_eq!(g.names[0], "calls-and-depth");
    }

    #[test]
    fn a_failed_backend_is_not_run_never_failed() {
        let mut failed = testdata::failed(
            "single",
            "austin4-cpu",
            "direct",
            profbench_profilers::Failure::BinaryIncompatible,
            "GLIBC_2.38 not found",
        );
        // As records written before failed cells stopped carrying verdicts still do.
        failed.checks = vec![check(1, Verdict::Fail), check(2, Verdict::Fail)];
        let g = ChecksGrid::from_cells(&[failed]);
        assert_eq!(g.rows, ["austin4-cpu"]);
        assert!(
            g.verdicts[0].iter().all(|m| *m == Some(Mark::NotRun)),
            "{:?}",
            g.verdicts
        );
    }
}
