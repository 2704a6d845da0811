//! Synthetic cohorts (`vtwin cohort`, `merge`, `select`, `compare`): virtual
//! patients drawn from population distributions and covariates, simulated
//! under every treatment arm, seen through an observation model, scored by
//! outcome rules, and written with a data dictionary and RO-Crate metadata.
//!
//! Owns: everything host-side about cohorts. Never imports wgpu and never
//! simulates: trajectories come in as the simulator port's recordings
//! (`crate::engine::Simulator`), converted by `assemble::trajectories`.
//! Never writes Parquet/CSV itself: it produces `Table`s and JSON values for
//! `crate::output::io`. Everything about patient i depends only on (scene, seed, i).

pub mod assemble;
pub mod columns;
pub mod compare;
pub mod crate_meta;
pub mod dictionary;
pub mod error;
pub mod export;
pub mod keys;
pub mod merge;
pub mod observe;
pub mod outcomes;
pub mod patients;
pub mod plausibility;
pub mod rules;
pub mod select;
pub mod spec;
pub mod stats;
pub mod validate;

pub use assemble::{
    CohortTables, assemble, build_cohort, build_cohort_with_visits, recordings, trajectories,
};
pub use error::{CohortError, SpecIssue};
pub use observe::{ObservationRow, Trajectory};
pub use patients::{Patient, PatientSampler};
pub use spec::CohortSpec;
pub use validate::SceneContext;
