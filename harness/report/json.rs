//! `results.json`: every cell record and the run info in one versioned document, the format
//! other tools should read (docs/results-schema.md describes it field by field).

use super::{table_order, ExportError, Exporter};
use crate::results::{CellRecord, RunInfo, SCHEMA};
use serde::Serialize;

pub struct Json;

/// What `format` holds, so a reader can tell this file from any other JSON.
pub const FORMAT: &str = "profbench-results";

#[derive(Serialize)]
pub struct Document<'a> {
    pub format: &'static str,
    /// Results schema version (`results::SCHEMA`); cells and run infos carry the same number.
    pub schema: u32,
    pub profbench_version: &'static str,
    /// One entry per run folder the cells come from (several after `profbench report`).
    pub runs: &'a [RunInfo],
    pub cells: Vec<&'a CellRecord>,
    /// Per profiled cell with self-time data, its distance to the reference (self_time.rs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub self_time: Vec<crate::self_time::SelfTimeRow>,
}

pub fn render_many(infos: &[RunInfo], cells: &[CellRecord]) -> Result<String, ExportError> {
    let doc = Document {
        format: FORMAT,
        schema: SCHEMA,
        profbench_version: env!("CARGO_PKG_VERSION"),
        runs: infos,
        cells: table_order(cells),
        self_time: crate::self_time::rows(cells),
    };
    serde_json::to_string_pretty(&doc).map_err(|source| ExportError::Json {
        file: "results.json",
        source,
    })
}

impl Exporter for Json {
    fn file_name(&self) -> &'static str {
        "results.json"
    }

    fn render(&self, info: &RunInfo, cells: &[CellRecord]) -> Result<String, ExportError> {
        render_many(std::slice::from_ref(info), cells)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::testdata;

    #[test]
    fn document_holds_schema_and_every_cell_reads_back() {
        let cells = testdata::run();
        let text = render_many(&[], &cells).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["format"], FORMAT);
        assert_eq!(v["schema"], SCHEMA);
        let back: Vec<CellRecord> = serde_json::from_value(v["cells"].clone()).unwrap();
        assert_eq!(back.len(), cells.len());
        assert_eq!(v["cells"][0]["status"]["state"], "ok");
    }
}
