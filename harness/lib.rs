//! profbench's engine: Python environment, workloads and truth, the safe runner, statistics,
//! accuracy, the matrix, results and reports. The CLI in main.rs is a thin layer over this.

pub mod accuracy;
pub mod actionability;
pub mod advise;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod cost_split;
pub mod function_bias;
pub mod launcher;
pub mod machine_load;
pub mod matrix;
pub mod merge;
pub mod platform;
pub mod platforms;
pub mod plot;
pub mod pyenv;
pub mod ray_cost;
pub mod ray_truth;
pub mod reaper;
pub mod recheck;
pub mod report;
pub mod results;
pub mod resume;
pub mod rounds;
pub mod runner;
pub mod schedule;
pub mod self_time;
pub mod stats;
pub mod suite;
pub mod targets;
pub mod workload;
