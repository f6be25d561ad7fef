//! profbench's own sampler: a Rust collector and a stdlib-only Python agent (issue 4).
