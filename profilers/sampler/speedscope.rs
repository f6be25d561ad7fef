//! speedscope's file format (https://www.speedscope.app/file-format-schema.json): one sampled
//! profile per thread, weights in seconds, so delayed samples keep the time they stood for.

use crate::normalise::Output;
use serde::Serialize;
use std::collections::BTreeMap;

pub const SCHEMA_URL: &str = "https://www.speedscope.app/file-format-schema.json";

#[derive(Serialize)]
struct File<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    shared: Shared<'a>,
    profiles: Vec<SampledProfile>,
    name: String,
    #[serde(rename = "activeProfileIndex")]
    active_profile_index: usize,
    exporter: String,
}

#[derive(Serialize)]
struct Shared<'a> {
    frames: Vec<FrameOut<'a>>,
}

#[derive(Serialize)]
struct FrameOut<'a> {
    name: &'a str,
    file: &'a str,
    line: u32,
}

#[derive(Serialize)]
struct SampledProfile {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    unit: &'static str,
    #[serde(rename = "startValue")]
    start_value: f64,
    #[serde(rename = "endValue")]
    end_value: f64,
    samples: Vec<Vec<u32>>,
    weights: Vec<f64>,
}

pub fn render(out: &Output) -> serde_json::Value {
    let p = &out.profile;
    let frames = p
        .frames
        .iter()
        .map(|f| FrameOut {
            name: &f.function,
            file: &f.file,
            line: f.line,
        })
        .collect();
    // One profile per (process, thread), in the order processes connected, so the target's
    // main thread comes first and opens by default.
    let order: BTreeMap<u32, usize> = out
        .processes
        .iter()
        .enumerate()
        .map(|(i, pr)| (pr.pid, i))
        .collect();
    let mut threads: BTreeMap<(usize, u32, u64), SampledProfile> = BTreeMap::new();
    for s in &p.samples {
        let key = (
            order.get(&s.pid).copied().unwrap_or(usize::MAX),
            s.pid,
            s.tid,
        );
        let t = s.time.unwrap_or(0.0);
        let prof = threads.entry(key).or_insert_with(|| SampledProfile {
            kind: "sampled",
            name: format!(
                "{} — {}",
                out.process_name(s.pid),
                out.thread_name(s.pid, s.tid)
            ),
            unit: "seconds",
            start_value: f64::INFINITY,
            end_value: 0.0,
            samples: Vec::new(),
            weights: Vec::new(),
        });
        prof.start_value = prof.start_value.min((t - s.weight).max(0.0));
        prof.end_value = prof.end_value.max(t);
        prof.samples.push(s.stack.clone());
        prof.weights.push(s.weight);
    }
    let file = File {
        schema: SCHEMA_URL,
        shared: Shared { frames },
        profiles: threads.into_values().collect(),
        name: out
            .processes
            .first()
            .map_or("profbench".into(), |pr| out.process_name(pr.pid)),
        active_profile_index: 0,
        exporter: format!("profbench-sampler {}", env!("CARGO_PKG_VERSION")),
    };
    serde_json::to_value(file).expect("speedscope file serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{output, validate};

    #[test]
    fn valid_against_speedscope_schema() {
        let doc = render(&output());
        let schema: serde_json::Value = serde_json::from_str(include_str!(
            "tests/fixtures/speedscope-file-format-schema.json"
        ))
        .unwrap();
        validate(&schema, &schema, &doc, "$").unwrap();
        // What the schema cannot say: indices in range, one weight per sample, start <= end.
        let nframes = doc["shared"]["frames"].as_array().unwrap().len() as u64;
        for prof in doc["profiles"].as_array().unwrap() {
            let samples = prof["samples"].as_array().unwrap();
            assert_eq!(samples.len(), prof["weights"].as_array().unwrap().len());
            for s in samples {
                assert!(s
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|i| i.as_u64().unwrap() < nframes));
            }
            assert!(prof["startValue"].as_f64().unwrap() <= prof["endValue"].as_f64().unwrap());
        }
    }

    #[test]
    fn the_validator_rejects_what_speedscope_would() {
        let schema: serde_json::Value = serde_json::from_str(include_str!(
            "tests/fixtures/speedscope-file-format-schema.json"
        ))
        .unwrap();
        let mut doc = render(&output());
        doc["profiles"][0]["unit"] = "parsecs".into();
        assert!(validate(&schema, &schema, &doc, "$").is_err());
        let mut doc = render(&output());
        doc.as_object_mut().unwrap().remove("shared");
        assert!(validate(&schema, &schema, &doc, "$").is_err());
    }
}
