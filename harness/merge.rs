//! `profbench report DIR…`: merges run folders from several machines into one set of reports
//! (Markdown with one column per platform, CSV, JSON, HTML and the charts), refusing folders
//! written with another results schema.

use crate::plot;
use crate::report::{csv, html, json, markdown, table_order};
use crate::results::{write_atomic, CellRecord, RunDir, RunInfo, Status, SCHEMA};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Reads a run folder, checking its schema before anything else so that a folder from another
/// profbench version is refused with the versions named rather than a parse error.
pub fn load(dir: &Path) -> Result<(RunInfo, Vec<CellRecord>)> {
    let path = dir.join("run.json");
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "{} is not a profbench run folder (no run.json)",
            dir.display()
        )
    })?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("malformed {}", path.display()))?;
    match value.get("schema").and_then(|s| s.as_u64()) {
        Some(v) if v == SCHEMA as u64 => {}
        Some(v) => bail!(
            "{}: results schema {v}, but this profbench reads schema {SCHEMA}; report it with the profbench version that wrote it",
            dir.display()
        ),
        None => bail!("{}: run.json has no results schema number; it was not written by profbench", dir.display()),
    }
    let run = RunDir {
        root: dir.to_path_buf(),
    };
    let info = run.read_info()?;
    let (cells, problems) = run.read_cells();
    for p in problems {
        eprintln!("warning: skipped an unreadable cell record: {p}");
    }
    if let Some(c) = cells.iter().find(|c| c.schema != SCHEMA) {
        bail!(
            "{}: cell {} has results schema {}, but this profbench reads schema {SCHEMA}",
            dir.display(),
            c.key.file_name(),
            c.schema
        );
    }
    Ok((info, cells))
}

/// Rewrites one run folder's own reports and charts (e.g. after upgrading profbench).
pub fn rerender(dir: &Path) -> Result<Vec<PathBuf>> {
    let (info, cells) = load(dir)?;
    crate::report::write_all(dir, &info, &cells)
}

/// Merges run folders into `out`: comparison.md (one column per platform), comparison.csv,
/// results.json, report.html and charts/. Returns the paths written.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Vec<PathBuf>> {
    if dirs.is_empty() {
        bail!("no result folders given: profbench report DIR... --out OUT");
    }
    let mut infos = Vec::new();
    let mut by_key: BTreeMap<(String, String, String, String), (CellRecord, PathBuf)> =
        BTreeMap::new();
    for dir in dirs {
        let (info, cells) = load(dir)?;
        for c in cells {
            let key = (
                c.platform_id.clone(),
                c.key.workload.clone(),
                c.key.backend.clone(),
                c.key.launcher.clone(),
            );
            if let Some((old, from)) = by_key.get(&key) {
                // The same cell measured twice on one platform: the newer one stands, and the
                // user is told which folder lost, rather than silently mixing the two.
                let (keep_new, dropped) = if c.finished >= old.finished {
                    (true, from.clone())
                } else {
                    (false, dir.clone())
                };
                eprintln!(
                    "warning: {} / {} / {} on {} is in several folders; using the newer, ignoring the one in {}",
                    key.1,
                    key.2,
                    key.3,
                    key.0,
                    dropped.display()
                );
                if !keep_new {
                    continue;
                }
            }
            by_key.insert(key, (c, dir.clone()));
        }
        infos.push(info);
    }
    let cells: Vec<CellRecord> = by_key.into_values().map(|(c, _)| c).collect();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let charts = plot::render_all(out, dirs, &cells);
    let table = PlatformTable::of(&cells);
    let mut written = Vec::new();
    let mut put = |name: &str, text: String| -> Result<()> {
        let path = out.join(name);
        write_atomic(&path, text.as_bytes())?;
        written.push(path);
        Ok(())
    };
    put("comparison.md", merged_markdown(&infos, &cells, &table))?;
    put("comparison.csv", csv::render_cells(&cells)?)?;
    put("results.json", json::render_many(&infos, &cells)?)?;
    put(
        "report.html",
        html::render_many(&infos, &cells, &charts, Some(&table.to_html())),
    )?;
    for c in charts {
        written.push(c.svg_path);
        written.push(c.png_path);
    }
    Ok(written)
}

/// (workload, backend, launcher), and that row's cell per platform column.
pub type PlatformRow = ((String, String, String), Vec<Option<CellRecord>>);

/// One row per (workload, backend, launcher), one column per platform: the merged view.
pub struct PlatformTable {
    pub platforms: Vec<String>,
    pub rows: Vec<PlatformRow>,
}

/// A compact summary of a cell for a platform column: what a reader scans for first.
fn summary(c: &CellRecord) -> (Option<String>, String) {
    match &c.status {
        Status::Failed { category, .. } => (Some(category.to_string()), category.to_string()),
        Status::Ok => {
            let wall = c.overhead.as_ref().and_then(|o| o.wall);
            let mut s = match wall {
                Some(w) if c.key.is_baseline() => format!("{:.2} s", w.median),
                Some(w) => format!(
                    "{:.2}× [{:.2}, {:.2}]{}",
                    w.median,
                    w.interval.low,
                    w.interval.high,
                    if w.is_noisy() { " noisy" } else { "" }
                ),
                None => "ok".into(),
            };
            if let Some(a) = &c.accuracy {
                let _ = write!(s, " · {:.1} pp", a.mae_pp);
            }
            (None, s)
        }
    }
}

impl PlatformTable {
    pub fn of(cells: &[CellRecord]) -> PlatformTable {
        let platforms: Vec<String> = cells
            .iter()
            .map(|c| c.platform_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut rows: Vec<PlatformRow> = Vec::new();
        for c in table_order(cells) {
            let key = (
                c.key.workload.clone(),
                c.key.backend.clone(),
                c.key.launcher.clone(),
            );
            let col = platforms
                .iter()
                .position(|p| *p == c.platform_id)
                .unwrap_or(0);
            match rows.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v[col] = Some(c.clone()),
                None => {
                    let mut v = vec![None; platforms.len()];
                    v[col] = Some(c.clone());
                    rows.push((key, v));
                }
            }
        }
        PlatformTable { platforms, rows }
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| workload | backend | launcher | {} |",
            self.platforms.join(" | ")
        );
        let _ = writeln!(out, "|---|---|---|{}", "---|".repeat(self.platforms.len()));
        for ((w, b, l), cols) in &self.rows {
            let cells: Vec<String> = cols
                .iter()
                .map(|c| match c.as_ref().map(summary) {
                    Some((Some(_), s)) => format!("**{s}**"),
                    Some((None, s)) => s,
                    None => "not run".into(),
                })
                .collect();
            let _ = writeln!(out, "| {w} | {b} | {l} | {} |", cells.join(" | "));
        }
        out
    }

    pub fn to_html(&self) -> String {
        let mut out = String::from("<h2 id=\"by-platform\">By platform</h2>\n<table class=\"wide\">\n<thead><tr><th>workload</th><th>backend</th><th>launcher</th>");
        for p in &self.platforms {
            let _ = write!(out, "<th>{}</th>", html::esc(p));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for ((w, b, l), cols) in &self.rows {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td>",
                html::esc(w),
                html::esc(b),
                html::esc(l)
            );
            for c in cols {
                match c.as_ref().map(summary) {
                    Some((Some(cat), _)) => {
                        let bg = plot::status_colour(&cat);
                        let ink = plot::ink_on(bg);
                        let _ = write!(
                            out,
                            "<td><span class=\"badge\" style=\"background:#{:02x}{:02x}{:02x};color:#{:02x}{:02x}{:02x}\">{}</span></td>",
                            bg.0,
                            bg.1,
                            bg.2,
                            ink.0,
                            ink.1,
                            ink.2,
                            html::esc(&cat)
                        );
                    }
                    Some((None, s)) => {
                        let _ = write!(out, "<td class=\"num\">{}</td>", html::esc(&s));
                    }
                    None => out.push_str("<td><small>not run</small></td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

fn merged_markdown(infos: &[RunInfo], cells: &[CellRecord], table: &PlatformTable) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# profbench comparison: {} runs merged\n", infos.len());
    for info in infos {
        let p = &info.platform;
        let _ = writeln!(
            out,
            "- `{}` (run `{}`): {} {} {}, {}, Python {}, {}{}, {} × {}",
            p.id,
            info.run_id,
            p.os,
            p.os_version,
            p.arch,
            p.libc,
            p.python,
            if p.root { "root" } else { "not root" },
            if p.container { ", container" } else { "" },
            p.cores,
            p.cpu_model
        );
    }
    let _ = writeln!(out, "\nEach platform column: overhead (profiled / baseline wall, median [95% interval]) · accuracy MAE in pp; for `none` the baseline's seconds; a failure's category in bold (its error is in report.html and comparison.csv).\n");
    out.push_str(&table.to_markdown());
    // Each run's own full table follows, so nothing the single-run report says is lost.
    for info in infos {
        let mine: Vec<CellRecord> = cells
            .iter()
            .filter(|c| c.platform_id == info.platform.id)
            .cloned()
            .collect();
        let text = markdown::render(info, &mine);
        let _ = writeln!(out, "\n---\n");
        out.push_str(&text.replacen("# profbench comparison", "## profbench comparison", 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::testdata;

    fn write_run(dir: &Path, platform: &str, cells: &[CellRecord]) {
        let info = crate::results::test_info(platform, &[]);
        let run = RunDir {
            root: dir.to_path_buf(),
        };
        run.write_info(&info).unwrap();
        for c in cells {
            let mut c = c.clone();
            c.platform_id = platform.into();
            run.write_cell(&c).unwrap();
        }
    }

    #[test]
    fn merges_platforms_into_columns() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b, out) = (
            tmp.path().join("a"),
            tmp.path().join("b"),
            tmp.path().join("out"),
        );
        write_run(&a, "linux", &testdata::run());
        write_run(&b, "macos", &testdata::run()[..3]);
        let written = merge(&[a, b], &out).unwrap();
        for f in [
            "comparison.md",
            "comparison.csv",
            "results.json",
            "report.html",
            "charts/platforms.svg",
        ] {
            assert!(written.contains(&out.join(f)), "{f}");
        }
        let md = std::fs::read_to_string(out.join("comparison.md")).unwrap();
        assert!(
            md.contains("| workload | backend | launcher | linux | macos |"),
            "{md}"
        );
        assert!(
            md.contains("| line | austin | direct | **permission denied** | not run |"),
            "{md}"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
        assert_eq!(json["runs"].as_array().unwrap().len(), 2);
        assert_eq!(
            json["cells"].as_array().unwrap().len(),
            testdata::run().len() + 3
        );
    }

    #[test]
    fn another_schema_is_refused_naming_folder_and_versions() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("old-run");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("run.json"),
            r#"{"schema": 99, "something": "else"}"#,
        )
        .unwrap();
        let err = merge(std::slice::from_ref(&dir), &tmp.path().join("out"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("old-run") && err.contains("99") && err.contains(&SCHEMA.to_string()),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }
}
