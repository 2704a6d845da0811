//! Everything that touches wgpu: adapter choice and device set-up
//! (`context`), the GPU engine (`engine`), the temporally blocked step
//! (`fused`), the per-adapter kernel shape (`autotune`), timestamp timing
//! (`timing`), a copy kernel's bandwidth (`copy`), the on-disk pipeline
//! cache (`pipeline_cache`), host mirrors of WGSL structs (`layout`), analysis transforms applied on
//! the device (`mix`), the RNG
//! known-answer kernel (`kat`). No
//! other module imports wgpu.

pub mod autotune;
pub mod context;
pub mod copy;
pub mod engine;
pub mod fused;
pub mod kat;
pub mod layout;
pub mod mix;
pub mod pipeline_cache;
pub mod timing;

pub use context::{AdapterSummary, GpuContext};
pub use engine::GpuEngine;
