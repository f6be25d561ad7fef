//! The advice as a ranked table for the terminal, each row followed by its reasons.

use super::report::Report;
use super::verdict::FunctionAdvice;
use std::fmt::Write;

pub fn render(r: &Report, top: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "profbench advise: {}", r.source);
    let _ = writeln!(out, "  {}", summary(r));
    if let Some(g) = &r.gil {
        let _ = writeln!(
            out,
            "  GIL ceiling: for {:.1} s, {:.1} threads ran Python on {:.2} cores together; released from \
             the GIL they could run up to {:.1}x faster there ({} cores here)",
            g.capped_s, g.threads, g.cores_used, g.ceiling, g.machine_cores
        );
    }
    if !r.sizes.is_empty() {
        let list: Vec<String> = r
            .sizes
            .iter()
            .map(|s| {
                format!(
                    "{} ({:.2} s CPU)",
                    super::growth::size_text(s.size),
                    s.cpu_s
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "  sizes: {}; the table is the largest size's run",
            list.join(", ")
        );
    }
    let _ = writeln!(out);
    let width = r
        .functions
        .iter()
        .take(top)
        .map(|f| where_(f).chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, 60);
    let _ = writeln!(
        out,
        "{:>3}  {:<width$}  {:<28} {:>6} {:>6} {:>6} {:>6}",
        "#", "function", "verdict", "score", "self", "incl", "wait"
    );
    for f in r.functions.iter().take(top) {
        let wait = if f.own_wall_s > 0.0 {
            format!("{:.0}%", 100.0 * f.own_wait_s / f.own_wall_s)
        } else {
            "-".into()
        };
        let _ = writeln!(
            out,
            "{:>3}  {:<width$}  {:<28} {:>6} {:>6} {:>6} {:>6}",
            f.rank,
            truncate(&where_(f), width),
            f.verdict.label(),
            pct(f.score),
            pct(f.self_cpu_share),
            pct(f.inclusive_cpu_share),
            wait,
        );
        for reason in &f.reasons {
            let _ = writeln!(out, "       - {reason}");
        }
    }
    if r.functions.len() > top {
        let _ = writeln!(
            out,
            "     ... {} more rows (--top N, --json or --html show them)",
            r.functions.len() - top
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "score: share of all sampled CPU a Rust rewrite could remove (its own bytecode and short \
         native calls); self/incl: CPU shares; wait: share of its own time off the CPU."
    );
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

fn summary(r: &Report) -> String {
    let wall = r
        .wall_s
        .map_or(String::new(), |w| format!("{w:.2} s wall, "));
    let rate = match (r.achieved_hz, r.interval_s) {
        (Some(a), Some(i)) => format!(" at {a:.0}/{:.0} Hz", 1.0 / i),
        (None, Some(i)) => format!(" at {:.0} Hz asked", 1.0 / i),
        _ => String::new(),
    };
    format!(
        "{wall}{:.2} s of threads sampled ({:.2} s on a CPU) in {} process(es), {} thread(s), {} samples{rate}",
        r.sampled_s, r.cpu_s, r.processes, r.threads, r.samples
    )
}

/// `function  file:line`, the file shortened to its name.
pub fn where_(f: &FunctionAdvice) -> String {
    let file = f.file.rsplit('/').next().unwrap_or(&f.file);
    if f.line > 0 {
        format!("{}  {file}:{}", f.function, f.line)
    } else {
        format!("{}  {file}", f.function)
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
    t.push('…');
    t
}

pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}
