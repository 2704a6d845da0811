//! Observables: per-member reductions of grid state (total, mean, max, min,
//! area above a threshold, value at a probe, mean over a block) computed on the GPU by a
//! generated `observe` kernel and on the CPU by its twin, plus observables
//! derived on the host from the recorded series (first-crossing time).
//!
//! The CPU twin mirrors the GPU's reduction order (256 strided partial sums,
//! then a pairwise tree), so GPU and CPU observables of identical states are
//! identical.
//!
//! Owns: naming, units and meaning of observables; the reductions. Never
//! imports wgpu.
//!
//! - `spec`: the grid shape, reductions, observables and their validation
//!   from scene entries (`ObservableSet::from_specs`);
//! - `wgsl`: the generated GPU `observe` kernel;
//! - `cpu`: its CPU twin (`observe_member`) and the saturation status word;
//! - `derived`: observables computed on the host from a recorded series.

mod cpu;
mod derived;
mod spec;
mod wgsl;

pub use cpu::{non_finite, observe_member, saturated_at};
pub use derived::first_crossing_series;
pub use spec::{
    FirstCrossing, GridShape, ObsOp, ObservableSet, ObserveError, Reduction, block_reduction,
    probe_reduction,
};
pub use wgsl::observe_wgsl;

/// Threads per member in the observe kernel (keep in step with the WGSL).
pub const OBSERVE_THREADS: usize = 256;
