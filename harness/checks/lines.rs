//! Axis 4, line level.

use super::frames::{bare, phase_of};
use super::{na, no_profile, Decided, Inputs, Verdict};
use profbench_profilers::Profile;
use std::collections::BTreeMap;
use std::path::Path;

/// Seconds per line of one function (`file` basename, lines `first..end`): the backend's line
/// records when it has any there, else from samples, each sample's innermost frame of that
/// function giving its executing line (inclusive of what that line calls). Call records
/// carry only a function's first line: no line data.
fn line_times(p: &Profile, file: &str, first: u32, end: u32) -> (BTreeMap<u32, f64>, &'static str) {
    let base = Path::new(file)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let in_range = |f: &str, line: u32| f.ends_with(&base) && line >= first && line < end;
    let mut out = BTreeMap::new();
    // A line's time includes what it calls (`sum(range(10**7))` is one C call): inclusive
    // where the backend reports it, else its self time, which for a line calling only C
    // functions is the same.
    for l in &p.lines {
        if in_range(&l.file, l.line) {
            *out.entry(l.line).or_insert(0.0) += l.inclusive.unwrap_or(l.time);
        }
    }
    if !out.is_empty() {
        return (out, "line records");
    }
    for s in &p.samples {
        let inner = s.stack.iter().rev().find(|&&i| {
            let f = &p.frames[i as usize];
            f.line > 0 && in_range(&f.file, f.line)
        });
        if let Some(&i) = inner {
            *out.entry(p.frames[i as usize].line).or_insert(0.0) += s.weight;
        }
    }
    (out, "sampled lines")
}

/// The line of `def NAME(` (or `async def`) in the source, 1-based.
fn def_line(source: &str, name: &str) -> Option<u32> {
    let wanted = format!("def {name}(");
    source
        .lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with(&wanted)
                || l.strip_prefix("async ")
                    .is_some_and(|r| r.starts_with(&wanted))
        })
        .map(|i| i as u32 + 1)
}

/// The function's lines: from its `def` line to the next top-level statement.
fn function_span(source: &str, first: u32) -> u32 {
    let lines: Vec<&str> = source.lines().collect();
    let mut end = first as usize + 1;
    while end <= lines.len() {
        let l = lines[end - 1];
        if !l.trim().is_empty() && !l.starts_with([' ', '\t', '#']) {
            break;
        }
        end += 1;
    }
    end as u32
}

fn find_line(source: &str, first: u32, end: u32, text: &str) -> Option<u32> {
    source
        .lines()
        .enumerate()
        .map(|(i, l)| (i as u32 + 1, l))
        .find(|(n, l)| *n >= first && *n < end && l.contains(text))
        .map(|(n, _)| n)
}

/// Axis 4, line level, on the header's `heavy-line=FUNCTION:TEXT` (and `light-line=`, a line
/// of the same function that should hold almost no time). Line numbers are found by reading
/// the workload source at the truth phase's `file` and searching for the lines' text.
/// - With a light line: the heavy line holds ≥ 90% of the function's line time and the light
///   line ≤ 1% → pass; the heavy line ranked first but a threshold missed → partial;
///   otherwise fail.
/// - Without: the heavy line ranked first among the function's lines → pass; present but not
///   first → partial; absent → fail.
/// - No line data for the function (call records only) → fail, "no line-level data".
pub fn line_level(inputs: &Inputs) -> Decided {
    let Some(heavy_target) = &inputs.targets.heavy_line else {
        return na(format!(
            "workload {} names no hot line (header heavy-line=)",
            inputs.workload
        ));
    };
    let heavy_text = heavy_target.text.as_str();
    let light_text = inputs.targets.light_line.as_ref().map(|l| l.text.as_str());
    let Some(truth) = inputs.truth else {
        return na("no truth: the workload source and its line numbers are unknown");
    };
    let Some(ph) = phase_of(Some(truth), &heavy_target.function) else {
        return na(format!(
            "the truth has no phase of {}",
            heavy_target.function
        ));
    };
    let Ok(source) = std::fs::read_to_string(&ph.file) else {
        return na(format!("cannot read the workload source {}", ph.file));
    };
    let func = bare(&ph.function);
    // The run's line numbers are those of the source as it ran; lines added above the
    // function since (a header line) move it: find its `def` now and read the source there,
    // in the run's numbering.
    let first = def_line(&source, func).unwrap_or(ph.line);
    let shift = |line: u32| (line + ph.line).saturating_sub(first);
    let end = shift(function_span(&source, first));
    let Some(heavy) =
        find_line(&source, first, function_span(&source, first), heavy_text).map(shift)
    else {
        return na(format!("no `{heavy_text}` line in {func}"));
    };
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let (times, source_kind) = line_times(p, &ph.file, ph.line, end);
    let total: f64 = times.values().sum();
    if times.is_empty() || total <= 0.0 {
        return (
            Verdict::Fail,
            format!(
                "no line-level data for {func} (lines {}–{})",
                ph.line,
                end - 1
            ),
        );
    }
    let mut ranked: Vec<(u32, f64)> = times.iter().map(|(&l, &t)| (l, t)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let rank = ranked.iter().position(|(l, _)| *l == heavy);
    let heavy_s = times.get(&heavy).copied().unwrap_or(0.0);
    let heavy_share = heavy_s / total;
    match light_text {
        Some(light_text) => {
            let light = find_line(&source, first, function_span(&source, first), light_text)
                .map_or(0, shift);
            let light_share = times.get(&light).copied().unwrap_or(0.0) / total;
            let ev = format!(
                "{func} ({source_kind}): line {heavy} `{heavy_text}` {:.1}%, line {light} `{light_text}` {:.2}% of {total:.3} s",
                heavy_share * 100.0,
                light_share * 100.0
            );
            if heavy_share >= 0.90 && light_share <= 0.01 {
                (Verdict::Pass, ev)
            } else if rank == Some(0) {
                (Verdict::Partial, ev)
            } else {
                (Verdict::Fail, ev)
            }
        }
        None => {
            let ev = format!(
                "{func} ({source_kind}): line {heavy} `{heavy_text}` ranked {} of {} lines, {:.1}% of {total:.3} s",
                rank.map(|r| (r + 1).to_string()).unwrap_or("-".into()),
                ranked.len(),
                heavy_share * 100.0
            );
            match rank {
                Some(0) => (Verdict::Pass, ev),
                Some(_) => (Verdict::Partial, ev),
                None => (Verdict::Fail, ev),
            }
        }
    }
}
