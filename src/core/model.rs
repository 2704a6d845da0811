//! The one plug-in point for model families: [`Model`].
//!
//! A model states its parameter schema (names, units, bounds), its state
//! layout (a fixed number of f32 words per member), how to initialise a
//! member, its GPU step kernel (WGSL) and the CPU twin of that kernel.
//! Engines, sweeps, assimilation and cohort export see only this trait.
//!
//! Owns: the contract between engines and models. Never imports wgpu.

use crate::core::observe::{GridShape, ObsOp};

message_error!(
    /// A kernel shape (`WxH/S`) or kernel choice that does not parse or fit.
    pub KernelShapeError
);

/// Why a model refuses a time step, member parameters, treatment events or
/// process noise. The messages name the parameter, species or setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The explicit scheme is unstable for some member's parameters at this
    /// time step (the message gives the largest stable one).
    #[error("{0}")]
    Unstable(String),
    /// The model takes no per-member treatment events.
    #[error("model `{kind}` takes no treatment events")]
    NoTreatmentEvents { kind: String },
    /// The model takes no process noise.
    #[error("model `{kind}` takes no process noise")]
    NoProcessNoise { kind: String },
    /// Treatment events the model takes but cannot place.
    #[error("{0}")]
    Events(String),
    /// Process noise the model takes but not as given.
    #[error("{0}")]
    Noise(String),
}

/// A parameter a model understands.
#[derive(Clone, Debug)]
pub struct ParamInfo {
    pub name: String,
    pub unit: String,
    pub description: String,
    /// Used when the scene does not set the parameter.
    pub default: f64,
    /// Physically meaningful range, for documentation and `vtwin models`.
    pub bounds: (f64, f64),
}

/// A state field (species) of a grid model.
#[derive(Clone, Debug)]
pub struct FieldInfo {
    pub name: String,
    pub unit: String,
    pub description: String,
}

/// What a model family is: shown by `vtwin models` and written into docs.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub kind: String,
    pub description: String,
    pub time_unit: String,
    pub length_unit: String,
    pub fields: Vec<FieldInfo>,
    pub params: Vec<ParamInfo>,
}

/// The GPU side of a model: one WGSL module with an entry point `step`
/// using the engine's standard bind group (see `shaders/shared/bindings.wgsl`).
#[derive(Clone, Debug)]
pub struct GpuProgram {
    /// Fully composed WGSL (includes resolved).
    pub source: String,
    /// Workgroups to dispatch for `members` members.
    pub workgroups: fn(&GridShape, u32) -> [u32; 3],
}

/// The shape of a grid model's single-step kernel (`Model::tuned_program`):
/// `wg[0] × wg[1]` invocations per workgroup, `sites` consecutive x-sites
/// per invocation (4 with a row width that is a multiple of 4: vec4 loads
/// and stores). Chosen per adapter by `gpu::autotune`; results never
/// depend on it (every shape updates a site with the same expressions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct KernelConfig {
    pub wg: [u32; 2],
    pub sites: u32,
}

impl KernelConfig {
    /// The shape used when nothing was tuned: coalesced 16-wide rows,
    /// 4 sites (one vec4) per invocation.
    pub const DEFAULT: KernelConfig = KernelConfig {
        wg: [16, 16],
        sites: 4,
    };

    /// `16x16/4`: workgroup width × height / sites per invocation.
    pub fn label(&self) -> String {
        format!("{}x{}/{}", self.wg[0], self.wg[1], self.sites)
    }

    /// Parses [`KernelConfig::label`]'s form; invocations per workgroup
    /// must be 1..=256 and sites 1, 2 or 4.
    pub fn parse(text: &str) -> Result<KernelConfig, KernelShapeError> {
        let bad = || {
            format!(
                "kernel shape `{text}`: expected WxH/S, e.g. 16x16/4 (W·H ≤ 256, S ∈ {{1, 2, 4}})"
            )
        };
        let (wg, sites) = text.trim().split_once('/').ok_or_else(bad)?;
        let (w, h) = wg.split_once(['x', 'X']).ok_or_else(bad)?;
        let num = |t: &str| t.trim().parse::<u32>().map_err(|_| bad());
        let c = KernelConfig {
            wg: [num(w)?, num(h)?],
            sites: num(sites)?,
        };
        let n = c.wg[0] as u64 * c.wg[1] as u64;
        if n == 0 || n > 256 || ![1, 2, 4].contains(&c.sites) {
            return Err(bad().into());
        }
        Ok(c)
    }
}

/// A single-step GPU program built for one [`KernelConfig`].
#[derive(Clone, Debug)]
pub struct TunedProgram {
    /// Fully composed WGSL with entry point `step`.
    pub source: String,
    pub config: KernelConfig,
    /// Whether the kernel reads and writes the state as vec4.
    pub vec4: bool,
    /// Grid sites one workgroup covers in x and y.
    pub cover: [u32; 2],
}

/// Members per workgroup of the single-site step (`shaders/rd/ode.wgsl`,
/// `ODE_WG`): a one-site grid runs one invocation per member.
pub const SINGLE_SITE_WG: u32 = 64;

/// Workgroups of the single-site step for `members` members.
pub fn single_site_workgroups(members: u32) -> [u32; 3] {
    [members.div_ceil(SINGLE_SITE_WG), 1, 1]
}

impl TunedProgram {
    /// Workgroups to dispatch for `members` members of grid `g`.
    pub fn workgroups(&self, g: &GridShape, members: u32) -> [u32; 3] {
        if g.sites() == 1 {
            return single_site_workgroups(members);
        }
        [
            g.nx.div_ceil(self.cover[0]),
            g.ny.div_ceil(self.cover[1]),
            members,
        ]
    }
}

/// A temporally blocked GPU program (see `Model::fused_program`).
#[derive(Clone, Debug)]
pub struct FusedProgram {
    /// Fully composed WGSL with entry point `fused`.
    pub source: String,
    /// Sites per side of the block a workgroup writes.
    pub tile: u32,
    /// Halo width: the most steps one dispatch may take.
    pub halo: u32,
    /// Workgroup memory the kernel declares, in bytes.
    pub workgroup_bytes: u64,
}

/// Which step of which member a CPU twin takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepCtx {
    pub seed: u64,
    /// Global member index (the plan's member offset included).
    pub member: u32,
    pub step: u32,
}

/// One agent of a snapshot: its slot in the member's pool, its id, where it
/// is, and what it is (`AGENT_TYPES`, `AGENT_STATES` name the codes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AgentRow {
    pub slot: u32,
    pub id: u32,
    pub x: f32,
    pub y: f32,
    pub radius: f32,
    pub kind: u8,
    pub state: u8,
}

/// Names of `AgentRow::kind` codes.
pub const AGENT_TYPES: [&str; 2] = ["tumour", "immune"];
/// Names of `AgentRow::state` codes.
pub const AGENT_STATES: [&str; 3] = ["live", "apoptotic", "necrotic"];

/// A model instance frozen for one plan: parameter order fixed, grid fixed,
/// schedules resolved. `Send + Sync` so the CPU engine can run members on
/// many threads.
pub trait Model: Send + Sync {
    fn info(&self) -> &ModelInfo;

    /// The grid the state lives on (fields × ny × nx per member).
    fn grid(&self) -> GridShape;

    /// f32 words of state per member.
    fn state_len(&self) -> usize {
        self.grid().len()
    }

    /// Writes member `member`'s initial state. `params` are the member's
    /// parameters in `info().params` order (as f32, as the GPU sees them).
    fn init_member(&self, seed: u64, member: u32, params: &[f32], out: &mut [f32]);

    /// CPU twin of the GPU step kernel: advances one member by one step,
    /// reading `src` and writing all of `dst`. `ctx.step` is the index of
    /// the step being taken (time before the step = step · dt); `ctx.seed`
    /// and `ctx.member` key the member's random draws, as `Step.seed_*` and
    /// `Step.member_offset` + batch index do on the GPU.
    fn step_cpu(&self, ctx: &StepCtx, params: &[f32], src: &[f32], dst: &mut [f32]);

    /// The GPU program; `None` for a CPU-only model.
    fn gpu_program(&self) -> Option<GpuProgram>;

    /// The single-step kernel in a given shape, for models whose kernel has
    /// tunable shapes (`gpu::autotune`); `None` (the default): only
    /// `gpu_program`.
    fn tuned_program(&self, _config: &KernelConfig) -> Option<TunedProgram> {
        None
    }

    /// A temporally blocked GPU kernel (entry point `fused`, same bind group
    /// as `step`) that advances a `tile × tile` block of sites by up to
    /// `halo` steps per dispatch from workgroup memory; the number of steps
    /// of a dispatch is the `Step` record's `steps_per_dispatch`. `None` when the model has
    /// none (see `gpu::fused`).
    fn fused_program(&self, _tile: u32, _halo: u32) -> Option<FusedProgram> {
        None
    }

    /// f32 words per member of GPU scratch memory (bound read-write as
    /// `scratch`, binding 7): working arrays of a step kernel that carry no
    /// state from one step to the next (agent bins, sorted indices). The
    /// CPU twin keeps its own. Default 0: no scratch.
    fn scratch_len(&self) -> usize {
        0
    }

    /// A state word through which the step kernel reports a saturated
    /// member (an agent pool that would exceed its capacity): 0 while the
    /// member is fine, `step + 1` once it saturated at `step`. The engines
    /// turn it into `MemberStatus::Saturated` when they observe, and failed
    /// members are frozen from then on, as diverged ones are.
    fn status_word(&self) -> Option<usize> {
        None
    }

    /// Whether a linear combination of member states is again a valid
    /// state (true for fields). False for agent pools, whose words are
    /// counts, ids and slots: ensemble-transform filters (EnKF, ETKF,
    /// LETKF) and particle jitter must not touch them; a particle filter
    /// resamples them whole.
    fn continuous_state(&self) -> bool {
        true
    }

    /// Observables the model always reports, before the scene's own (an
    /// agent-based model's counts and radii, read from state words with
    /// `Reduction::Word`). Default: none.
    fn preset_observables(&self) -> Vec<ObsOp> {
        Vec::new()
    }

    /// The agents in one member's state (with its parameters, as the
    /// kernels see them), for snapshots (`agents.parquet`, montages);
    /// `None` for a model without agents.
    fn agents(&self, _params: &[f32], _state: &[f32]) -> Option<Vec<AgentRow>> {
        None
    }

    /// Read-only per-plan data for the kernels (tissue map, schedules):
    /// bound as `aux` on the GPU and passed to the CPU twin through `self`.
    fn aux(&self) -> &[f32];

    /// Checks the time step against every member's parameters (f32, as the
    /// kernels see them); the message names the parameter, the offending
    /// value and the largest stable time step.
    fn check_stability(&self, _member_params: &[Vec<f32>]) -> Result<(), ModelError> {
        Ok(())
    }

    /// Checks every member's parameters for what the model cannot start
    /// from (sizes that do not fit, counts beyond a capacity), cheaply and
    /// before any member state exists, after `check_stability`:
    /// `Err((scene key, message))`.
    fn check_members(&self, _member_params: &[Vec<f32>]) -> Result<(), (String, String)> {
        Ok(())
    }

    /// Time step in the model's time unit.
    fn dt(&self) -> f64;

    /// A copy of this model that adds per-member treatment events
    /// (`crate::input::dosing::MemberEvents`) after the steps holding them;
    /// `Err` (a message) when the model takes none or an event does not fit.
    fn with_member_events(
        &self,
        _events: &crate::input::dosing::MemberEvents,
    ) -> Result<std::sync::Arc<dyn Model>, ModelError> {
        Err(ModelError::NoTreatmentEvents {
            kind: self.info().kind.to_string(),
        })
    }

    /// A copy of this model with process noise on states
    /// (`crate::core::model_error`); `Err` when the model takes none.
    fn with_process_noise(
        &self,
        _noise: &[crate::core::model_error::ProcessNoise],
    ) -> Result<std::sync::Arc<dyn Model>, ModelError> {
        Err(ModelError::NoProcessNoise {
            kind: self.info().kind.to_string(),
        })
    }

    /// Time before step `step`, computed the same way on both backends.
    fn time_at(&self, step: u64) -> f64 {
        step as f64 * self.dt()
    }
}
