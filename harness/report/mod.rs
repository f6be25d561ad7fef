//! Exporters: one file per format, all fed the same finished cells. Adding a format is one
//! file implementing `Exporter`.

pub mod markdown;

use crate::results::{CellRecord, RunInfo};
use anyhow::Result;
use std::path::{Path, PathBuf};

pub trait Exporter {
    /// File name written inside the run folder.
    fn file_name(&self) -> &'static str;
    fn render(&self, info: &RunInfo, cells: &[CellRecord]) -> String;
}

pub fn exporters() -> Vec<Box<dyn Exporter>> {
    vec![Box::new(markdown::Markdown)]
}

/// Rewrites every report of a run folder from its finished cells; returns the paths written.
pub fn write_all(dir: &Path, info: &RunInfo, cells: &[CellRecord]) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for e in exporters() {
        let path = dir.join(e.file_name());
        crate::results::write_atomic(&path, e.render(info, cells).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
