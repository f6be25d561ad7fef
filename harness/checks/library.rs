//! Axis 3, library transparency.

use super::frames::{describe_frame, frames_named_any, in_import, is, is_module_code, secs, short};
use super::{na, no_profile, Decided, Inputs, Verdict};
use crate::targets::LibraryUse;
use std::collections::{BTreeSet, HashMap};

/// A frame's bare function name, without the decorations tracers add
/// (`<method 'dot' of 'numpy.ndarray' objects>`, `<built-in method _json.scanstring>`).
fn bare_api(function: &str) -> &str {
    function
        .rsplit(['.', ' '])
        .next()
        .unwrap_or(function)
        .trim_end_matches(['>', '}', '\''])
}

/// A frame inside `library`: its file sits in the library's folder (`json/`, `numpy/`), or it
/// is a native or builtin frame naming the library's module (`_json.`, `numpy.`), or a
/// function the workload calls in a file named after the library.
fn in_library(u: &LibraryUse, file: &str, function: &str) -> bool {
    let lib = u.library.as_str();
    file.contains(&format!("{lib}/"))
        || function.contains(&format!("{lib}."))
        || (file.contains(lib) && u.functions.iter().any(|f| f == bare_api(function)))
}

/// A library function the workload calls (`dumps`, `<method 'dot' of ...>`): call records
/// have no stacks, so only these count there, not what runs at `import numpy`.
fn is_called(u: &LibraryUse, file: &str, function: &str) -> bool {
    in_library(u, file, function)
        && u.functions
            .iter()
            .any(|f| bare_api(function) == f || function.contains(&format!("'{f}'")))
}

/// Axis 3, library transparency, on the header's `library=CALLERS:LIB.FUNCTION,...` lines:
/// frames *inside* each named library must be seen (see `in_library`).
///
/// In samples the frame must sit below one of the callers in the same stack, and not inside
/// an import (numpy 2 imports numpy.random lazily, on first use inside the phase); call
/// records carry no stacks, so there only the library functions the header names count;
/// line-only profiles count lines in the library's files outside module code. Every library
/// seen → pass; some → partial; none → fail.
pub fn library_transparency(inputs: &Inputs) -> Decided {
    let uses = &inputs.targets.libraries;
    if uses.is_empty() {
        return na(format!(
            "workload {} names no library calls (header library=)",
            inputs.workload
        ));
    }
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let names = inputs.targets.library_names();
    let callers: BTreeSet<&str> = uses
        .iter()
        .flat_map(|u| u.callers.iter().map(String::as_str))
        .collect();
    let callers: Vec<&str> = callers.into_iter().collect();
    let phase_mask = frames_named_any(p, &callers);
    // Library frames (by description) and their seconds, per library.
    let mut seen: HashMap<&str, HashMap<String, f64>> = HashMap::new();
    let library_of = |file: &str, function: &str| {
        uses.iter()
            .find(|u| in_library(u, file, function))
            .map(|u| u.library.as_str())
    };
    for s in &p.samples {
        let Some(at) = s.stack.iter().position(|&i| is(&phase_mask, i)) else {
            continue;
        };
        let below: BTreeSet<u32> = s.stack[at + 1..].iter().copied().collect();
        if below.iter().any(|&i| in_import(&p.frames[i as usize].file)) {
            continue;
        }
        for i in below {
            let f = &p.frames[i as usize];
            if let Some(lib) = library_of(&f.file, &f.function) {
                *seen
                    .entry(lib)
                    .or_default()
                    .entry(describe_frame(p, i))
                    .or_default() += s.weight;
            }
        }
    }
    for st in &p.functions {
        let f = &p.frames[st.frame as usize];
        if st.calls == 0 || is_module_code(&f.function) {
            continue;
        }
        if let Some(u) = uses.iter().find(|u| is_called(u, &f.file, &f.function)) {
            *seen
                .entry(u.library.as_str())
                .or_default()
                .entry(describe_frame(p, st.frame))
                .or_default() += st.inclusive;
        }
    }
    // Line-only profiles (line_profiler) can name library files too; their lines carry no
    // stack, so import-time lines (`<module>`) are left out. Profiles with samples or call
    // records were judged above, with the callers in view.
    let line_only = p.samples.is_empty() && p.functions.is_empty();
    for l in p
        .lines
        .iter()
        .filter(|l| line_only && l.function.as_deref().is_none_or(|f| !is_module_code(f)))
    {
        if let Some(u) = uses
            .iter()
            .find(|u| l.file.contains(&format!("{}/", u.library)))
        {
            *seen
                .entry(u.library.as_str())
                .or_default()
                .entry(format!("line {}:{}", short(&l.file), l.line))
                .or_default() += l.time;
        }
    }
    // Evidence: frames with a source file (the library's own code) first, then the most time.
    let top = |m: &HashMap<String, f64>| {
        m.iter()
            .max_by(|a, b| {
                a.0.contains(" (")
                    .cmp(&b.0.contains(" ("))
                    .then(a.1.total_cmp(b.1))
                    .then(b.0.cmp(a.0))
            })
            .map(|(d, &s)| format!("{d} {}", secs(s)))
    };
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for lib in &names {
        match seen.get(lib).and_then(top) {
            Some(t) => found.push(format!("{lib}: {t}")),
            None => missing.push(*lib),
        }
    }
    if found.is_empty() {
        return (
            Verdict::Fail,
            format!(
                "no {} frame below {}",
                missing.join(" or "),
                callers.join("/")
            ),
        );
    }
    let mut ev = found.join("; ");
    if missing.is_empty() {
        return (Verdict::Pass, ev);
    }
    ev.push_str(&format!(
        "; no {} frame below {}",
        missing.join(" or "),
        callers.join("/")
    ));
    (Verdict::Partial, ev)
}
