//! The `Engine` interface every command drives, with a GPU implementation
//! (`crate::engine::gpu::GpuEngine`) and a CPU one (`cpu::CpuEngine`).
//!
//! Owns: the trait, per-member status, engine errors and backend choice.
//! Drivers (run, sweep, twin, cohort, bench) talk only to this trait; this
//! module never imports wgpu (the GPU engine is created through
//! `crate::engine::gpu`).

pub mod backend;
pub mod cpu;
pub mod gpu;
pub mod mix;
pub mod port;
pub mod record;

pub use port::{Batch, EnginePort, PerRow, Recordings, RowStatus, Simulator, SimulatorError};

use crate::core::plan::Plan;
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

    /// The (code, step) pair kept in status buffers (inverse of
    /// [`MemberStatus::from_code`]).
    pub fn to_code(&self) -> (u32, u32) {
        match self {
            MemberStatus::Ok => (0, 0),
            MemberStatus::Diverged { step } => (1, *step as u32),
            MemberStatus::Saturated { step } => (2, *step as u32),
        }
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
    /// What only a device backend raises (`backend::DeviceError`).
    #[error(transparent)]
    Device(#[from] crate::engine::backend::DeviceError),
    #[error("timed out waiting for the GPU ({0})")]
    Timeout(String),
    #[error("{0}")]
    Invalid(String),
    /// A host asked the work to stop (`crate::output::interrupt::request`).
    #[error("interrupted")]
    Interrupted,
}

impl From<crate::core::shaders::ShaderError> for EngineError {
    fn from(e: crate::core::shaders::ShaderError) -> Self {
        EngineError::Device(crate::engine::backend::DeviceError::Shader(e))
    }
}

/// Which implementation runs a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
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

    /// [`Engine::observe`] for the members in `ranges` only (a driver that
    /// looks at a few blocks of a large ensemble: patient runs): the rows
    /// of the listed members, range after range, and only they are marked
    /// diverged. The CPU backend computes only these rows; the default
    /// observes every member and picks them.
    fn observe_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
    ) -> Result<ObsFrame, EngineError> {
        let members = self.members();
        check_ranges(ranges, members)?;
        let all = self.observe()?;
        let stride = all.len() / members.max(1);
        Ok(pick_ranges(&all, ranges, stride))
    }

    fn status(&mut self) -> Result<Vec<MemberStatus>, EngineError>;

    /// [`Engine::status`] of the members in `ranges`, range after range.
    fn status_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
    ) -> Result<Vec<MemberStatus>, EngineError> {
        check_ranges(ranges, self.members())?;
        let all = self.status()?;
        Ok(ranges
            .iter()
            .flat_map(|r| all[r.clone()].iter().copied())
            .collect())
    }

    /// Sets every member's status (restoring a checkpoint): members marked
    /// failed stay frozen from then on, as if they had failed here.
    fn write_status(&mut self, status: &[MemberStatus]) -> Result<(), EngineError>;

    /// Whole state, members × state_len.
    fn read_state(&mut self) -> Result<Vec<f32>, EngineError>;

    fn write_state(&mut self, data: &[f32]) -> Result<(), EngineError>;

    /// Member parameters as the kernels see them, members × params.
    fn read_params(&mut self) -> Result<Vec<f32>, EngineError>;

    fn write_params(&mut self, data: &[f32]) -> Result<(), EngineError>;

    /// The states of the members in `ranges`, range after range (members ×
    /// state_len): a driver that analyses a few blocks of a large ensemble
    /// (patient runs) reads only those. The CPU backend copies only these
    /// members, the GPU engine one span per batch; the default reads every
    /// state and picks them.
    fn read_state_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
    ) -> Result<Vec<f32>, EngineError> {
        let n = self.plan().model.state_len();
        check_ranges(ranges, self.members())?;
        let all = self.read_state()?;
        Ok(pick_ranges(&all, ranges, n))
    }

    /// Writes the states of the members in `ranges` (laid out as
    /// [`Engine::read_state_ranges`] returns them); every other member is
    /// unchanged. The CPU and GPU engines write only these members (the GPU
    /// one `write_buffer` per range and batch); the default reads every
    /// state, replaces these and writes them all back.
    fn write_state_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
        data: &[f32],
    ) -> Result<(), EngineError> {
        let n = self.plan().model.state_len();
        check_ranges(ranges, self.members())?;
        check_len("write_state_ranges", data.len(), ranges_len(ranges) * n)?;
        let mut all = self.read_state()?;
        put_ranges(&mut all, ranges, n, data);
        self.write_state(&all)
    }

    /// [`Engine::read_state_ranges`] for the member parameters.
    fn read_params_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
    ) -> Result<Vec<f32>, EngineError> {
        let np = self.plan().n_params();
        check_ranges(ranges, self.members())?;
        let all = self.read_params()?;
        Ok(pick_ranges(&all, ranges, np))
    }

    /// [`Engine::write_state_ranges`] for the member parameters.
    fn write_params_ranges(
        &mut self,
        ranges: &[std::ops::Range<usize>],
        data: &[f32],
    ) -> Result<(), EngineError> {
        let np = self.plan().n_params();
        check_ranges(ranges, self.members())?;
        check_len("write_params_ranges", data.len(), ranges_len(ranges) * np)?;
        let mut all = self.read_params()?;
        put_ranges(&mut all, ranges, np, data);
        self.write_params(&all)
    }

    /// Puts every member back at its start under new parameters (members ×
    /// params, as [`Engine::write_params`] takes them): state from
    /// `Model::init_member` with the plan's seed and member offset, status
    /// ok, step 0. An engine reused this way (the Python simulator handle
    /// runs many parameter sets on one engine, with no pipelines or
    /// buffers built again) gives the results a new engine built for
    /// `plan.with_params(..)` gives. `plan()` keeps the parameters the
    /// engine was built with.
    fn restart(&mut self, params: &[f32]) -> Result<(), EngineError> {
        let plan = self.plan();
        let (n, np, members) = (plan.model.state_len(), plan.n_params(), self.members());
        if params.len() != members * np {
            return Err(EngineError::Invalid(format!(
                "restart: {} parameter values for {members} members of {np}",
                params.len()
            )));
        }
        let mut state = vec![0.0f32; members * n];
        for (m, s) in state.chunks_mut(n.max(1)).enumerate() {
            plan.model.init_member(
                plan.seed,
                plan.member_offset + m as u32,
                &params[m * np..(m + 1) * np],
                s,
            );
        }
        self.write_params(params)?;
        self.write_state(&state)?;
        self.write_status(&vec![MemberStatus::Ok; members])?;
        self.set_step(0);
        Ok(())
    }

    /// Member i takes the state, parameters and status of member `src[i]`
    /// (particle resampling, forking arms).
    fn copy_members(&mut self, src: &[u32]) -> Result<(), EngineError>;

    /// Applies an ensemble-space transform to the member states
    /// (`mix::MemberMix`; failed members excluded and left as they are).
    /// This default reads the states back, applies the f32 CPU twin
    /// (`mix::apply_f32`) and writes them again; the GPU engine runs
    /// `shaders/assim/mix.wgsl` on the device instead. The outcome says
    /// whether states were read back, and why.
    fn mix_members(&mut self, m: &mix::MemberMix) -> Result<mix::MixOutcome, EngineError> {
        let status = self.status()?;
        let n = self.plan().model.state_len();
        let mut state = self.read_state()?;
        mix::apply_f32(&mut state, n, &status, m)?;
        self.write_state(&state)?;
        Ok(mix::MixOutcome::on_host(format!(
            "the {} backend holds states on the host",
            self.backend()
        )))
    }

    /// Per-word mean and variance (divisor n − 1) of the ok members' states
    /// over `words`, in f32 (`mix::moments`; on the GPU, computed on the
    /// device so the states stay there).
    fn state_moments(
        &mut self,
        words: std::ops::Range<usize>,
    ) -> Result<(Vec<f32>, Vec<f32>), EngineError> {
        let n = self.plan().model.state_len();
        if words.start > words.end || words.end > n {
            return Err(EngineError::Invalid(format!(
                "state_moments: words {}..{} outside the state's {n}",
                words.start, words.end
            )));
        }
        let status = self.status()?;
        let state = self.read_state()?;
        Ok(mix::moments(&state, n, &status, words))
    }
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

/// Checks member ranges given to `observe_ranges`.
pub(crate) fn check_ranges(
    ranges: &[std::ops::Range<usize>],
    members: usize,
) -> Result<(), EngineError> {
    match ranges.iter().find(|r| r.start > r.end || r.end > members) {
        Some(r) => Err(EngineError::Invalid(format!(
            "member range {}..{} outside the ensemble's {members} members",
            r.start, r.end
        ))),
        None => Ok(()),
    }
}

/// How many members `ranges` hold.
pub(crate) fn ranges_len(ranges: &[std::ops::Range<usize>]) -> usize {
    ranges.iter().map(|r| r.len()).sum()
}

/// The rows (`width` values per member) of the members in `ranges`.
pub(crate) fn pick_ranges(
    all: &[f32],
    ranges: &[std::ops::Range<usize>],
    width: usize,
) -> Vec<f32> {
    ranges
        .iter()
        .flat_map(|r| all[r.start * width..r.end * width].iter().copied())
        .collect()
}

/// Puts `data` (laid out as [`pick_ranges`] returns it) back into `all`.
pub(crate) fn put_ranges(
    all: &mut [f32],
    ranges: &[std::ops::Range<usize>],
    width: usize,
    data: &[f32],
) {
    let mut at = 0;
    for r in ranges {
        let len = r.len() * width;
        all[r.start * width..r.end * width].copy_from_slice(&data[at..at + len]);
        at += len;
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

/// `Err(EngineError::Interrupted)` once the call running on this thread was
/// asked to stop (see [`crate::output::interrupt`]): the check the recording
/// loop and the assimilation ensemble make before every advance.
pub fn check_interrupt() -> Result<(), EngineError> {
    if crate::output::interrupt::requested() {
        Err(EngineError::Interrupted)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod interrupt_tests {
    use super::*;
    use crate::output::interrupt::Stop;

    #[test]
    fn a_stopped_call_fails_with_interrupted_and_others_do_not() {
        let a = Stop::new();
        a.request();
        assert!(matches!(
            a.scope(check_interrupt),
            Err(EngineError::Interrupted)
        ));
        assert!(Stop::new().scope(check_interrupt).is_ok());
        assert!(check_interrupt().is_ok());
    }
}
