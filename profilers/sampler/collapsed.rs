//! Collapsed stacks (Brendan Gregg's format, as py-spy writes it): `frame;frame;frame N`,
//! root first, one line per distinct stack; N is microseconds (time-weighted, not counts).

use crate::normalise::Output;
use std::collections::BTreeMap;

pub fn frame_label(file: &str, function: &str, line: u32) -> String {
    // `;` separates frames and the last space separates the count: keep both out of labels.
    format!("{function} ({file}:{line})").replace(';', ":")
}

pub fn render(out: &Output) -> String {
    let p = &out.profile;
    let labels: Vec<String> = p
        .frames
        .iter()
        .map(|f| frame_label(&f.file, &f.function, f.line))
        .collect();
    let mut folded: BTreeMap<String, f64> = BTreeMap::new();
    for s in &p.samples {
        let stack = s
            .stack
            .iter()
            .map(|&i| labels[i as usize].as_str())
            .collect::<Vec<_>>()
            .join(";");
        *folded.entry(stack).or_default() += s.weight;
    }
    let mut text = String::new();
    for (stack, secs) in folded {
        let us = (secs * 1e6).round() as u64;
        if us > 0 && !stack.is_empty() {
            text.push_str(&format!("{stack} {us}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::output;

    #[test]
    fn one_line_per_stack_with_microseconds() {
        let text = render(&output());
        let line = text
            .lines()
            .find(|l| l.contains("JSONEncoder.encode"))
            .unwrap();
        assert_eq!(
            line,
            "<module> (main.py:20);work (main.py:7);JSONEncoder.encode (/usr/lib/python3.11/json/encoder.py:200) 10000"
        );
        for l in text.lines() {
            let (stack, n) = l.rsplit_once(' ').unwrap();
            assert!(n.parse::<u64>().unwrap() > 0);
            assert!(!stack.is_empty());
        }
    }
}
