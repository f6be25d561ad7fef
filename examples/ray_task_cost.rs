//! Each backend's cost on the `ray` workload split into a fixed part and a part per task,
//! from matrix run folders made at different task counts (docs/ray.md):
//!
//! ```sh
//! cargo run --release --example ray_task_cost -- results/A results/B
//! ```

use profbench::ray_cost::{fit, points_of_run, TaskPoint};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn main() {
    let dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if dirs.len() < 2 {
        eprintln!("give two or more matrix run folders of the ray workload at different PROFBENCH_RAY_TASKS");
        std::process::exit(2);
    }
    let mut by_backend: BTreeMap<String, Vec<TaskPoint>> = BTreeMap::new();
    for d in &dirs {
        for (backend, point) in points_of_run(d) {
            by_backend.entry(backend).or_default().push(point);
        }
    }
    println!("| backend | tasks: median extra s (pairs) | fixed | per task |");
    println!("|---|---|---|---|");
    for (backend, points) in by_backend {
        let shown: Vec<String> = points
            .iter()
            .map(|p| format!("{}: {:+.2} s ({})", p.tasks, p.point.extra_s, p.point.pairs))
            .collect();
        match fit(points) {
            Some(c) => println!(
                "| {backend} | {} | {:+.2} s | {:+.1} ms |",
                shown.join(", "),
                c.fixed_s,
                c.per_task_ms
            ),
            None => println!("| {backend} | {} | – | – |", shown.join(", ")),
        }
    }
}
