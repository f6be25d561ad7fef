//! Test fixtures shared by the output formats' tests, and a small JSON Schema checker.

use crate::ingest::ProcessData;
use crate::normalise::{build, Output};
use crate::recording::{Recording, RssPoint};
use serde_json::Value;

/// Two processes, two threads, a task span and RSS readings: enough to exercise every format.
pub fn output() -> Output {
    let s = 1_000_000_000u64;
    let mut a = ProcessData::new(10_000_000);
    for l in [
        "H\t1\t100\t1\t1000000000\tpython3\tmain.py",
        "C\t0\tmain.py\t<module>\t1",
        "C\t1\tmain.py\twork\t5",
        "C\t2\t/usr/lib/python3.11/json/encoder.py\tJSONEncoder.encode\t183",
        "N\t100\tMainThread",
        "N\t101\tpool-1",
        "S\t100\t1010000000\t10000000\t1:6 0:20",
        "S\t100\t1020000000\t20000000\t2:200 1:7 0:20",
        "S\t101\t1021000000\t50000\t0:30",
        "S\t100\t1030000000\t30000000\t1:6 0:21",
        "S\t101\t1031000000\t60000\t0:30",
        "Z\t3\t0\t5",
    ] {
        a.ingest_line(l);
    }
    let mut b = ProcessData::new(10_000_000);
    for l in [
        "H\t1\t200\t100\t1015000000\tpython3\t/venv/site-packages/ray/_private/workers/default_worker.py",
        "C\t0\tmain.py\theavy\t40",
        "S\t200\t1025000000\t5000000\t0:41",
        "S\t200\t1035000000\t15000000\t0:42",
        "K\t200\t1016000000\t1036000000\ttask\tmain.heavy",
        "K\t200\t1036000000\t1037000000\tserialization\tserialize",
    ] {
        b.ingest_line(l);
    }
    let rss = vec![
        RssPoint {
            pid: 100,
            t_ns: s + 15_000_000,
            rss: 30 << 20,
            hwm: 30 << 20,
        },
        RssPoint {
            pid: 100,
            t_ns: s + 25_000_000,
            rss: 40 << 20,
            hwm: 50 << 20,
        },
        RssPoint {
            pid: 200,
            t_ns: s + 25_000_000,
            rss: 60 << 20,
            hwm: 60 << 20,
        },
    ];
    build(&Recording {
        start_ns: s,
        end_ns: s + 40_000_000,
        rate: 100.0,
        processes: vec![a, b],
        rss,
        ..Default::default()
    })
}

/// Checks `doc` against the subset of JSON Schema (draft 7) speedscope's schema uses:
/// $ref into #/definitions, type, properties, required, items, enum, const, anyOf.
pub fn validate(root: &Value, schema: &Value, doc: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/definitions/")
            .ok_or(format!("unsupported $ref {r}"))?;
        let target = root["definitions"]
            .get(name)
            .ok_or(format!("missing definition {name}"))?;
        return validate(root, target, doc, at);
    }
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => doc.is_object(),
            "array" => doc.is_array(),
            "string" => doc.is_string(),
            "number" => doc.is_number(),
            "integer" => doc.is_i64() || doc.is_u64(),
            "boolean" => doc.is_boolean(),
            other => return Err(format!("unsupported type {other}")),
        };
        if !ok {
            return Err(format!("{at}: expected {t}, got {doc}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != doc {
            return Err(format!("{at}: expected {c}, got {doc}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(doc) {
            return Err(format!("{at}: {doc} not one of {e:?}"));
        }
    }
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for k in req {
            let k = k.as_str().unwrap_or_default();
            if doc.get(k).is_none() {
                return Err(format!("{at}: missing required {k}"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        doc.as_object(),
    ) {
        for (k, sub) in props {
            if let Some(v) = obj.get(k) {
                validate(root, sub, v, &format!("{at}.{k}"))?;
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), doc.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            validate(root, items, v, &format!("{at}[{i}]"))?;
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let errors: Vec<String> = any
            .iter()
            .filter_map(|s| validate(root, s, doc, at).err())
            .collect();
        if errors.len() == any.len() {
            return Err(format!(
                "{at}: matches none of anyOf: {}",
                errors.join("; ")
            ));
        }
    }
    Ok(())
}
