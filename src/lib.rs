//! vtwin: a GPU ensemble engine for virtual-tissue digital twins.
//!
//! The one path data takes: scene (`scene`) → plan (`plan`) → engine
//! (`engine`, `gpu`, `backend`) → observations (`observe`) → writers (`io`).
//! See ARCHITECTURE.md for the code map and the invariants.

#[macro_use]
mod message_error;

pub mod assim;
pub mod backend;
pub mod bench;
pub mod calibrate;
pub mod checkpoint;
pub mod checkpoint_patients;
pub mod checkpoint_twin;
pub mod cli;
pub mod cohort;
pub mod cohort_files;
pub mod cohort_sim;
pub mod design;
pub mod dosing;
pub mod drivers;
pub mod engine;
pub mod expr;
pub mod fit;
pub mod fixtures;
pub mod gpu;
pub mod interrupt;
pub mod io;
pub mod limits;
pub mod manifest;
pub mod model;
pub mod model_error;
pub mod models;
pub mod observe;
pub mod params;
pub mod params_file;
pub mod plan;
pub mod record;
pub mod report;
pub mod rng;
pub mod scene;
pub mod score;
pub mod sensitivity;
pub mod shaders;
pub mod shard;
pub mod slurm;
pub mod sweep;
pub mod table;
pub mod twin;
pub mod verify;
