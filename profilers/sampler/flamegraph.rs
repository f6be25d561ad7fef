//! The flamegraph SVG, rendered by inferno from the collapsed stacks.

use crate::normalise::Output;
use anyhow::{Context, Result};

pub fn render(out: &Output, title: &str) -> Result<Vec<u8>> {
    let collapsed = crate::collapsed::render(out);
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_string();
    options.count_name = "µs".to_string();
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, collapsed.lines(), &mut svg)
        .context("rendering the flamegraph")?;
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::output;

    #[test]
    fn renders_an_svg_with_the_frames() {
        let svg = String::from_utf8(render(&output(), "test").unwrap()).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains("<svg"));
        assert!(svg.contains("JSONEncoder.encode"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
