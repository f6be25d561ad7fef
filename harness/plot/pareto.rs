//! Chart 3: overhead against accuracy error, one panel per workload, with the Pareto front (no
//! other backend is both cheaper and more accurate) drawn and named: the picture for choosing.

use super::{e, font, many_platforms, variant_label, Draw};
use crate::results::{CellRecord, Status};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub label: String,
    pub overhead: f64,
    pub mae_pp: f64,
}

pub struct Panel {
    pub workload: String,
    pub points: Vec<Point>,
    /// Indices into `points`, by rising overhead.
    pub front: Vec<usize>,
}

pub struct Pareto {
    pub panels: Vec<Panel>,
}

/// Points no other point beats on both axes (ties on both keep all), by rising overhead.
pub fn front(points: &[(f64, f64)]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..points.len())
        .filter(|&i| {
            let (x, y) = points[i];
            !points
                .iter()
                .any(|&(ox, oy)| ox <= x && oy <= y && (ox < x || oy < y))
        })
        .collect();
    idx.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0));
    idx
}

const PANEL_W: u32 = 1200;
const PANEL_H: u32 = 480;
const TOP: u32 = 60;

impl Pareto {
    pub fn from_cells(cells: &[CellRecord]) -> Pareto {
        let many = many_platforms(cells);
        let launchers = cells
            .iter()
            .map(|c| variant_label(c, many))
            .collect::<BTreeSet<_>>()
            .len();
        let usable: Vec<&CellRecord> = cells
            .iter()
            .filter(|c| !c.key.is_baseline() && c.status == Status::Ok)
            .collect();
        let workloads: BTreeSet<&str> = usable.iter().map(|c| c.key.workload.as_str()).collect();
        let panels = workloads
            .into_iter()
            .map(|w| {
                let points: Vec<Point> = usable
                    .iter()
                    .filter(|c| c.key.workload == w)
                    .filter_map(|c| {
                        let wall = c.overhead.as_ref()?.wall?;
                        let acc = c.accuracy.as_ref()?;
                        (wall.median > 0.0 && wall.median.is_finite() && acc.mae_pp.is_finite())
                            .then(|| Point {
                                label: if launchers > 1 {
                                    format!("{} ({})", c.key.backend, variant_label(c, many))
                                } else {
                                    c.key.backend.clone()
                                },
                                overhead: wall.median,
                                mae_pp: acc.mae_pp,
                            })
                    })
                    .collect();
                let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.overhead, p.mae_pp)).collect();
                Panel {
                    workload: w.to_string(),
                    front: front(&xy),
                    points,
                }
            })
            .filter(|p| !p.points.is_empty())
            .collect();
        Pareto { panels }
    }
}

impl Draw for Pareto {
    fn size(&self) -> (u32, u32) {
        let n = self.panels.len().max(1) as u32;
        (PANEL_W, TOP + PANEL_H * n)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        e(root.fill(&WHITE))?;
        e(root.draw(&Text::new("Overhead vs accuracy error: the red line joins the backends nothing beats on both (Pareto front)", (16, 12), font(17.0))))?;
        e(root.draw(&Text::new("lower left is better; x: profiled/baseline wall time (log), y: mean abs. error over phases (pp); unnamed points are named in the table", (16, 36), font(13.0).color(&RGBColor(90, 90, 90)))))?;
        if self.panels.is_empty() {
            e(root.draw(&Text::new(
                "no cell has both an overhead and an accuracy yet",
                (16, TOP as i32 + 20),
                font(15.0),
            )))?;
            return Ok(());
        }
        let (_, body) = root.split_vertically(TOP);
        let areas = body.split_evenly((self.panels.len(), 1));
        let front_colour = RGBColor(214, 39, 40);
        let other = RGBColor(31, 119, 180);
        for (panel, area) in self.panels.iter().zip(areas) {
            let xmax = panel
                .points
                .iter()
                .map(|p| p.overhead)
                .fold(1.0f64, f64::max)
                * 1.6;
            let xmin = panel
                .points
                .iter()
                .map(|p| p.overhead)
                .fold(1.0f64, f64::min)
                / 1.15;
            let ymax = panel.points.iter().map(|p| p.mae_pp).fold(1.0f64, f64::max) * 1.2;
            let mut chart = e(ChartBuilder::on(&area)
                .caption(format!("workload: {}", panel.workload), font(16.0))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(
                    (xmin..xmax)
                        .log_scale()
                        .with_key_points(super::log_ticks(xmin, xmax)),
                    0f64..ymax,
                ))?;
            e(chart
                .configure_mesh()
                .x_labels(12)
                .y_labels(6)
                .x_label_formatter(&|v| super::ratio_label(*v))
                .y_label_formatter(&|v| format!("{v:.1}"))
                .x_desc("overhead (wall ratio)")
                .y_desc("MAE (pp)")
                .label_style(font(12.0))
                .axis_desc_style(font(13.0))
                .light_line_style(RGBColor(240, 240, 240))
                .draw())?;
            // The front as a staircase: everything above and right of it is beaten.
            let mut stairs = Vec::new();
            for (k, &i) in panel.front.iter().enumerate() {
                let p = &panel.points[i];
                if k > 0 {
                    stairs.push((
                        p.overhead,
                        stairs.last().map(|s: &(f64, f64)| s.1).unwrap_or(p.mae_pp),
                    ));
                }
                stairs.push((p.overhead, p.mae_pp));
            }
            if let Some(&(_, y)) = stairs.last() {
                stairs.push((xmax, y));
            }
            e(chart.draw_series(std::iter::once(PathElement::new(
                stairs,
                front_colour.stroke_width(2),
            ))))?;
            // Labels are placed greedily where they cover no marker and no earlier label, front
            // first; a point with no free spot stays unnamed rather than making names unreadable.
            let (xr, yr) = chart.plotting_area().get_pixel_range();
            let pixels: Vec<(i32, i32)> = panel
                .points
                .iter()
                .map(|p| chart.backend_coord(&(p.overhead, p.mae_pp)))
                .collect();
            let mut placed: Vec<(i32, i32, i32, i32)> = pixels
                .iter()
                .map(|&(x, y)| (x - 6, y - 6, x + 6, y + 6))
                .collect();
            let mut order: Vec<usize> = (0..panel.points.len()).collect();
            order.sort_by_key(|i| !panel.front.contains(i));
            for i in order {
                let p = &panel.points[i];
                let on_front = panel.front.contains(&i);
                let (colour, size) = if on_front {
                    (front_colour, 13.0)
                } else {
                    (other, 12.0)
                };
                let ink = if on_front {
                    front_colour
                } else {
                    RGBColor(60, 60, 60)
                };
                let style = font(size).color(&ink);
                let marker: ShapeStyle = if on_front {
                    colour.filled()
                } else {
                    colour.stroke_width(2)
                };
                let (px, py) = pixels[i];
                let w = super::text_width(&p.label, size) as i32;
                let h = size as i32 + 2;
                let tries = [
                    (8, -18),
                    (8, 4),
                    (-8 - w, -18),
                    (-8 - w, 4),
                    (8, -34),
                    (8, 20),
                    (-8 - w, -34),
                    (-8 - w, 20),
                    (-w / 2, -36),
                    (-w / 2, 22),
                    (8, -50),
                    (8, 36),
                    (-8 - w, -50),
                    (-8 - w, 36),
                ];
                let free = |(dx, dy): (i32, i32)| {
                    let (x0, y0) = (px + dx, py + dy);
                    let inside =
                        x0 >= xr.start && x0 + w <= xr.end && y0 >= yr.start && y0 + h <= yr.end;
                    inside
                        && !placed
                            .iter()
                            .any(|&(a, b, c, d)| x0 < c && x0 + w > a && y0 < d && y0 + h > b)
                };
                let spot = tries
                    .iter()
                    .copied()
                    .find(|t| free(*t))
                    .or(on_front.then_some(tries[0]));
                let element =
                    EmptyElement::at((p.overhead, p.mae_pp)) + Circle::new((0, 0), 5, marker);
                if let Some(offset) = spot {
                    placed.push((
                        px + offset.0,
                        py + offset.1,
                        px + offset.0 + w,
                        py + offset.1 + h,
                    ));
                    e(chart.draw_series(std::iter::once(
                        element + Text::new(p.label.clone(), offset, style),
                    )))?;
                } else {
                    e(chart.draw_series(std::iter::once(element)))?;
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
    fn the_front_keeps_only_unbeaten_points() {
        let pts = [
            (1.0, 5.0),
            (2.0, 1.0),
            (1.5, 6.0),
            (3.0, 0.5),
            (2.5, 1.0),
            (1.0, 5.0),
        ];
        assert_eq!(front(&pts), vec![0, 5, 1, 3]);
        assert!(front(&[]).is_empty());
    }

    #[test]
    fn panels_use_ok_cells_with_both_numbers() {
        let p = Pareto::from_cells(&testdata::run());
        let single = p.panels.iter().find(|p| p.workload == "single").unwrap();
        let labels: Vec<&str> = single.points.iter().map(|p| p.label.as_str()).collect();
        assert!(
            labels.contains(&"py-spy (direct)") && !labels.iter().any(|l| l.starts_with("none"))
        );
        let on_front: Vec<&str> = single
            .front
            .iter()
            .map(|&i| single.points[i].label.as_str())
            .collect();
        assert_eq!(
            on_front,
            [
                "py-spy (direct)",
                "cprofile (direct)",
                "yappi-wall (direct)"
            ]
        );
    }
}
