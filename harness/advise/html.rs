//! The advice as one self-contained HTML page (no scripts, no outside files): the run's facts,
//! the ranked table with each row's reasons, and the growth fits when sizes were run.

use super::report::Report;
use super::terminal::pct;
use super::verdict::FunctionAdvice;
use std::fmt::Write;

pub fn render(r: &Report) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>profbench advise: {}</title><style>{CSS}</style></head><body>\n",
        esc(&r.source)
    );
    let _ = writeln!(h, "<h1>Which functions to move to Rust</h1>");
    let _ = writeln!(h, "<p class=\"src\"><code>{}</code></p>", esc(&r.source));
    let _ = writeln!(h, "<ul class=\"facts\">");
    if let Some(w) = r.wall_s {
        let _ = writeln!(h, "<li>{w:.2} s wall</li>");
    }
    let _ = writeln!(
        h,
        "<li>{:.2} s of threads sampled, {:.2} s on a CPU</li><li>{} process(es), {} thread(s), {} samples</li>",
        r.sampled_s, r.cpu_s, r.processes, r.threads, r.samples
    );
    if let (Some(a), Some(i)) = (r.achieved_hz, r.interval_s) {
        let _ = writeln!(h, "<li>{a:.0} of {:.0} Hz achieved</li>", 1.0 / i);
    }
    if let Some(g) = &r.gil {
        let _ = writeln!(
            h,
            "<li class=\"gil\">GIL ceiling: for {:.1} s, {:.1} threads ran Python on {:.2} cores together; \
             released from the GIL they could run up to {:.1}× faster there ({} cores here)</li>",
            g.capped_s, g.threads, g.cores_used, g.ceiling, g.machine_cores
        );
    }
    let _ = writeln!(h, "</ul>");

    let _ = writeln!(
        h,
        "<table><thead><tr><th>#</th><th>function</th><th>verdict</th><th title=\"share of all sampled \
         CPU a Rust rewrite could remove\">score</th><th>self CPU</th><th>incl. CPU</th>\
         <th>own time: bytecode / library / short native / long native CPU, waiting, held back (s)</th>\
         <th>calls ≥</th><th>reasons</th></tr></thead><tbody>"
    );
    for f in &r.functions {
        row(&mut h, f);
    }
    let _ = writeln!(h, "</tbody></table>");

    if !r.sizes.is_empty() {
        let _ = writeln!(h, "<h2>Growth with size</h2><table><thead><tr><th>size</th><th>wall (s)</th><th>CPU (s)</th><th>samples</th></tr></thead><tbody>");
        for s in &r.sizes {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td></tr>",
                super::growth::size_text(s.size),
                s.wall_s.map_or("–".into(), |w| format!("{w:.3}")),
                s.cpu_s,
                s.samples
            );
        }
        let _ = writeln!(h, "</tbody></table><table><thead><tr><th>function</th><th>exponent</th><th>R²</th><th>points (size: CPU s)</th></tr></thead><tbody>");
        for f in r.functions.iter().filter(|f| f.growth.is_some()) {
            let g = f.growth.as_ref().unwrap();
            let points: Vec<String> = g
                .points
                .iter()
                .map(|(s, t)| format!("{}: {t:.3}", super::growth::size_text(*s)))
                .collect();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td></tr>",
                esc(&f.function),
                g.exponent,
                g.r2,
                esc(&points.join(", "))
            );
        }
        let _ = writeln!(h, "</tbody></table>");
    }
    let _ = writeln!(h, "<h2>Notes</h2><ul>");
    for n in &r.notes {
        let _ = writeln!(h, "<li>{}</li>", esc(n));
    }
    let _ = writeln!(h, "</ul></body></html>");
    h
}

fn row(h: &mut String, f: &FunctionAdvice) {
    let class = if f.verdict.worth_it() { "yes" } else { "no" };
    let reasons: String = f
        .reasons
        .iter()
        .map(|r| format!("<li>{}</li>", esc(r)))
        .collect();
    let _ = writeln!(
        h,
        "<tr class=\"{class}\"><td>{}</td><td><b>{}</b><br><small>{}:{}</small></td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{:.3} / {:.3} / {:.3} / {:.3}, {:.3}, {:.3}</td><td>{}</td><td><ul>{reasons}</ul></td></tr>",
        f.rank,
        esc(&f.function),
        esc(&f.file),
        f.line,
        esc(f.verdict.label()),
        pct(f.score),
        pct(f.self_cpu_share),
        pct(f.inclusive_cpu_share),
        f.own_python_cpu_s,
        f.own_library_cpu_s,
        f.own_native_short_cpu_s,
        f.own_native_long_cpu_s,
        f.own_wait_s,
        f.own_stalled_s,
        f.calls.entries_lower_bound,
    );
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}\
th{background:#f3f3f3}tr.yes td:nth-child(3){color:#0a6b2d;font-weight:bold}tr.no td:nth-child(3){color:#777}\
td ul{margin:0;padding-left:1.2em}code{background:#f6f6f6;padding:2px 4px}.gil{color:#8a4b00}";

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            esc("<listcomp> & \"x\""),
            "&lt;listcomp&gt; &amp; &quot;x&quot;"
        );
    }
}
