//! Fitting scenes to data on the engine: the bridge between calibration
//! (`crate::methods::calibrate`, which sees a model only through
//! [`crate::methods::calibrate::Summaries`]) and the engine's simulator port
//! (`crate::engine::Simulator`).
//!
//! [`targets`] maps each data row to an observable of the plan (adding
//! probe and block-mean observables for located rows) and sets the
//! observation cadence so every data time can be read off the recording;
//! [`simulator`] runs a batch of parameter vectors as one ensemble through
//! the port and reads each row's simulated values at the data rows off its
//! recordings.
//!
//! Owns: the data-row ↔ observable mapping and the engine-backed simulator.
//! [`tables`] builds the per-data-row tables a calibration writes.
//!
//! Never imports wgpu (engines come from `crate::engine::backend`) and never
//! touches files.

pub mod simulator;
pub mod tables;
pub mod targets;

pub use simulator::{EngineSimulator, SimStats};
pub use targets::{Target, attach_targets, target_values};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("{}, line {line}: {message}", path.display())]
    Row {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
}
