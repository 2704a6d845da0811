//! Input wing: what the user hands vtwin, parsed, checked and located.
//!
//! Scenes (`scene`, including the sections only some commands read, kept raw
//! for their methods), parameter blocks and their distributions (`params`,
//! `params_file`), arm-level dosing schedules (`dosing`) and the resource
//! limits a scene or flag may ask for (`limits`). Errors name the file, line
//! and key.
//!
//! Architecture invariant: imports only `output` (the file codecs, e.g. a
//! tissue map's `.npy`); no model, engine, method or driver.

pub mod dosing;
pub mod limits;
pub mod params;
pub mod params_file;
pub mod scene;
