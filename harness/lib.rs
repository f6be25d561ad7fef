//! profbench engine.
