//! Chart 1: wall-time overhead per backend, one panel per workload, on a log axis with the
//! 95% interval as whiskers; failed cells are written where their point would be.

use super::{
    backend_rank, e, font, many_platforms, palette, status_category, text_width, variant_label,
    Draw,
};
use crate::results::{CellRecord, Status};
use crate::stats::Estimate;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeSet;

/// One backend's row in a workload's panel: per variant (launcher, platform), its estimate
/// or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub backend: String,
    pub points: Vec<Option<Result<Estimate, String>>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub workload: String,
    pub rows: Vec<Row>,
}

pub struct Overhead {
    pub variants: Vec<String>,
    pub panels: Vec<Panel>,
    /// Shared x range so panels can be compared by eye.
    pub x_range: (f64, f64),
}

const ROW_BASE: u32 = 10;
const PER_VARIANT: u32 = 16;
const PANEL_EXTRA: u32 = 90;
const WIDTH: i32 = 1100;

impl Overhead {
    pub fn from_cells(cells: &[CellRecord]) -> Overhead {
        let many = many_platforms(cells);
        let profiled: Vec<&CellRecord> = cells.iter().filter(|c| !c.key.is_baseline()).collect();
        let variants: Vec<String> = profiled
            .iter()
            .map(|c| variant_label(c, many))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let workloads: BTreeSet<&str> = profiled.iter().map(|c| c.key.workload.as_str()).collect();
        let (mut lo, mut hi) = (1.0f64, 1.0f64);
        let mut panels = Vec::new();
        for w in workloads {
            let mut backends: Vec<String> = profiled
                .iter()
                .filter(|c| c.key.workload == w)
                .map(|c| c.key.backend.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            backends.sort_by(|a, b| (backend_rank(a), a).cmp(&(backend_rank(b), b)));
            let rows = backends
                .into_iter()
                .map(|b| {
                    let points = variants
                        .iter()
                        .map(|v| {
                            let c = profiled.iter().find(|c| {
                                c.key.workload == w
                                    && c.key.backend == b
                                    && &variant_label(c, many) == v
                            })?;
                            let wall = c.overhead.as_ref().and_then(|o| o.wall).filter(|e| {
                                e.median > 0.0
                                    && e.interval.low > 0.0
                                    && e.interval.high.is_finite()
                            });
                            Some(match (&c.status, wall) {
                                (Status::Ok, Some(est)) => {
                                    lo = lo.min(est.interval.low);
                                    hi = hi.max(est.interval.high);
                                    Ok(est)
                                }
                                (Status::Ok, None) => Err("no ratio".into()),
                                _ => Err(status_category(c)),
                            })
                        })
                        .collect();
                    Row { backend: b, points }
                })
                .collect();
            panels.push(Panel {
                workload: w.to_string(),
                rows,
            });
        }
        Overhead {
            variants,
            panels,
            x_range: (lo / 1.15, hi * 1.25),
        }
    }

    fn row_height(&self) -> u32 {
        ROW_BASE + PER_VARIANT * self.variants.len().max(1) as u32
    }

    fn panel_height(&self, p: &Panel) -> u32 {
        PANEL_EXTRA + self.row_height() * p.rows.len() as u32
    }

    fn legend_height(&self) -> i32 {
        40 + super::legend_height(&self.variants, WIDTH - 32) + 10
    }

    fn label_width(&self) -> u32 {
        let w = self
            .panels
            .iter()
            .flat_map(|p| &p.rows)
            .map(|r| text_width(&r.backend, 14.0))
            .max();
        w.unwrap_or(60) + 24
    }
}

impl Draw for Overhead {
    fn size(&self) -> (u32, u32) {
        let h: u32 = self.panels.iter().map(|p| self.panel_height(p)).sum();
        (WIDTH as u32, self.legend_height() as u32 + h.max(80))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        e(root.fill(&WHITE))?;
        e(root.draw(&Text::new(
            "Overhead: profiled / baseline wall time (median, 95% interval; log scale; 1× = no cost)",
            (16, 12),
            font(17.0),
        )))?;
        // Legend: one colour per (platform,) launcher.
        let items: Vec<(RGBColor, String)> = self
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| (palette(i), v.clone()))
            .collect();
        super::legend(root, &items, (16, 40), WIDTH - 16)?;
        if self.panels.is_empty() {
            e(root.draw(&Text::new(
                "no profiled cells in this run",
                (16, 80),
                font(15.0),
            )))?;
            return Ok(());
        }
        let mut breaks = Vec::new();
        let mut y = self.legend_height() as u32;
        for p in &self.panels {
            breaks.push(y as i32);
            y += self.panel_height(p);
        }
        let areas = root.split_by_breakpoints(Vec::<i32>::new(), breaks);
        let label_w = self.label_width();
        let (lo, hi) = self.x_range;
        let k = self.variants.len().max(1);
        for (panel, area) in self.panels.iter().zip(areas.into_iter().skip(1)) {
            let n = panel.rows.len();
            let mut chart = e(ChartBuilder::on(&area)
                .caption(format!("workload: {}", panel.workload), font(16.0))
                .margin(8)
                .margin_right(100)
                .x_label_area_size(40)
                .y_label_area_size(label_w)
                .build_cartesian_2d(
                    (lo..hi)
                        .log_scale()
                        .with_key_points(super::log_ticks(lo, hi)),
                    0f64..n as f64,
                ))?;
            e(chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(0)
                .x_labels(12)
                .x_label_formatter(&|v| super::ratio_label(*v))
                .x_desc("profiled / baseline wall time")
                .label_style(font(12.0))
                .axis_desc_style(font(13.0))
                .draw())?;
            let grey = RGBColor(110, 110, 110);
            e(chart.draw_series(std::iter::once(PathElement::new(
                vec![(1.0, 0.0), (1.0, n as f64)],
                grey.stroke_width(1),
            ))))?;
            for (i, row) in panel.rows.iter().enumerate() {
                // Row 0 at the top.
                let centre = n as f64 - i as f64 - 0.5;
                let (lx, ly) = chart.backend_coord(&(lo, centre));
                e(area.draw(&Text::new(
                    row.backend.clone(),
                    (
                        lx - area.get_base_pixel().0 - 8,
                        ly - area.get_base_pixel().1,
                    ),
                    font(14.0).pos(Pos::new(HPos::Right, VPos::Center)),
                )))?;
                if i > 0 {
                    let sep = n as f64 - i as f64;
                    e(chart.draw_series(std::iter::once(PathElement::new(
                        vec![(lo, sep), (hi, sep)],
                        RGBColor(230, 230, 230),
                    ))))?;
                }
                for (v, point) in row.points.iter().enumerate() {
                    let y = centre + (v as f64 - (k as f64 - 1.0) / 2.0) * (0.8 / k as f64);
                    let colour = palette(v);
                    match point {
                        None => {}
                        Some(Ok(est)) => {
                            let (l, h) = (est.interval.low, est.interval.high);
                            e(chart.draw_series(std::iter::once(PathElement::new(
                                vec![(l, y), (h, y)],
                                colour.stroke_width(2),
                            ))))?;
                            e(chart.draw_series([l, h].into_iter().map(|x| {
                                EmptyElement::at((x, y))
                                    + PathElement::new(
                                        vec![(0, -4), (0, 4)],
                                        colour.stroke_width(2),
                                    )
                            })))?;
                            e(chart.draw_series(std::iter::once(
                                EmptyElement::at((est.median, y))
                                    + Circle::new((0, 0), 4, colour.filled()),
                            )))?;
                            // The value goes past the whisker's end, where nothing else is drawn.
                            e(chart.draw_series(std::iter::once(
                                EmptyElement::at((h, y))
                                    + Text::new(
                                        format!(
                                            "{:.2}×{}",
                                            est.median,
                                            if est.is_noisy() { " noisy" } else { "" }
                                        ),
                                        (8, 0),
                                        font(12.0)
                                            .color(&RGBColor(60, 60, 60))
                                            .pos(Pos::new(HPos::Left, VPos::Center)),
                                    ),
                            )))?;
                        }
                        Some(Err(why)) => {
                            e(chart.draw_series(std::iter::once(
                                EmptyElement::at((lo, y))
                                    + Text::new(
                                        format!("✗ {why}"),
                                        (6, 0),
                                        font(12.0)
                                            .color(&super::status_colour(why))
                                            .pos(Pos::new(HPos::Left, VPos::Center)),
                                    ),
                            )))?;
                        }
                    }
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
    fn rows_skip_the_baseline_and_keep_failures() {
        let o = Overhead::from_cells(&testdata::run());
        assert_eq!(o.variants, ["direct", "uv"]);
        let single = o.panels.iter().find(|p| p.workload == "single").unwrap();
        let names: Vec<&str> = single.rows.iter().map(|r| r.backend.as_str()).collect();
        assert_eq!(names, ["cprofile", "yappi-wall", "py-spy", "scalene"]);
        let pyspy = &single.rows[2];
        assert!(matches!(&pyspy.points[1], Some(Err(w)) if w == "target not found"));
        assert!(o.x_range.0 < 1.0 && o.x_range.1 > 3.0);
    }
}
