//! What each profiler *is*: one adapter per backend behind the `Backend` trait, the
//! normalised `Profile` their outputs are parsed into, and the status categories.

pub mod backend;
pub mod marshal;
pub mod profile;
pub mod status;

pub mod austin;
pub mod cprofile;
pub mod cpython_sampling;
pub mod custom;
pub mod line_profiler;
pub mod memray;
pub mod none;
pub mod profbench;
pub mod pyinstrument;
pub mod pyspy;
pub mod ray_state;
pub mod ray_timeline;
pub mod scalene;
pub mod viztracer;
pub mod yappi;

pub use backend::{Backend, Launch, ParseError, PythonFacts};
pub use profile::{Clock, Frame, FunctionStat, Profile, Sample};
pub use status::{ExitInfo, Failure};

/// Every backend profbench knows, in the order rows are shown. Add one line per adapter.
pub fn all_backends() -> Vec<Box<dyn Backend>> {
    vec![
        Box::new(none::NoProfiler),
        Box::new(cprofile::CProfile),
        Box::new(viztracer::VizTracer),
        Box::new(yappi::Yappi::WALL),
        Box::new(yappi::Yappi::CPU),
        Box::new(memray::Memray::DEFAULT),
        Box::new(memray::Memray::PYTHON_ALLOCATORS),
        Box::new(line_profiler::LineProfiler),
        Box::new(cpython_sampling::CPythonSampling),
        Box::new(pyspy::PySpy::DEFAULT),
        Box::new(pyspy::PySpy::RATE_10),
        Box::new(pyspy::PySpy::RATE_1000),
        Box::new(pyspy::PySpy::CPU),
        Box::new(pyspy::PySpy::NONBLOCKING),
        Box::new(pyspy::PySpy::NOSUB),
        Box::new(austin::Austin::V3_WALL),
        Box::new(austin::Austin::V3_CPU),
        Box::new(austin::Austin::V3_FULL),
        Box::new(austin::Austin::V4_WALL),
        Box::new(austin::Austin::V4_CPU),
        Box::new(scalene::Scalene::FULL),
        Box::new(scalene::Scalene::CPU_ONLY),
        Box::new(pyinstrument::Pyinstrument),
        Box::new(profbench::ProfbenchSampler::DEFAULT),
        Box::new(profbench::ProfbenchSampler::RATE_10),
        Box::new(profbench::ProfbenchSampler::RATE_1000),
        Box::new(profbench::ProfbenchSampler::FROM_PYTHON),
        Box::new(ray_timeline::RayTimeline),
        Box::new(ray_state::RayState),
        Box::new(profbench::ProfbenchSampler::WALK),
        Box::new(profbench::ProfbenchSampler::WALK_1000),
    ]
}

/// Finds a backend by its row name.
pub fn backend(name: &str) -> Option<Box<dyn Backend>> {
    all_backends().into_iter().find(|b| b.name() == name)
}
