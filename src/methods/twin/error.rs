//! Errors of the twin driver: every failure names what it is about (scene
//! key, observation file line, analysis cycle).

use crate::engine::EngineError;
use crate::input::scene::SceneError;
use crate::methods::assim::AssimError;
use crate::methods::assim::obs_file::ObsFileError;

#[derive(Debug, thiserror::Error)]
pub enum TwinError {
    #[error(transparent)]
    Scene(#[from] SceneError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    ObsFile(#[from] ObsFileError),
    #[error("analysis at cycle {cycle} (time {time}): {source}")]
    Analysis {
        cycle: usize,
        time: f64,
        #[source]
        source: AssimError,
    },
    /// A member's state or an observable turned NaN or infinite.
    #[error(
        "{what} became non-finite at cycle {cycle} (time {time}); a degraded filter still runs, \
         but NaN ends the run"
    )]
    NonFinite {
        what: &'static str,
        cycle: usize,
        time: f64,
    },
    #[error("{0}")]
    Invalid(String),
}
