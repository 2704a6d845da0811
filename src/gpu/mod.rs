//! Everything that touches wgpu: adapter choice and device set-up
//! (`context`), the GPU engine (`engine`), the temporally blocked step
//! (`fused`), timestamp timing (`timing`), the on-disk pipeline cache
//! (`pipeline_cache`), host mirrors of WGSL structs (`layout`), the RNG
//! known-answer kernel (`kat`) and the f16-storage experiment (`f16`). No
//! other module imports wgpu.

pub mod context;
pub mod engine;
pub mod f16;
pub mod fused;
pub mod kat;
pub mod layout;
pub mod pipeline_cache;
pub mod timing;

pub use context::{AdapterSummary, GpuContext};
pub use engine::GpuEngine;
