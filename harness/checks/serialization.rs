//! Axis 8, serialization: Ray's and pickle's frames are the libraries' own, so they are named
//! here; the workload only names its remote functions (the compute to tell apart).

use super::distributed::{distributed_only, is_remote_span, remote_mask};
use super::frames::{
    calls_of, describe_frame, in_import, is, is_module_code, sampled_under, span_function,
};
use super::{no_profile, Decided, Inputs, Verdict};
use std::collections::HashMap;

fn is_serialization(file: &str, function: &str) -> bool {
    let bare = function
        .rsplit(['.', ' '])
        .next()
        .unwrap_or(function)
        .trim_end_matches(['>', '}', '\'']);
    // Setting up the serialization context (imports, registering serializers) is not moving
    // data.
    if is_module_code(function) || in_import(file) || bare == "__init__" {
        return false;
    }
    file.contains("ray/_private/serialization.py")
        || [
            "serialize",
            "deserialize",
            "deserialize_objects",
            "_deserialize_object",
            "put_object",
        ]
        .contains(&bare)
        || ((file.contains("pickle") || function.contains("pickle"))
            && ["dumps", "loads", "dump", "load"].contains(&bare))
}

/// Axis 8, serialization: time in serialization / deserialization / object transfer
/// told apart from compute. Serialization is seen in spans with category "serialization",
/// or frames of Ray's serialization code (`ray/_private/serialization.py`, `serialize`,
/// `deserialize`, `_deserialize_object`, `deserialize_objects`, `put_object`) or
/// pickle/cloudpickle `dumps`/`loads`, from call records (inclusive), samples (a sample
/// counts once; not when the serialization frame itself runs inside an import, i.e. module
/// code of serialization.py) or spans. Not counted:
/// `get_objects` (ray.get: its time is mostly waiting for the tasks to finish) and
/// `SerializationContext.__init__` (setting up, importing serializers).
/// - serialization time > 0 and the remote compute (remote function frames) also timed in
///   the same profile, so the two can be compared → pass;
/// - serialization time > 0 but no remote compute timed (e.g. a driver-only tracer) →
///   partial: the transfer is visible, the compute it should be told apart from is not;
/// - serialization frames without time, or none → fail.
pub fn serialization(inputs: &Inputs) -> Decided {
    if let Some(na) = distributed_only(inputs) {
        return na;
    }
    let Some(p) = inputs.profile else {
        return no_profile();
    };
    let ser: Vec<bool> = p
        .frames
        .iter()
        .map(|f| is_serialization(&f.file, &f.function))
        .collect();
    // The serialization frame with the most seconds, and the sum over samples.
    let mut best: Option<(String, f64)> = None;
    let mut consider = |name: String, s: f64| {
        if s > 0.0 && best.as_ref().is_none_or(|b| s > b.1) {
            best = Some((name, s));
        }
    };
    for st in &p.functions {
        if is(&ser, st.frame) {
            consider(describe_frame(p, st.frame), st.inclusive);
        }
    }
    // A sample counts when a serialization frame is on its stack outside any import (an
    // import *inside* deserialization, e.g. of a pickled function's module, is part of it).
    let ser_at = |s: &profbench_profilers::Sample| -> Option<usize> {
        let first = s.stack.iter().position(|&i| is(&ser, i))?;
        let imported = s.stack[..first]
            .iter()
            .any(|&i| in_import(&p.frames[i as usize].file));
        (!imported).then_some(first)
    };
    let sampled: f64 = p
        .samples
        .iter()
        .filter(|s| ser_at(s).is_some())
        .map(|s| s.weight)
        .sum();
    if sampled > 0.0 {
        // Name the outermost serialization frame seen in most samples.
        let mut per: HashMap<u32, f64> = HashMap::new();
        for s in &p.samples {
            if let Some(at) = ser_at(s) {
                *per.entry(s.stack[at]).or_default() += s.weight;
            }
        }
        if let Some((&i, _)) = per
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
        {
            consider(format!("samples under {}", describe_frame(p, i)), sampled);
        }
    }
    for sp in &p.spans {
        let f = span_function(&sp.name);
        if sp.category == "serialization" || is_serialization("", f) {
            consider(format!("span {}", sp.name), sp.end - sp.start);
        }
    }
    let remote = remote_mask(p, &inputs.targets.remote);
    let compute = calls_of(p, &remote)
        .map(|c| c.2)
        .unwrap_or(0.0)
        .max(sampled_under(p, &remote))
        .max(
            p.spans
                .iter()
                .filter(|s| is_remote_span(&s.name, &inputs.targets.remote))
                .map(|s| s.end - s.start)
                .sum(),
        );
    // What moving the data really cost, beside the backend's figure.
    let truth = inputs
        .truth
        .and_then(crate::ray_truth::transfer_truth)
        .map(|(put_s, bytes)| {
            format!(
                " (truth: ray.put took {put_s:.3} s; the tasks received {:.1} MB of arguments)",
                bytes as f64 / 1e6
            )
        })
        .unwrap_or_default();
    match best {
        Some((name, s)) if compute > 0.0 => (
            Verdict::Pass,
            format!("{name}: {s:.3} s, apart from {compute:.2} s of remote compute{truth}"),
        ),
        Some((name, s)) => (
            Verdict::Partial,
            format!(
                "{name}: {s:.3} s, but no remote compute in the profile to set it against{truth}"
            ),
        ),
        None if ser.iter().any(|&b| b) => (
            Verdict::Fail,
            "serialization frames present but carry no time".into(),
        ),
        None => (
            Verdict::Fail,
            "no serialization span or frame (ray serialization, pickle) in the profile".into(),
        ),
    }
}
