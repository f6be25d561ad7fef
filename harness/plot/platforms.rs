//! Chart 5: does each backend run here? Backends × (platform, launcher), one small box per
//! workload coloured by the cell's status category, with a short code for readers who cannot
//! tell the colours apart.

use super::{
    backend_rank, col_label, e, font, grid_box, legend, row_label, status_category, status_colour,
    text_width, Draw, STATUS_ORDER,
};
use crate::results::CellRecord;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeSet;

pub struct PlatformGrid {
    pub backends: Vec<String>,
    /// (platform id, launcher).
    pub columns: Vec<(String, String)>,
    pub workloads: Vec<String>,
    /// [backend][column][workload]: status category, None when the cell was not run.
    pub status: Vec<Vec<Vec<Option<String>>>>,
}

/// A two- or three-letter code per category, printed in the box.
pub fn code(category: &str) -> &'static str {
    match category {
        "ok" => "ok",
        "not installable" => "NI",
        "binary incompatible" => "BI",
        "permission denied" => "PD",
        "unsupported platform" => "UP",
        "target not found" => "TNF",
        "crashed" => "CR",
        "timed out" => "TO",
        "no output" => "NO",
        "unparseable output" => "UO",
        "workload failed" => "WF",
        "interrupted" => "INT",
        _ => "?",
    }
}

const CELL_H: i32 = 24;

fn legend_name(category: &str) -> String {
    if code(category) == category {
        category.to_string()
    } else {
        format!("{} {category}", code(category))
    }
}

impl PlatformGrid {
    pub fn from_cells(cells: &[CellRecord]) -> PlatformGrid {
        let mut backends: Vec<String> = cells
            .iter()
            .map(|c| c.key.backend.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        backends.sort_by(|a, b| (backend_rank(a), a).cmp(&(backend_rank(b), b)));
        let columns: Vec<(String, String)> = cells
            .iter()
            .map(|c| (c.platform_id.clone(), c.key.launcher.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let workloads: Vec<String> = cells
            .iter()
            .map(|c| c.key.workload.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let status = backends
            .iter()
            .map(|b| {
                columns
                    .iter()
                    .map(|(p, l)| {
                        workloads
                            .iter()
                            .map(|w| {
                                cells
                                    .iter()
                                    .find(|c| {
                                        &c.key.backend == b
                                            && &c.platform_id == p
                                            && &c.key.launcher == l
                                            && &c.key.workload == w
                                    })
                                    .map(status_category)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        PlatformGrid {
            backends,
            columns,
            workloads,
            status,
        }
    }

    fn label_width(&self) -> i32 {
        self.backends
            .iter()
            .map(|r| text_width(r, 13.0))
            .max()
            .unwrap_or(60) as i32
            + 24
    }

    fn slot_width(&self) -> i32 {
        self.workloads
            .iter()
            .map(|w| text_width(w, 11.0) as i32 + 8)
            .max()
            .unwrap_or(40)
            .max(40)
    }

    fn col_width(&self) -> i32 {
        let slots = self.slot_width() * self.workloads.len().max(1) as i32;
        let header = self
            .columns
            .iter()
            .map(|(p, l)| text_width(p, 12.0).max(text_width(l, 12.0)) as i32 + 16)
            .max()
            .unwrap_or(0);
        slots.max(header) + 12
    }

    fn categories(&self) -> Vec<&'static str> {
        let seen: BTreeSet<&str> = self
            .status
            .iter()
            .flatten()
            .flatten()
            .flatten()
            .map(String::as_str)
            .collect();
        STATUS_ORDER
            .iter()
            .copied()
            .filter(|s| *s == "ok" || seen.contains(s))
            .collect()
    }

    fn width(&self) -> i32 {
        (self.label_width() + self.col_width() * self.columns.len() as i32 + 30).max(900)
    }

    fn top(&self) -> i32 {
        let names: Vec<String> = self.categories().into_iter().map(legend_name).collect();
        40 + super::legend_height(&names, self.width() - 32) + 70
    }
}

impl Draw for PlatformGrid {
    fn size(&self) -> (u32, u32) {
        (
            self.width() as u32,
            (self.top() + CELL_H * self.backends.len() as i32 + 20).max(200) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        e(area.fill(&WHITE))?;
        e(area.draw(&Text::new(
            "Status per platform and launcher: one box per workload",
            (16, 12),
            font(17.0),
        )))?;
        if self.backends.is_empty() {
            e(area.draw(&Text::new("no finished cells yet", (16, 60), font(15.0))))?;
            return Ok(());
        }
        let items: Vec<(RGBColor, String)> = self
            .categories()
            .into_iter()
            .map(|c| (status_colour(c), legend_name(c)))
            .collect();
        legend(area, &items, (16, 40), self.width() - 16)?;
        let top = self.top();
        let (lw, cw, sw) = (self.label_width(), self.col_width(), self.slot_width());
        for (j, (platform, launcher)) in self.columns.iter().enumerate() {
            let x = lw + cw * j as i32;
            col_label(area, platform, (x + cw / 2, top - 56), font(12.0))?;
            col_label(
                area,
                launcher,
                (x + cw / 2, top - 38),
                font(12.0).color(&RGBColor(80, 80, 80)),
            )?;
            for (k, w) in self.workloads.iter().enumerate() {
                col_label(
                    area,
                    w,
                    (x + 6 + sw * k as i32 + sw / 2, top - 14),
                    font(11.0).color(&RGBColor(100, 100, 100)),
                )?;
            }
        }
        for (i, b) in self.backends.iter().enumerate() {
            let y = top + CELL_H * i as i32;
            row_label(area, b, (lw - 8, y + CELL_H / 2), 13.0)?;
            for (j, col) in self.status[i].iter().enumerate() {
                let x = lw + cw * j as i32 + 6;
                for (k, s) in col.iter().enumerate() {
                    let (fill, text) = match s {
                        Some(cat) => (status_colour(cat), code(cat)),
                        None => (RGBColor(250, 250, 250), ""),
                    };
                    grid_box(area, (x + sw * k as i32, y), (sw, CELL_H), fill, text, 11.0)?;
                }
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
    fn grid_has_every_backend_and_marks_missing_cells() {
        let g = PlatformGrid::from_cells(&testdata::run());
        assert_eq!(g.backends[0], "none");
        assert_eq!(
            g.columns,
            [
                ("linux-test".to_string(), "direct".to_string()),
                ("linux-test".to_string(), "uv".to_string())
            ]
        );
        assert_eq!(g.workloads, ["line", "single"]);
        let pyspy = g.backends.iter().position(|b| b == "py-spy").unwrap();
        assert_eq!(g.status[pyspy][1][1].as_deref(), Some("target not found"));
        assert_eq!(g.status[pyspy][1][0], None);
    }

    #[test]
    fn every_category_has_a_distinct_code() {
        let codes: BTreeSet<&str> = STATUS_ORDER.iter().map(|c| code(c)).collect();
        assert_eq!(codes.len(), STATUS_ORDER.len());
    }
}
