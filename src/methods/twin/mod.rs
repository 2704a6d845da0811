//! Closed-loop twins: the data-assimilation cycle wired to the engine.
//!
//! The forecast runs in the engine (GPU or CPU backend, f32); at each
//! analysis time the members' states (and estimated parameters) are read to
//! the host, the observation operator is applied (scene observables through
//! the engine's observe kernel, probes and blocks on the host), and the
//! host-side analysis core (`crate::methods::assim`, f64, ensemble space) returns a
//! transform, which is applied to the members and written back. Particle
//! resampling is `Engine::copy_members` (a copy of member states on the GPU)
//! followed by jitter of the duplicates. After the last analysis every
//! treatment arm is forecast from the analysed ensemble.
//!
//! Layout: `setup` resolves a scene's `[assimilation]` section and command
//! options against the model; `obs` holds observation operators and
//! schedules (from the scene for twins, from observation files otherwise);
//! `ensemble` moves members between engine and host matrices; `cycle` is
//! one analysis; `run` the cycle loop with truth, free run and scores;
//! `forecast` the arm forecasts, quantiles and events; `scores` the
//! statistics; `tables` the output tables and metrics.
//!
//! Must not touch: files (the CLI writes the tables), wgpu, or the analysis
//! numerics (those are `assim`'s).

pub mod cycle;
pub mod ensemble;
pub mod error;
pub mod forecast;
pub mod obs;
pub mod patients;
pub mod run;
pub mod scores;
pub mod setup;
pub mod tables;

pub use error::TwinError;
pub use run::{RunOutput, run};
pub use setup::{Options, Setup};
