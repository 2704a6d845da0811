//! Methods wing: the science on top of the engine, backend-agnostic.
//!
//! Designs (`design`), sensitivity analysis (`sensitivity`), calibration
//! (`calibrate`, with `fit` bridging it to the engine), data assimilation
//! (`assim`) and closed-loop twins (`twin`), synthetic cohorts (`cohort`, `cohort_files`),
//! sweeps (`sweep`) and forecast scoring (`score`).
//!
//! Architecture invariant: never imports `gpu`, `wgpu` or a driver or
//! command; methods reach simulators only through the `Engine` trait and the
//! simulator port.

pub mod assim;
pub mod calibrate;
pub mod cohort;
pub mod cohort_files;
pub mod design;
pub mod fit;
pub mod score;
pub mod sensitivity;
pub mod sweep;
pub mod twin;
