//! Everything that touches wgpu: adapter choice and device set-up
//! (`context`), the GPU engine (`engine`: construction and the executor),
//! one member batch's buffers and bind groups (`batch`), the dispatches of
//! `advance`/`observe` as plain data (`schedule`), binding numbers and
//! kinds (`bindings`, checked against the WGSL by a test), the one
//! pipeline factory (`pipelines`), the temporally blocked step (`fused`),
//! the per-adapter kernel shape (`autotune`), timestamp timing (`timing`),
//! a copy kernel's bandwidth (`copy`), the on-disk pipeline cache
//! (`pipeline_cache`), host mirrors of WGSL structs (`layout`), analysis
//! transforms applied on the device (`mix`), the RNG known-answer kernel
//! (`kat`).
//!
//! No other module imports wgpu or this module except `backend`, which
//! owns the engine options and is the door to the GPU for everything above
//! (tests/architecture.rs).

pub mod autotune;
pub mod batch;
pub mod bindings;
pub mod context;
pub mod copy;
pub mod engine;
pub mod fused;
pub mod kat;
pub mod layout;
pub mod mix;
pub mod pipeline_cache;
pub mod pipelines;
pub mod schedule;
pub mod timing;

pub use context::{AdapterSummary, GpuContext};
pub use engine::GpuEngine;
