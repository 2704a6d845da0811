//! Core wing: the model, frozen into data.
//!
//! The one plug-in point for model families (`model`) and the families
//! (`models`), plans (`plan`: a scene frozen into what an engine runs),
//! observables (`observe`), the embedded WGSL (`shaders`), user expressions
//! (`expr`), counter-based random numbers (`rng`) and the process noise and
//! parameter drift of data assimilation (`model_error`).
//!
//! Architecture invariant: imports only `output` and `input`; knows no
//! engine, method, driver or command.

pub mod expr;
pub mod model;
pub mod model_error;
pub mod model_scene;
pub mod models;
pub mod observe;
pub mod plan;
pub mod rng;
pub mod shaders;
