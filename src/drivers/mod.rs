//! Drivers: the library side of the commands that run ensembles. Each
//! takes a typed request, does the whole job (scene → plan → backend →
//! engine → recording → output folder) and returns what a caller prints,
//! with typed errors (no `clap`, no `anyhow`); `cli/` only parses
//! arguments and prints, and other callers (Python, benchmarks) share the
//! same implementation.

pub mod analyze;
pub mod assimilate;
pub mod assimilate_merge;
pub mod assimilate_shard;
pub mod bench;
pub mod calibrate;
pub mod calibrate_manifest;
pub mod check;
pub mod checkpoint;
pub mod checkpoint_patients;
pub mod checkpoint_twin;
pub mod cohort;
pub mod cohort_sim;
pub mod csv_files;
pub mod fork;
pub mod fork_cohort;
pub mod fork_twin;
pub mod job;
pub mod manifest;
pub mod members;
pub mod merge;
pub mod merge_runs;
pub mod report;
pub mod resume;
pub mod run;
pub mod scenes;
pub mod select;
pub mod shard;
pub mod slurm;
pub mod slurm_script;
pub mod snapshots;
pub mod sweep;
pub mod twin;
pub mod verify;
