//! Backend choice (`--backend auto|gpu|cpu`, `--adapter`) and engine
//! construction: the one place that decides between `CpuEngine` and
//! `GpuEngine`. `auto` takes a hardware GPU when there is one and otherwise
//! the CPU backend (faster than a software adapter), saying so; `gpu` takes
//! any adapter, software included, and fails clearly when there is none.

use crate::core::model::KernelConfig;
use crate::core::plan::Plan;
use crate::engine::cpu::CpuEngine;
use crate::engine::gpu::{GpuContext, GpuEngine};
use crate::engine::{BackendChoice, Engine, EngineError};
use std::sync::Arc;

use crate::core::model::KernelShapeError;
/// The adapter a GPU backend runs on (name, backend, type, driver).
pub use crate::engine::gpu::AdapterSummary;
/// A copy kernel's measured bandwidth (`Backend::copy_bandwidth`).
pub use crate::engine::gpu::copy::CopyRate;
/// The most steps one fused dispatch may take (`EngineOptions::fused`).
pub use crate::engine::gpu::fused::MAX_HALO as MAX_FUSED_STEPS;

/// What only a device backend (an adapter, its device and kernels) can
/// fail with; an engine error carries it as `EngineError::Device`, with
/// the same message.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    #[error("GPU device error ({context}): {message}")]
    Device { context: String, message: String },
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
    #[error("shader error: {0}")]
    Shader(#[from] crate::core::shaders::ShaderError),
    #[error("model `{model}` has no GPU kernel; use --backend cpu")]
    NoGpuProgram { model: String },
}

/// Engine options beyond the plan. Only the GPU engine has any: the CPU
/// engine ignores them.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// Caps members per batch (tests force small batches; default: the
    /// adapter's limit).
    pub batch_size: Option<u32>,
    /// Take up to this many steps per dispatch with the fused kernel
    /// (1..=`MAX_FUSED_STEPS`); `None`: the single-step kernel.
    pub fused: Option<u32>,
    /// Bracket each `advance` with timestamp queries where the device has
    /// them.
    pub timing: bool,
    /// Shape of the single-step kernel.
    pub kernel: KernelChoice,
}

/// How the GPU engine picks the single-step kernel's shape
/// (`model::KernelConfig`; the rules are `gpu::autotune`'s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelChoice {
    /// `$VTWIN_KERNEL`, else the cache, else tune on hardware adapters and
    /// the default shape on software ones.
    #[default]
    Auto,
    /// `KernelConfig::DEFAULT`.
    Default,
    /// Tune now and report the timings, without reading or writing the
    /// cache.
    Tune,
    /// This shape.
    Fixed(KernelConfig),
}

impl KernelChoice {
    /// `auto`, `default`, `tune` or a shape (`16x16/4`).
    pub fn parse(text: &str) -> Result<KernelChoice, KernelShapeError> {
        match text.trim() {
            "auto" => Ok(KernelChoice::Auto),
            "default" => Ok(KernelChoice::Default),
            "tune" => Ok(KernelChoice::Tune),
            s => KernelConfig::parse(s).map(KernelChoice::Fixed),
        }
    }
}

/// Every GPU adapter wgpu finds, described as JSON (`vtwin adapters`).
pub fn describe_adapters() -> Vec<serde_json::Value> {
    crate::engine::gpu::context::adapters()
        .iter()
        .map(crate::engine::gpu::context::describe)
        .collect()
}

/// An opened backend: the CPU, or a GPU device shared by every engine a
/// command creates.
#[derive(Clone)]
pub enum Backend {
    Cpu,
    Gpu(Arc<GpuContext>),
}

impl Backend {
    /// Opens the backend a command asked for. `notice` receives the one-line
    /// explanation when `auto` falls back to the CPU.
    pub fn open(
        choice: BackendChoice,
        adapter: Option<&str>,
        notice: &mut dyn FnMut(String),
    ) -> Result<Backend, EngineError> {
        match choice {
            BackendChoice::Cpu => Ok(Backend::Cpu),
            BackendChoice::Gpu => {
                let a = crate::engine::gpu::context::choose(adapter)?;
                Ok(Backend::Gpu(Arc::new(GpuContext::new(a)?)))
            }
            BackendChoice::Auto => match crate::engine::gpu::context::hardware_adapter(adapter) {
                Some(a) => Ok(Backend::Gpu(Arc::new(GpuContext::new(a)?))),
                None => {
                    notice("backend auto: no hardware GPU adapter found; using the CPU backend (use --backend gpu for a software adapter such as lavapipe)".into());
                    Ok(Backend::Cpu)
                }
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Gpu(_) => "gpu",
        }
    }

    pub fn adapter(&self) -> Option<AdapterSummary> {
        match self {
            Backend::Cpu => None,
            Backend::Gpu(c) => Some(c.summary.clone()),
        }
    }

    /// A new engine for `plan`. `batch` caps members per GPU batch.
    pub fn engine(&self, plan: &Plan, batch: Option<u32>) -> Result<Box<dyn Engine>, EngineError> {
        self.engine_with(
            plan,
            &EngineOptions {
                batch_size: batch,
                ..Default::default()
            },
        )
    }

    /// [`Backend::engine`] in a box that may move between threads, for
    /// holders that keep an engine across calls (the Python simulator
    /// handle).
    pub fn engine_send(
        &self,
        plan: &Plan,
        batch: Option<u32>,
    ) -> Result<Box<dyn Engine + Send>, EngineError> {
        match self {
            Backend::Cpu => Ok(Box::new(CpuEngine::try_new(plan)?)),
            Backend::Gpu(ctx) => Ok(Box::new(GpuEngine::new(ctx.clone(), plan, batch)?)),
        }
    }

    /// A new engine with options (batch size, fused kernel, timing, kernel
    /// shape); the CPU backend has none of them and ignores them.
    pub fn engine_with(
        &self,
        plan: &Plan,
        opts: &EngineOptions,
    ) -> Result<Box<dyn Engine>, EngineError> {
        match self {
            Backend::Cpu => Ok(Box::new(CpuEngine::try_new(plan)?)),
            Backend::Gpu(ctx) => Ok(Box::new(GpuEngine::with_options(ctx.clone(), plan, opts)?)),
        }
    }

    /// Members per batch the adapter's limits force for `plan` (on the
    /// CPU: the batches of at most `limits::CPU_BATCH_BYTES` the CPU engine
    /// holds its state in).
    pub fn batches(&self, plan: &Plan, batch: Option<u32>) -> Vec<u32> {
        let per = match self {
            Backend::Cpu => crate::engine::cpu::batch_members(plan.model.state_len())
                .min(u32::MAX as usize) as u32,
            Backend::Gpu(ctx) => members_per_batch(&ctx.limits, plan.model.as_ref(), batch),
        };
        let mut v = Vec::new();
        let mut left = plan.members;
        while left > 0 {
            v.push(per.min(left));
            left -= per.min(left);
        }
        v
    }

    /// An engine whose GPU timing hooks stay reachable (`vtwin bench`);
    /// `timing` is switched on for GPU engines.
    pub fn instrumented_engine(
        &self,
        plan: &Plan,
        opts: &EngineOptions,
    ) -> Result<InstrumentedEngine, EngineError> {
        Ok(match self {
            Backend::Cpu => InstrumentedEngine::Cpu(CpuEngine::new(plan)),
            Backend::Gpu(ctx) => InstrumentedEngine::Gpu(GpuEngine::with_options(
                ctx.clone(),
                plan,
                &EngineOptions {
                    timing: true,
                    ..opts.clone()
                },
            )?),
        })
    }

    /// The Philox known answers computed on the device; `None` on the CPU.
    pub fn philox_on_device(
        &self,
        cases: &[([u32; 4], [u32; 2])],
    ) -> Option<Result<Vec<[u32; 4]>, EngineError>> {
        match self {
            Backend::Cpu => None,
            Backend::Gpu(ctx) => Some(crate::engine::gpu::kat::philox_on_gpu(ctx, cases)),
        }
    }

    /// A vec4 copy kernel's bandwidth over `mib` MiB, `dispatches` per run,
    /// `repeats` runs; `None` on the CPU.
    pub fn copy_bandwidth(
        &self,
        mib: u64,
        dispatches: u32,
        repeats: u32,
    ) -> Option<Result<CopyRate, EngineError>> {
        match self {
            Backend::Cpu => None,
            Backend::Gpu(ctx) => Some(crate::engine::gpu::copy::measure(
                ctx, mib, dispatches, repeats,
            )),
        }
    }
}

/// An engine of either backend with the GPU engine's timing hooks
/// reachable, unlike through `Box<dyn Engine>`.
pub enum InstrumentedEngine {
    Cpu(CpuEngine),
    Gpu(GpuEngine),
}

impl InstrumentedEngine {
    pub fn engine(&mut self) -> &mut dyn Engine {
        match self {
            InstrumentedEngine::Cpu(e) => e,
            InstrumentedEngine::Gpu(e) => e,
        }
    }

    /// GPU seconds of the last `advance` from timestamp queries; `None` on
    /// the CPU or without timestamps.
    pub fn gpu_seconds(&self) -> Result<Option<f64>, EngineError> {
        match self {
            InstrumentedEngine::Gpu(e) => e.gpu_seconds(),
            InstrumentedEngine::Cpu(_) => Ok(None),
        }
    }

    /// Tile and steps per dispatch of the fused kernel in use, if any.
    pub fn fused_tile(&self) -> Option<(u32, u32)> {
        match self {
            InstrumentedEngine::Gpu(e) => e.fused_tile(),
            InstrumentedEngine::Cpu(_) => None,
        }
    }

    /// The single-step kernel's shape and where it came from, as JSON;
    /// `None` on the CPU and for models without shapes.
    pub fn kernel_json(&self) -> Option<serde_json::Value> {
        match self {
            InstrumentedEngine::Gpu(e) => e.kernel().and_then(|k| serde_json::to_value(k).ok()),
            InstrumentedEngine::Cpu(_) => None,
        }
    }
}

/// Members per GPU batch for `model`: `requested` (`--batch-size`) capped
/// by what the adapter allows for the larger of the member's state and
/// step scratch (both are bound as one storage buffer per batch). The one
/// batching rule, owned here: the GPU engine, `vtwin check` and
/// `vtwin estimate` (through `Backend::batches`) all use it.
pub fn members_per_batch(
    limits: &wgpu::Limits,
    model: &dyn crate::core::model::Model,
    requested: Option<u32>,
) -> u32 {
    let words = model.state_len().max(model.scratch_len()) as u64;
    let limit = max_batch(limits, words * 4);
    requested.unwrap_or(limit).clamp(1, limit)
}

/// The largest batch the adapter allows for `state_bytes` per member.
pub fn max_batch(limits: &wgpu::Limits, state_bytes: u64) -> u32 {
    let by_binding = (limits.max_storage_buffer_binding_size / state_bytes.max(1)).max(1);
    let by_buffer = (limits.max_buffer_size / state_bytes.max(1)).max(1);
    let by_dispatch = limits.max_compute_workgroups_per_dimension as u64;
    by_binding
        .min(by_buffer)
        .min(by_dispatch)
        .min(u32::MAX as u64) as u32
}
