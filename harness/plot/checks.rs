//! Chart 4: the ten capability checks (METHOD.md) × backends, one box per verdict.
//!
//! Checks are read from each cell's JSON (`cell["checks"]`) rather than a typed field, so this
//! chart works whether or not the cell record carries them yet.

use super::{
    backend_variants, col_label, e, font, grid_box, legend, many_platforms, row_label, row_name,
    text_width, variant_label, Draw,
};
use crate::results::CellRecord;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Deserialize;
use std::collections::BTreeSet;

/// The part of a check this chart needs; other fields are ignored.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CheckView {
    pub axis: u8,
    #[serde(default)]
    pub name: String,
    pub verdict: String,
    #[serde(default)]
    pub evidence: String,
}

/// Short names of METHOD.md's axes, used when a check does not name itself.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Partial,
    Fail,
    NotApplicable,
}

impl Verdict {
    /// Accepts the serde spellings a `Verdict` enum may be given (`not-applicable`,
    /// `not_applicable`, `NotApplicable`).
    pub fn parse(s: &str) -> Option<Verdict> {
        let norm: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        match norm.as_str() {
            "pass" => Some(Verdict::Pass),
            "partial" => Some(Verdict::Partial),
            "fail" => Some(Verdict::Fail),
            "notapplicable" | "na" => Some(Verdict::NotApplicable),
            _ => None,
        }
    }

    fn style(self) -> (RGBColor, &'static str) {
        match self {
            Verdict::Pass => (RGBColor(44, 160, 44), "pass"),
            Verdict::Partial => (RGBColor(253, 174, 97), "partial"),
            Verdict::Fail => (RGBColor(215, 48, 39), "fail"),
            Verdict::NotApplicable => (RGBColor(220, 220, 220), "n/a"),
        }
    }
}

/// The checks a cell record carries, if any.
pub fn checks_of(cell: &CellRecord) -> Vec<CheckView> {
    let Ok(value) = serde_json::to_value(cell) else {
        return Vec::new();
    };
    match value.get("checks") {
        Some(v) => serde_json::from_value(v.clone()).unwrap_or_default(),
        None => Vec::new(),
    }
}

pub struct ChecksGrid {
    pub rows: Vec<String>,
    /// Per row, per axis 1..=10: the verdict, if any cell of that row decided it.
    pub verdicts: Vec<[Option<Verdict>; 10]>,
    pub names: [String; 10],
}

const CELL_H: i32 = 26;
const CELL_W: i32 = 104;
const TOP: i32 = 110;

impl ChecksGrid {
    pub fn from_cells(cells: &[CellRecord]) -> ChecksGrid {
        let many = many_platforms(cells);
        let with: Vec<(&CellRecord, Vec<CheckView>)> = cells
            .iter()
            .map(|c| (c, checks_of(c)))
            .filter(|(_, k)| !k.is_empty())
            .collect();
        let refs: Vec<&CellRecord> = with.iter().map(|(c, _)| *c).collect();
        let keys = backend_variants(&refs, many);
        let nvariants = keys.iter().map(|k| &k.1).collect::<BTreeSet<_>>().len();
        let mut names: [String; 10] = AXES.map(String::from);
        let verdicts = keys
            .iter()
            .map(|(b, v)| {
                let mut row = [None; 10];
                // Workloads in name order; the first verdict that applies wins, since each axis
                // is decided on the workload built for it and is not-applicable elsewhere.
                let mut mine: Vec<&(&CellRecord, Vec<CheckView>)> = with
                    .iter()
                    .filter(|(c, _)| &c.key.backend == b && &variant_label(c, many) == v)
                    .collect();
                mine.sort_by(|a, b| a.0.key.workload.cmp(&b.0.key.workload));
                for (_, checks) in mine {
                    for k in checks {
                        let Some(slot) = (k.axis as usize).checked_sub(1).filter(|i| *i < 10)
                        else {
                            continue;
                        };
                        let Some(verdict) = Verdict::parse(&k.verdict) else {
                            continue;
                        };
                        if !k.name.is_empty() && names[slot] == AXES[slot] {
                            names[slot] = k.name.clone();
                        }
                        if row[slot].is_none() || row[slot] == Some(Verdict::NotApplicable) {
                            row[slot] = Some(verdict);
                        }
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
            "Capability checks: METHOD.md's ten axes, decided from each cell's own output",
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
            Verdict::Pass,
            Verdict::Partial,
            Verdict::Fail,
            Verdict::NotApplicable,
        ]
        .iter()
        .map(|v| match v {
            // Axes are decided on the workload built for them: n/a means it was not run.
            Verdict::NotApplicable => (v.style().0, "n/a: its workload not run".to_string()),
            _ => (v.style().0, v.style().1.to_string()),
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

    #[test]
    fn no_checks_field_means_an_empty_grid() {
        let g = ChecksGrid::from_cells(&testdata::run());
        assert!(g.rows.is_empty());
    }

    #[test]
    fn verdict_spellings_are_all_understood() {
        assert_eq!(
            Verdict::parse("not-applicable"),
            Some(Verdict::NotApplicable)
        );
        assert_eq!(
            Verdict::parse("NotApplicable"),
            Some(Verdict::NotApplicable)
        );
        assert_eq!(Verdict::parse("Pass"), Some(Verdict::Pass));
        assert_eq!(Verdict::parse("maybe"), None);
    }

    #[test]
    fn checks_are_read_from_the_cell_json() {
        let v = serde_json::json!([
            {"axis": 1, "name": "calls and depth", "verdict": "pass", "evidence": "242785 calls"},
            {"axis": 6, "name": "cross-process", "verdict": "not-applicable", "evidence": ""}
        ]);
        let parsed: Vec<CheckView> = serde_json::from_value(v).unwrap();
        assert_eq!(parsed[0].axis, 1);
        assert_eq!(
            Verdict::parse(&parsed[1].verdict),
            Some(Verdict::NotApplicable)
        );
    }

    #[test]
    fn grid_reads_the_checks_a_cell_record_carries() {
        let mut v = serde_json::to_value(testdata::cell(
            "single",
            "py-spy",
            "direct",
            Some(1.1),
            Some(1.0),
        ))
        .unwrap();
        v["checks"] = serde_json::json!([
            {"axis": 1, "name": "calls and depth", "verdict": "pass", "evidence": "depth 31"},
            {"axis": 6, "name": "cross-process", "verdict": "not-applicable", "evidence": "not ray"}
        ]);
        let cell: CellRecord = serde_json::from_value(v).unwrap();
        let g = ChecksGrid::from_cells(&[cell]);
        assert_eq!(g.rows, ["py-spy"]);
        assert_eq!(g.verdicts[0][0], Some(Verdict::Pass));
        assert_eq!(g.verdicts[0][5], Some(Verdict::NotApplicable));
        assert_eq!(g.verdicts[0][1], None);
        assert_eq!(g.names[0], "calls and depth");
    }
}
