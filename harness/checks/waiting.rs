//! Axis 2, CPU vs waiting.

use super::frames::{bare, calls_of, frames_named, is, phase_of};
use super::{na, no_profile, Decided, Inputs, Verdict};
use profbench_profilers::Clock;

/// Axis 2, CPU vs waiting, on the header's `sleep=FUNCTION` (a function that waits, e.g. in
/// `time.sleep`; its phase's wall time in the truth is the wait). The question is whether the
/// *profile itself* tells the reader that the time was spent waiting rather than computing.
/// In order:
/// - samples under the function carry the sampler's idle flag: idle in ≥ 50% of their
///   seconds → pass, else fail; or they carry CPU seconds: CPU ≤ 10% of their wall → pass,
///   else fail;
/// - the clock is CPU: the function gets ≤ 10% of its truth wall time (≈ 0 CPU while the
///   truth shows the wait in wall time) while another phase function shows time (so an
///   empty profile cannot pass) → pass; more → fail (the sleep shown as CPU work);
/// - a wall-clock profile with ≥ 50% of the phase's truth wall time in a `sleep` frame
///   (`<built-in method time.sleep>`, `sleep`; under it in samples, anywhere in
///   call records, which have no stacks) → partial: it shows *where* the time went, but
///   only a reader who knows that `time.sleep` blocks learns it was waiting; the same
///   profile of a blocking `recv` or lock would look like CPU work. Told apart means the
///   profile marks it (idle flag, CPU figure, CPU clock), so this is not a pass;
/// - a wall-clock profile with the time on the function and no sleep frame → fail.
pub fn cpu_vs_waiting(inputs: &Inputs) -> Decided {
    let Some(func) = &inputs.targets.sleep else {
        return na(format!(
            "workload {} names no waiting function (header sleep=)",
            inputs.workload
        ));
    };
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    if p.clock == Clock::None {
        return (
            Verdict::Fail,
            "memory-only profile: no time attribution".into(),
        );
    }
    let mask = frames_named(p, func);
    let under: Vec<_> = p
        .samples
        .iter()
        .filter(|s| s.stack.iter().any(|&i| is(&mask, i)))
        .collect();
    let flagged: Vec<_> = under.iter().filter(|s| s.idle.is_some()).collect();
    if !flagged.is_empty() {
        let total: f64 = flagged.iter().map(|s| s.weight).sum();
        let idle: f64 = flagged
            .iter()
            .filter(|s| s.idle == Some(true))
            .map(|s| s.weight)
            .sum();
        let share = idle / total.max(f64::EPSILON);
        let ev = format!(
            "{func}: {:.0}% of {total:.2} s sampled flagged idle",
            share * 100.0
        );
        return (
            if share >= 0.5 {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            ev,
        );
    }
    let with_cpu: Vec<_> = under.iter().filter(|s| s.cpu.is_some()).collect();
    if !with_cpu.is_empty() {
        let wall: f64 = with_cpu.iter().map(|s| s.weight).sum();
        let cpu: f64 = with_cpu.iter().filter_map(|s| s.cpu).sum();
        let ev = format!("{func}: {cpu:.3} s CPU in {wall:.2} s of samples");
        return (
            if cpu <= 0.1 * wall {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            ev,
        );
    }
    let Some(phase) = phase_of(inputs.truth, func) else {
        return na(format!(
            "no truth phase for {func}: how long it waited is unknown"
        ));
    };
    let truth_wall = phase.wall_ns as f64 / 1e9;
    let shown = p.inclusive_seconds(func, None);
    if p.clock == Clock::Cpu {
        // Some other phase function must show time, or an empty profile would pass.
        let other = inputs
            .truth
            .and_then(|t| {
                t.phases
                    .iter()
                    .filter(|ph| ph.name != phase.name)
                    .map(|ph| {
                        let f = bare(&ph.function);
                        (f.to_string(), p.inclusive_seconds(f, None))
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1))
            })
            .filter(|(_, s)| *s > 0.0);
        let Some((other, other_s)) = other else {
            return (
                Verdict::Fail,
                format!("CPU clock but no phase function shows any time ({func}: {shown:.3} s)"),
            );
        };
        let ev = format!(
            "CPU clock: {func} {shown:.3} s vs {truth_wall:.2} s wall in truth ({other}: {other_s:.2} s)"
        );
        return (
            if shown <= 0.1 * truth_wall {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            ev,
        );
    }
    // Wall clock without idle/CPU information: look for a sleep frame.
    let sleep: Vec<bool> = p
        .frames
        .iter()
        .map(|f| {
            let bare = f.function.rsplit(['.', ' ', ':']).next().unwrap_or("");
            bare.trim_end_matches('>') == "sleep" || f.function.contains("time.sleep")
        })
        .collect();
    let sleep_calls = calls_of(p, &sleep);
    let sleep_sampled: f64 = under
        .iter()
        .filter(|s| s.stack.iter().any(|&i| is(&sleep, i)))
        .map(|s| s.weight)
        .sum();
    let sleep_s = sleep_calls.map(|c| c.2).unwrap_or(0.0).max(sleep_sampled);
    if sleep_s >= 0.5 * truth_wall {
        let name = sleep
            .iter()
            .position(|&b| b)
            .map(|i| p.frames[i].function.clone())
            .unwrap_or_default();
        return (
            Verdict::Partial,
            format!(
                "wall clock: {sleep_s:.2} s in {name} under {func}, no idle flag or CPU figure"
            ),
        );
    }
    if shown > 0.0 {
        (
            Verdict::Fail,
            format!("wall clock: {func} {shown:.2} s with no idle flag, CPU figure or sleep frame"),
        )
    } else {
        (Verdict::Fail, format!("{func} not in the profile"))
    }
}
