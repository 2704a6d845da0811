//! Many patients in one assimilation run (`vtwin assimilate` with a
//! `patient` column, empty `sd` or `--forecast-at`; docs/patients.md).
//!
//! Each patient owns a block of `members` consecutive members of one
//! engine; all blocks advance together and each patient is analysed at its
//! own reading times, on the host, in the analysis space (`analysis`: log
//! fields and log-scale parameters), with member health checks and
//! per-patient failure. `data` resolves readings (error model, censoring)
//! and forecast requests; `predictive` turns forecast members into
//! predictive distributions; `tables` writes the outputs.
//!
//! Must not touch: files other than the request file (the CLI writes the
//! tables), wgpu, or the filters' numerics (those are `assim`'s).

pub mod analysis;
pub mod data;
pub mod population;
pub mod predictive;
pub mod run;
pub mod start;
pub mod tables;

pub use data::{Patient, Request, patients, read_patient_events, read_requests};
pub use population::PopulationPrior;
pub use run::{
    Checkpointing, PatientOutput, PatientState, RunOptions, run, run_from, run_population,
};
