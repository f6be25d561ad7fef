//! `report.html`: one self-contained page (inline CSS, a few lines of inline JS, the charts'
//! SVG inlined; nothing fetched, so it works offline and as a CI artifact) with the sortable
//! table, the charts and every failure's reason.

use super::{table_order, ExportError, Exporter};
use crate::plot::{status_colour, Chart};
use crate::results::{CellRecord, RunInfo, Status};
use crate::stats::Estimate;
use std::fmt::Write;

pub struct Html;

/// Escapes text for HTML content and attribute values alike.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn ratio(e: Option<Estimate>) -> (String, String) {
    match e {
        Some(e) => (
            format!("{}", e.median),
            format!(
                "{:.2}× <small>[{:.2}, {:.2}]</small>{}",
                e.median,
                e.interval.low,
                e.interval.high,
                if e.is_noisy() {
                    " <span class=\"noisy\">noisy</span>"
                } else {
                    ""
                }
            ),
        ),
        None => (String::new(), "–".into()),
    }
}

fn badge(category: &str) -> String {
    let bg = status_colour(category);
    let ink = crate::plot::ink_on(bg);
    format!(
        "<span class=\"badge\" style=\"background:{};color:{}\">{}</span>",
        hex(bg),
        hex(ink),
        esc(category)
    )
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:1500px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;width:100%}
th,td{border:1px solid #ddd;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#f3f3f3;cursor:pointer;user-select:none;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.num{text-align:right;white-space:nowrap}
td.platform{white-space:nowrap;font-size:.85em}
tr.failed td{background:#fff8f6}
.badge{display:inline-block;padding:0 .45em;border-radius:.3em;font-weight:600;white-space:nowrap}
.noisy{color:#b35900;font-weight:600}
details pre{white-space:pre-wrap;font-size:.85em;background:#f7f7f7;padding:.5em;margin:.3em 0;max-width:60em;overflow-x:auto}
figure{margin:1em 0 2em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-weight:600;margin-bottom:.3em}
.meta{color:#555;font-size:.9em}
small{color:#666}
"#;

/// Sorts on click (numbers by `data-sort`, text otherwise; empty values stay last either way).
/// `#sort=<column>` or `#sort=<column>,desc` in the URL sorts on load, so a link can share a view.
const SCRIPT: &str = r#"
(function(){
  var t=document.getElementById('results'); if(!t) return;
  var ths=t.tHead.rows[0].cells;
  function key(row,i){var c=row.cells[i];var s=c.getAttribute('data-sort');return s===null?c.textContent.trim():s;}
  function sortBy(i,dir){
    var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),num=ths[i].getAttribute('data-type')==='num';
    rows.sort(function(x,y){
      var a=key(x,i),c=key(y,i);
      if(a===''||c==='') return a===c?0:(a===''?1:-1);
      return dir*(num?parseFloat(a)-parseFloat(c):a.localeCompare(c));
    });
    rows.forEach(function(r){b.appendChild(r);});
    for(var k=0;k<ths.length;k++) ths[k].removeAttribute('aria-sort');
    ths[i].setAttribute('aria-sort',dir>0?'ascending':'descending');
  }
  for(var i=0;i<ths.length;i++)(function(i){ths[i].addEventListener('click',function(){
    sortBy(i,ths[i].getAttribute('aria-sort')==='ascending'?-1:1);});})(i);
  var m=/^#sort=([\w-]+)(,desc)?$/.exec(location.hash);
  if(m) for(var j=0;j<ths.length;j++) if(ths[j].getAttribute('data-key')===m[1]) sortBy(j,m[2]?-1:1);
})();
"#;

/// Column key, header and whether it sorts as a number.
const COLUMNS: [(&str, &str, bool); 11] = [
    ("platform", "platform", false),
    ("workload", "workload", false),
    ("backend", "backend", false),
    ("launcher", "launcher", false),
    ("status", "status", false),
    ("overhead", "overhead (wall)", true),
    ("cpu", "CPU ratio", true),
    ("rss", "peak RSS ratio", true),
    ("mae", "accuracy MAE (pp)", true),
    ("worst", "worst phase", false),
    ("pairs", "pairs", true),
];

/// `show_platform`: only merged pages need the column; a single run names its platform above.
fn row(out: &mut String, c: &CellRecord, show_platform: bool) {
    let failed = matches!(c.status, Status::Failed { .. });
    let status = match &c.status {
        Status::Ok => ("ok".to_string(), badge("ok")),
        Status::Failed { category, error } => {
            let cat = category.to_string();
            let (first, _) = super::csv::first_last_lines(error);
            (
                cat.clone(),
                format!(
                    "{} {}<details><summary>error</summary><pre>{}</pre></details>",
                    badge(&cat),
                    esc(&first),
                    esc(error)
                ),
            )
        }
    };
    let o = c.overhead.as_ref();
    let wall = o.and_then(|o| o.wall);
    let overhead = if c.key.is_baseline() {
        (
            String::new(),
            wall.map(|w| {
                format!(
                    "{:.2} s <small>[{:.2}, {:.2}] baseline</small>",
                    w.median, w.interval.low, w.interval.high
                )
            })
            .unwrap_or_else(|| "–".into()),
        )
    } else if failed {
        (String::new(), "–".into())
    } else {
        ratio(wall)
    };
    let (cpu, rss) = if c.key.is_baseline() {
        ((String::new(), "–".into()), (String::new(), "–".into()))
    } else {
        (
            ratio(o.and_then(|o| o.cpu)),
            ratio(o.and_then(|o| o.peak_rss)),
        )
    };
    let (mae, mae_text, worst) = match (&c.accuracy, &c.accuracy_note) {
        (Some(a), _) => (
            format!("{}", a.mae_pp),
            format!(
                "{:.1} <small>({} clock)</small>",
                a.mae_pp,
                format!("{:?}", a.clock).to_lowercase()
            ),
            format!(
                "{} <small>{:.1} pp</small>",
                esc(&a.worst_phase),
                a.worst_pp
            ),
        ),
        (None, Some(n)) if !c.key.is_baseline() && !failed => {
            (String::new(), format!("n/a: {}", esc(n)), String::new())
        }
        _ => (String::new(), "–".into(), String::new()),
    };
    let pairs = wall.map(|w| w.n).unwrap_or(0);
    let version = c
        .backend_version
        .as_deref()
        .map(|v| format!(" <small>{}</small>", esc(v)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "<tr class=\"cell{}\" data-status=\"{}\">{}<td>{}</td><td data-sort=\"{}\" title=\"{}\">{}{}</td><td>{}</td><td data-sort=\"{}\">{}</td><td class=\"num\" data-sort=\"{}\">{}</td><td class=\"num\" data-sort=\"{}\">{}</td><td class=\"num\" data-sort=\"{}\">{}</td><td class=\"num\" data-sort=\"{}\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
        if failed { " failed" } else { "" },
        esc(&status.0),
        if show_platform { format!("<td class=\"platform\">{}</td>", esc(&c.platform_id)) } else { String::new() },
        esc(&c.key.workload),
        esc(&c.key.backend),
        esc(&c.backend_description),
        esc(&c.key.backend),
        version,
        esc(&c.key.launcher),
        esc(&status.0),
        status.1,
        overhead.0,
        overhead.1,
        cpu.0,
        cpu.1,
        rss.0,
        rss.1,
        mae,
        mae_text,
        worst,
        pairs
    );
}

fn platform_line(info: &RunInfo) -> String {
    let p = &info.platform;
    format!(
        "<li><b>{}</b> (run <code>{}</code>): {} {} {}, {}, Python {}, {}{}, ptrace: {}, {} × {}, load {:.2} → {}; profbench {}</li>",
        esc(&p.id),
        esc(&info.run_id),
        esc(&p.os),
        esc(&p.os_version),
        esc(&p.arch),
        esc(&p.libc),
        esc(&p.python),
        if p.root { "root" } else { "not root" },
        if p.container { ", container" } else { "" },
        esc(&p.ptrace),
        p.cores,
        esc(&p.cpu_model),
        p.load_at_start,
        p.load_at_end.map(|l| format!("{l:.2}")).unwrap_or_else(|| "?".into()),
        esc(&info.profbench_version)
    )
}

/// The page for any set of run infos and cells. `extra` is trusted, already-escaped HTML placed
/// before the table (the merged report's platform-column table).
pub fn render_many(
    infos: &[RunInfo],
    cells: &[CellRecord],
    charts: &[Chart],
    extra: Option<&str>,
) -> String {
    let mut out = String::new();
    let title = match infos {
        [one] => format!("profbench comparison: run {}", one.run_id),
        many => format!("profbench comparison: {} runs merged", many.len()),
    };
    let _ = writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>", esc(&title));
    let _ = writeln!(out, "<h1>{}</h1>", esc(&title));
    let _ = writeln!(out, "<ul class=\"meta\">");
    for info in infos {
        let _ = writeln!(out, "{}", platform_line(info));
    }
    let _ = writeln!(out, "</ul>");
    let _ = writeln!(out, "<p class=\"meta\">Overhead = profiled wall / baseline wall, median over pairs (a profiled run and its own baseline run, or in rounds the mean of the baseline runs just before and after it) [95% order-statistic interval of the median; fewer than 6 pairs cannot reach 95%]. For <code>none</code>, the baseline wall time itself. Accuracy = mean absolute error of each phase's share of the phase functions' time vs ground truth, in percentage points, in the backend's own clock. Click a column header to sort.</p>");
    let ordered = table_order(cells);
    let failures: Vec<&&CellRecord> = ordered
        .iter()
        .filter(|c| matches!(c.status, Status::Failed { .. }))
        .collect();
    let _ = writeln!(
        out,
        "<p><a href=\"#results\">table</a> · <a href=\"#charts\">charts</a> · <a href=\"#failures\">failures ({})</a> · <a href=\"#warnings\">warnings</a></p>",
        failures.len()
    );
    if let Some(extra) = extra {
        out.push_str(extra);
    }
    let _ = writeln!(out, "<h2>Results</h2>\n<table id=\"results\">\n<thead><tr>");
    let show_platform = crate::plot::many_platforms(cells);
    for (key, name, numeric) in COLUMNS
        .into_iter()
        .filter(|c| show_platform || c.0 != "platform")
    {
        let _ = write!(
            out,
            "<th data-key=\"{key}\" data-type=\"{}\">{name}</th>",
            if numeric { "num" } else { "text" }
        );
    }
    let _ = writeln!(out, "</tr></thead>\n<tbody>");
    for c in &ordered {
        row(&mut out, c, show_platform);
    }
    let _ = writeln!(out, "</tbody>\n</table>");
    let _ = writeln!(out, "<h2 id=\"charts\">Charts</h2>");
    if charts.is_empty() {
        let _ = writeln!(
            out,
            "<p>No charts could be drawn (see the warnings profbench printed).</p>"
        );
    }
    for ch in charts {
        let _ = writeln!(
            out,
            "<figure id=\"chart-{}\" class=\"chart\"><figcaption>{} <small><a href=\"charts/{}.png\">PNG</a> · <a href=\"charts/{}.svg\">SVG</a></small></figcaption>\n{}\n</figure>",
            ch.name,
            esc(ch.title),
            ch.name,
            ch.name,
            // plotters writes an XML prolog-free <svg> element; it is inlined as is.
            ch.svg.trim()
        );
    }
    let extras: Vec<String> = super::extras_rows(&ordered)
        .iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().map(|t| format!("<td>{}</td>", esc(t))).collect();
            format!("<tr>{}</tr>", cells.join(""))
        })
        .collect();
    if !extras.is_empty() {
        let _ = writeln!(
            out,
            "<h2 id=\"cost\">Cost split, actionability and function bias</h2>\n<p>{}</p>\n<table><thead><tr><th>workload</th><th>backend</th><th>launcher</th><th>cost: fixed + running</th><th>actionability</th><th>function bias</th></tr></thead><tbody>\n{}\n</tbody></table>",
            esc(super::EXTRAS_LEGEND),
            extras.join("\n")
        );
    }
    out.push_str(&super::self_time::html(cells, esc));
    let _ = writeln!(out, "<h2 id=\"failures\">Failures</h2>");
    if failures.is_empty() {
        let _ = writeln!(out, "<p>None.</p>");
    } else {
        let _ = writeln!(out, "<ul class=\"failures\">");
        for c in failures {
            if let Status::Failed { category, error } = &c.status {
                let (first, last) = super::csv::first_last_lines(error);
                let _ = writeln!(
                    out,
                    "<li><b>{} / {} / {}</b> <small>{}</small>: {} {}<details><summary>{}</summary><pre>{}</pre></details></li>",
                    esc(&c.key.workload),
                    esc(&c.key.backend),
                    esc(&c.key.launcher),
                    esc(&c.platform_id),
                    badge(&category.to_string()),
                    esc(&first),
                    esc(&last),
                    esc(error)
                );
            }
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "<h2 id=\"warnings\">Warnings</h2>");
    let notes: Vec<String> = ordered
        .iter()
        .filter_map(|c| {
            let said = super::cell_warnings(c);
            (!said.is_empty()).then(|| {
                format!(
                    "<li><b>{} / {} / {}</b>: {}</li>",
                    esc(&c.key.workload),
                    esc(&c.key.backend),
                    esc(&c.key.launcher),
                    esc(&said.join("; "))
                )
            })
        })
        .collect();
    if notes.is_empty() {
        let _ = writeln!(out, "<p>None.</p>");
    } else {
        let _ = writeln!(out, "<ul>\n{}\n</ul>", notes.join("\n"));
    }
    let missing: Vec<String> = super::unmeasured(infos, cells)
        .iter()
        .map(|m| esc(m))
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Not measured</h2>\n<p>{} planned cell(s) have no run (the budget was spent, or the run was interrupted); the same command with <code>--resume</code> runs them: {}.</p>",
            missing.len(),
            missing.join(", ")
        );
    }
    let _ = writeln!(out, "<script>{SCRIPT}</script>\n</body>\n</html>");
    out
}

impl Exporter for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, info: &RunInfo, cells: &[CellRecord]) -> Result<String, ExportError> {
        Ok(render_many(std::slice::from_ref(info), cells, &[], None))
    }

    fn render_with_charts(
        &self,
        info: &RunInfo,
        cells: &[CellRecord],
        charts: &[Chart],
    ) -> Result<String, ExportError> {
        Ok(render_many(std::slice::from_ref(info), cells, charts, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::testdata;

    #[test]
    fn text_is_escaped_everywhere() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let page = render_many(&[], &testdata::run(), &[], None);
        assert!(page.contains("no python in &lt;uv&gt; &amp; friends"));
        assert!(!page.contains("<uv>"));
    }

    #[test]
    fn page_is_self_contained_with_one_row_per_cell() {
        let cells = testdata::run();
        let page = render_many(&[], &cells, &[], None);
        assert_eq!(page.matches("<tr class=\"cell").count(), cells.len());
        for external in ["<link", "src=\"http", "src='http", "@import", "url("] {
            assert!(!page.contains(external), "{external}");
        }
        assert_eq!(
            page.matches("<details>").count(),
            2 * 2,
            "each failure in the table and in the list"
        );
    }
}
