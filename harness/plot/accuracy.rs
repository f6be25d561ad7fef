//! Chart 2: accuracy heatmap, backend × phase, each box the phase's error in percentage points
//! (|attributed share − truth share|, in the backend's own clock).

use super::{
    backend_variants, col_label, e, font, grid_box, many_platforms, row_label, row_name,
    status_category, text_width, variant_label, Draw,
};
use crate::results::{CellRecord, Status};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeSet;

/// What one box shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Pp(f64),
    /// The cell ran but accuracy could not be computed (the note says why in the table).
    NotAvailable,
    /// The cell failed; its status category.
    Failed(String),
    /// No such cell.
    Missing,
}

pub struct AccuracyHeatmap {
    /// (workload, phase), in workload order then the order the phases were measured.
    pub columns: Vec<(String, String)>,
    pub rows: Vec<String>,
    pub values: Vec<Vec<Value>>,
}

const CELL_H: i32 = 26;
const TOP: i32 = 110;

/// White-green at 0 pp through yellow (5 pp) to red at 20 pp and beyond.
pub fn colour(pp: f64) -> RGBColor {
    let stops = [
        (0.0, (237, 248, 233)),
        (2.0, (161, 217, 155)),
        (5.0, (254, 217, 118)),
        (10.0, (253, 141, 60)),
        (20.0, (189, 0, 38)),
    ];
    let pp = pp.clamp(0.0, 20.0);
    for w in stops.windows(2) {
        let ((a, ca), (b, cb)) = (w[0], w[1]);
        if pp <= b {
            let t = (pp - a) / (b - a);
            let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
            return RGBColor(mix(ca.0, cb.0), mix(ca.1, cb.1), mix(ca.2, cb.2));
        }
    }
    RGBColor(189, 0, 38)
}

impl AccuracyHeatmap {
    pub fn from_cells(cells: &[CellRecord]) -> AccuracyHeatmap {
        let many = many_platforms(cells);
        let profiled: Vec<&CellRecord> = cells.iter().filter(|c| !c.key.is_baseline()).collect();
        let mut columns: Vec<(String, String)> = Vec::new();
        let workloads: BTreeSet<&str> = profiled.iter().map(|c| c.key.workload.as_str()).collect();
        for w in workloads {
            for c in profiled.iter().filter(|c| c.key.workload == w) {
                for p in c.accuracy.iter().flat_map(|a| &a.phases) {
                    let col = (w.to_string(), p.phase.clone());
                    if !columns.contains(&col) {
                        columns.push(col);
                    }
                }
            }
        }
        // Only workloads that have phases at all get rows' attention.
        let with_phases: Vec<&CellRecord> = profiled
            .iter()
            .copied()
            .filter(|c| columns.iter().any(|(w, _)| *w == c.key.workload))
            .collect();
        let keys = backend_variants(&with_phases, many);
        let nvariants = keys.iter().map(|k| &k.1).collect::<BTreeSet<_>>().len();
        let values = keys
            .iter()
            .map(|(b, v)| {
                columns
                    .iter()
                    .map(|(w, phase)| {
                        let Some(c) = with_phases.iter().find(|c| {
                            &c.key.backend == b
                                && &c.key.workload == w
                                && &variant_label(c, many) == v
                        }) else {
                            return Value::Missing;
                        };
                        match (&c.status, &c.accuracy) {
                            (_, Some(a)) => a
                                .phases
                                .iter()
                                .find(|p| &p.phase == phase)
                                .map(|p| Value::Pp(p.error_pp))
                                .unwrap_or(Value::NotAvailable),
                            (Status::Ok, None) => Value::NotAvailable,
                            _ => Value::Failed(status_category(c)),
                        }
                    })
                    .collect()
            })
            .collect();
        AccuracyHeatmap {
            rows: keys.iter().map(|k| row_name(k, nvariants)).collect(),
            columns,
            values,
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
        let w = self
            .columns
            .iter()
            .map(|(w, p)| text_width(w, 11.0).max(text_width(p, 12.0)))
            .max();
        (w.unwrap_or(60) as i32 + 12).max(70)
    }
}

impl Draw for AccuracyHeatmap {
    fn size(&self) -> (u32, u32) {
        let w = self.label_width() + self.col_width() * self.columns.len() as i32 + 30;
        let h = TOP + CELL_H * self.rows.len() as i32 + 30;
        (w.max(900) as u32, h.max(200) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        e(area.fill(&WHITE))?;
        e(area.draw(&Text::new("Accuracy: |attributed share − truth share| per phase, percentage points (lower is better)", (16, 12), font(17.0))))?;
        // Colour key.
        let mut x = 16;
        for (pp, name) in [
            (0.0, "0"),
            (2.0, "2"),
            (5.0, "5"),
            (10.0, "10"),
            (20.0, "≥20 pp"),
        ] {
            grid_box(area, (x, 40), (34, 18), colour(pp), "", 10.0)?;
            e(area.draw(&Text::new(name, (x + 40, 42), font(12.0))))?;
            x += 48 + text_width(name, 12.0) as i32;
        }
        e(area.draw(&Text::new(
            "– failed or not run · n/a: ran, no attribution",
            (x + 20, 42),
            font(12.0).color(&RGBColor(90, 90, 90)),
        )))?;
        if self.columns.is_empty() {
            e(area.draw(&Text::new(
                "no phase accuracy in this run yet",
                (16, TOP),
                font(15.0),
            )))?;
            return Ok(());
        }
        let (lw, cw) = (self.label_width(), self.col_width());
        for (j, (w, p)) in self.columns.iter().enumerate() {
            let cx = lw + cw * j as i32 + cw / 2;
            col_label(
                area,
                w,
                (cx, TOP - 34),
                font(11.0).color(&RGBColor(100, 100, 100)),
            )?;
            col_label(area, p, (cx, TOP - 16), font(12.0))?;
        }
        for (i, (name, row)) in self.rows.iter().zip(&self.values).enumerate() {
            let y = TOP + CELL_H * i as i32;
            row_label(area, name, (lw - 8, y + CELL_H / 2), 13.0)?;
            for (j, v) in row.iter().enumerate() {
                let x = lw + cw * j as i32;
                let (fill, text) = match v {
                    Value::Pp(pp) => (colour(*pp), format!("{pp:.1}")),
                    Value::NotAvailable => (RGBColor(225, 225, 225), "n/a".into()),
                    Value::Failed(_) => (RGBColor(245, 245, 245), "–".into()),
                    Value::Missing => (WHITE, String::new()),
                };
                grid_box(area, (x, y), (cw, CELL_H), fill, &text, 12.0)?;
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
    fn phases_become_columns_and_failures_stay_visible() {
        let h = AccuracyHeatmap::from_cells(&testdata::run());
        assert_eq!(h.columns[0], ("line".to_string(), "a".to_string()));
        assert_eq!(h.columns.len(), 4);
        let austin = h.rows.iter().position(|r| r == "austin (direct)").unwrap();
        assert_eq!(
            h.values[austin][0],
            Value::Failed("permission denied".into())
        );
        assert_eq!(h.values[austin][2], Value::Missing);
        assert!(h.rows.iter().all(|r| !r.starts_with("none")));
    }

    #[test]
    fn colour_scale_is_monotone_in_redness() {
        let reds: Vec<u8> = [0.0, 2.0, 5.0, 10.0].iter().map(|&p| colour(p).1).collect();
        assert!(
            reds.windows(2).all(|w| w[0] >= w[1]),
            "green channel falls as error grows"
        );
        assert_eq!(colour(100.0), colour(20.0));
    }
}
