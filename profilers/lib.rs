//! What each profiler *is*: one adapter per backend behind the `Backend` trait, the
//! normalised `Profile` their outputs are parsed into, and the status categories.

pub mod backend;
pub mod marshal;
pub mod profile;
pub mod status;

pub mod cprofile;
pub mod none;

pub use backend::{Backend, Launch, ParseError, PythonFacts};
pub use profile::{Clock, Frame, FunctionStat, Profile, Sample};
pub use status::{ExitInfo, Failure};

/// Every backend profbench knows, in the order rows are shown. Add one line per adapter.
pub fn all_backends() -> Vec<Box<dyn Backend>> {
    vec![
        Box::new(none::NoProfiler),
        Box::new(cprofile::CProfile),
    ]
}

/// Finds a backend by its row name.
pub fn backend(name: &str) -> Option<Box<dyn Backend>> {
    all_backends().into_iter().find(|b| b.name() == name)
}
