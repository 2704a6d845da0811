//! The `Engine` interface every command drives, with a GPU implementation
//! (`crate::gpu::GpuEngine`) and a CPU one (`cpu::CpuEngine`).
//!
//! Owns: the trait, per-member status, engine errors and backend choice.
//! Drivers (run, sweep, twin, cohort, bench) talk only to this trait; this
//! module never imports wgpu (the GPU engine is created through
//! `crate::gpu`).

pub mod cpu;

use crate::plan::Plan;
use std::fmt;

/// Per-member status, written as lowercase strings in outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberStatus {
    Ok,
    /// State turned Inf/NaN; detected at the given step (an observation step).
    Diverged {
        step: u64,
    },
    /// An agent pool would have exceeded its capacity at the given step.
    Saturated {
        step: u64,
    },
}

impl MemberStatus {
    pub fn name(&self) -> &'static str {
        match self {
            MemberStatus::Ok => "ok",
            MemberStatus::Diverged { .. } => "diverged",
            MemberStatus::Saturated { .. } => "saturated",
        }
    }

    pub fn step(&self) -> Option<u64> {
        match self {
            MemberStatus::Ok => None,
            MemberStatus::Diverged { step } | MemberStatus::Saturated { step } => Some(*step),
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, MemberStatus::Ok)
    }

    /// Decodes the (code, step) pair kept in status buffers.
    pub fn from_code(code: u32, step: u32) -> MemberStatus {
        match code {
            0 => MemberStatus::Ok,
            2 => MemberStatus::Saturated { step: step as u64 },
            _ => MemberStatus::Diverged { step: step as u64 },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    #[error("GPU device error ({context}): {message}")]
    Device { context: String, message: String },
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
    #[error("timed out waiting for the GPU ({0})")]
    Timeout(String),
    #[error("shader error: {0}")]
    Shader(#[from] crate::shaders::ShaderError),
    #[error("model `{model}` has no GPU kernel; use --backend cpu")]
    NoGpuProgram { model: String },
    #[error("{0}")]
    Invalid(String),
}

/// Which implementation runs a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// A hardware GPU when there is one, otherwise the CPU backend.
    Auto,
    /// A GPU adapter (hardware or software such as lavapipe); fails if none.
    Gpu,
    /// The multi-threaded CPU backend.
    Cpu,
}

/// What the engine observes each time `observe` is called: members × (ops + 1)
/// values; the last value per member is 1.0 when its state was non-finite.
pub type ObsFrame = Vec<f32>;

pub trait Engine {
    /// `"gpu"` or `"cpu"`.
    fn backend(&self) -> &'static str;

    /// The step kernel's tuned shape and where it came from, for run
    /// manifests (`gpu::autotune`); `None` where nothing is tuned.
    fn kernel_note(&self) -> Option<serde_json::Value> {
        None
    }

    fn plan(&self) -> &Plan;

    fn members(&self) -> usize {
        self.plan().members as usize
    }

    /// Steps taken so far.
    fn step(&self) -> u64;

    /// Sets the step counter without advancing: a fork of a run at a later
    /// time (an analysed ensemble forecast under another treatment arm)
    /// continues the plan's schedules from `step` once its state is written.
    fn set_step(&mut self, step: u64);

    /// Advances every member by `steps` steps (no host synchronisation on
    /// the GPU until data is read).
    fn advance(&mut self, steps: u64) -> Result<(), EngineError>;

    /// Computes the plan's observables for every member at the current step
    /// and marks members with non-finite state as diverged.
    fn observe(&mut self) -> Result<ObsFrame, EngineError>;

    fn status(&mut self) -> Result<Vec<MemberStatus>, EngineError>;

    /// Whole state, members × state_len.
    fn read_state(&mut self) -> Result<Vec<f32>, EngineError>;

    fn write_state(&mut self, data: &[f32]) -> Result<(), EngineError>;

    /// Member parameters as the kernels see them, members × params.
    fn read_params(&mut self) -> Result<Vec<f32>, EngineError>;

    fn write_params(&mut self, data: &[f32]) -> Result<(), EngineError>;

    /// Member i takes the state, parameters and status of member `src[i]`
    /// (particle resampling, forking arms).
    fn copy_members(&mut self, src: &[u32]) -> Result<(), EngineError>;
}

impl fmt::Debug for dyn Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Engine({}, {} members, step {})",
            self.backend(),
            self.members(),
            self.step()
        )
    }
}

/// Checks a length given to `write_*`.
pub(crate) fn check_len(what: &str, got: usize, want: usize) -> Result<(), EngineError> {
    if got == want {
        Ok(())
    } else {
        Err(EngineError::Invalid(format!(
            "{what}: got {got} values, expected {want}"
        )))
    }
}
