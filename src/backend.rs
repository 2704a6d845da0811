//! Backend choice (`--backend auto|gpu|cpu`, `--adapter`) and engine
//! construction: the one place that decides between `CpuEngine` and
//! `GpuEngine`. `auto` takes a hardware GPU when there is one and otherwise
//! the CPU backend (faster than a software adapter), saying so; `gpu` takes
//! any adapter, software included, and fails clearly when there is none.

use crate::engine::cpu::CpuEngine;
use crate::engine::{BackendChoice, Engine, EngineError};
use crate::gpu::engine::GpuOptions;
use crate::gpu::{AdapterSummary, GpuContext, GpuEngine};
use crate::plan::Plan;
use std::sync::Arc;

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
                let a = crate::gpu::context::choose(adapter)?;
                Ok(Backend::Gpu(Arc::new(GpuContext::new(a)?)))
            }
            BackendChoice::Auto => match crate::gpu::context::hardware_adapter(adapter) {
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
            &GpuOptions {
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

    /// A new engine with GPU options (batch size, fused kernel, timing);
    /// the CPU backend has none of them and ignores them.
    pub fn engine_with(
        &self,
        plan: &Plan,
        opts: &GpuOptions,
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
            Backend::Gpu(ctx) => {
                crate::gpu::engine::members_per_batch(&ctx.limits, plan.model.as_ref(), batch)
            }
        };
        let mut v = Vec::new();
        let mut left = plan.members;
        while left > 0 {
            v.push(per.min(left));
            left -= per.min(left);
        }
        v
    }
}
