//! Everything that touches wgpu: adapter choice and device set-up
//! (`context`), the GPU engine (`engine`), host mirrors of WGSL structs
//! (`layout`) and the RNG known-answer kernel (`kat`). No other module
//! imports wgpu.

pub mod context;
pub mod engine;
pub mod kat;
pub mod layout;

pub use context::{AdapterSummary, GpuContext};
pub use engine::GpuEngine;
