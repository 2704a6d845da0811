//! Drivers: the library side of the commands that run ensembles. Each
//! takes a typed request, does the whole job (scene → plan → backend →
//! engine → recording → output folder) and returns what a caller prints;
//! `cli/` only parses arguments and prints.

pub mod analyze;
pub mod calibrate;
pub mod csv_files;
pub mod job;
pub mod members;
pub mod run;
pub mod snapshots;
pub mod sweep;
