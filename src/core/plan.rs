//! Plans: a scene frozen into what an engine runs. Immutable once built:
//! the model (for one arm), every member's parameters and seed, the step
//! schedule and the observables. A member's parameters depend only on
//! (seed, member index): Philox counter (parameter, member, 0, Params) gives
//! the unit-cube point mapped through the parameter block.
//!
//! Member offset: a plan may stand for a slice of a larger ensemble (a
//! cohort shard or chunk). Member m of such a plan is global member
//! `member_offset + m` for every keyed draw (drawn parameters, initial
//! noise, the `member_offset` the GPU kernels see), so a slice computes
//! exactly what the same members compute inside the whole ensemble.
//!
//! Owns: freezing and checking (stability against every member's sampled
//! parameters, observables against the model). Never imports wgpu.

use crate::core::model::{Model, ModelError};
use crate::core::observe::ObservableSet;
use crate::core::rng::{self, Stream};
use crate::input::limits;
use crate::input::params::ParamBlock;
use crate::input::scene::{Arm, Scene, SceneError};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Why a frozen plan refuses a change (`Plan::with_param`, events, noise).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// No parameter of that name in the plan's block.
    #[error("model `{kind}` has no parameter `{name}`; its parameters are: {known}")]
    UnknownParam {
        kind: String,
        name: String,
        known: String,
    },
    /// A value that is NaN or infinite.
    #[error("parameter `{name}`: {value} is not a finite number")]
    NotFinite { name: String, value: f64 },
    /// The model refuses the value (stability) for some member.
    #[error("{name} = {value}: {error}")]
    Unstable {
        name: String,
        value: f64,
        error: ModelError,
    },
    /// The model cannot start a member from the value (`key`: its rule).
    #[error("{name} = {value}: {key}: {message}")]
    Member {
        name: String,
        value: f64,
        key: String,
        message: String,
    },
    /// The model refuses the events or noise.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// What a command may override in a scene.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub members: Option<u32>,
    pub seed: Option<u64>,
    pub arm: Option<String>,
    /// Explicit member parameter rows (over the resolved block, in block
    /// order) instead of drawing from the distributions: designs, posteriors.
    pub member_params: Option<Vec<Vec<f64>>>,
    /// Global index of member 0 (default 0); see the module docs.
    pub member_offset: u32,
}

#[derive(Clone)]
pub struct Plan {
    pub scene_path: std::path::PathBuf,
    pub scene_sha256: String,
    pub model: Arc<dyn Model>,
    pub block: ParamBlock,
    pub arm: Arm,
    pub seed: u64,
    pub members: u32,
    /// Global index of member 0 for keyed draws (module docs).
    pub member_offset: u32,
    /// Member parameters as drawn (f64), members × params.
    pub params: Vec<Vec<f64>>,
    pub steps: u64,
    pub every: u64,
    pub observables: ObservableSet,
    pub sha256: String,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("model", &self.model.info().kind)
            .field("members", &self.members)
            .field("steps", &self.steps)
            .finish()
    }
}

/// `[assimilation] init_mean` holds 1 value or one per state word; checked
/// here so that `check` refuses what `twin` would.
fn check_assimilation_init(scene: &Scene, state_len: usize) -> Result<(), SceneError> {
    if let Some(m) = scene
        .file
        .assimilation
        .as_ref()
        .and_then(|a| a.init_mean.as_ref())
        && m.len() != 1
        && m.len() != state_len
    {
        return Err(scene.error_at(
            "assimilation.init_mean",
            format!(
                "give 1 value or one per state word ({state_len}), got {}",
                m.len()
            ),
        ));
    }
    Ok(())
}

/// Member `member`'s unit-cube point over the block's varying parameters.
pub fn member_unit_point(seed: u64, member: u32, dims: usize) -> Vec<f64> {
    (0..dims)
        .map(|j| rng::uniform_f64(seed, j as u32, member, 0, Stream::Params as u32))
        .collect()
}

/// The plan hash from its parts (what `Plan::sha256` holds): scene hash,
/// arm, seed, steps, the member offset (when not 0), parameter names and
/// every member's parameter row (bit patterns), in order. Public so that
/// `vtwin merge` can give joined shards the hash of the whole plan from the
/// merged parameter table.
pub fn plan_hash<'a>(
    scene_sha256: &str,
    arm: &str,
    seed: u64,
    steps: u64,
    member_offset: u32,
    param_names: &[&str],
    rows: impl IntoIterator<Item = &'a [f64]>,
) -> String {
    let mut h = Sha256::new();
    h.update(scene_sha256.as_bytes());
    h.update(arm.as_bytes());
    h.update(seed.to_le_bytes());
    h.update(steps.to_le_bytes());
    if member_offset != 0 {
        h.update(b"member_offset");
        h.update(member_offset.to_le_bytes());
    }
    for name in param_names {
        h.update(name.as_bytes());
        h.update([0u8]);
    }
    for row in rows {
        for v in row {
            h.update(v.to_bits().to_le_bytes());
        }
    }
    crate::input::scene::hex(&h.finalize())
}

/// A plan hash extended by a labelled description (events, noise).
fn extend_hash(base: &str, label: &str, what: &str) -> String {
    let mut h = Sha256::new();
    h.update(base.as_bytes());
    h.update(label.as_bytes());
    h.update(what.as_bytes());
    crate::input::scene::hex(&h.finalize())
}

/// `[assimilation.model_error]` against the model: section checks, every
/// process-noise species a field the model can add noise to, every
/// drifting parameter a scene parameter.
fn check_model_error(
    scene: &Scene,
    model: &dyn Model,
    block: &ParamBlock,
) -> Result<(), SceneError> {
    let Some(me) = scene
        .file
        .assimilation
        .as_ref()
        .and_then(|a| a.model_error.as_ref())
    else {
        return Ok(());
    };
    let key = |k: &str| format!("assimilation.model_error.{k}");
    me.validate()
        .map_err(|(k, m)| scene.error_at(&key(&k), m))?;
    for (i, p) in me.process.iter().enumerate() {
        if !model.info().fields.iter().any(|f| f.name == p.species) {
            return Err(scene.error_at(
                &key(&format!("process.{i}.species")),
                format!("`{}` is not a species of the model", p.species),
            ));
        }
    }
    if !me.process.is_empty() {
        model
            .with_process_noise(&me.process)
            .map_err(|m| scene.error_at(&key("process"), m.to_string()))?;
    }
    for name in me.drift.keys() {
        if !block.params.iter().any(|p| p.name == *name) {
            return Err(scene.error_at(
                &key(&format!("drift.{name}")),
                format!("`{name}` is not a parameter of the scene"),
            ));
        }
    }
    Ok(())
}

impl Plan {
    pub fn freeze(scene: &Scene, opts: &PlanOptions) -> Result<Plan, SceneError> {
        let info = crate::core::model_scene::info_for(scene)?;
        let block = crate::core::model_scene::resolve_params(scene, &info)?;
        let seed = opts.seed.unwrap_or(scene.file.ensemble.seed);
        let arm = scene.arm(opts.arm.as_deref())?;
        let steps = scene.file.time.total_steps();
        // The member count and every limit before anything is drawn
        // (limits.rs): a huge ensemble is refused in milliseconds.
        let n_members: u64 = match &opts.member_params {
            Some(rows) => {
                limits::check_members("member rows", rows.len() as u64)
                    .map_err(|m| scene.error_at("ensemble.members", m.to_string()))?;
                rows.len() as u64
            }
            None => {
                let members = opts.members.unwrap_or(scene.file.ensemble.members);
                if members == 0 {
                    return Err(scene.error_at("ensemble.members", "members must be at least 1"));
                }
                let what = if opts.members.is_some() {
                    "--members"
                } else {
                    "members"
                };
                limits::check_members(what, members as u64)
                    .map_err(|m| scene.error_at("ensemble.members", m.to_string()))?;
                members as u64
            }
        };
        if n_members + opts.member_offset as u64 > 1u64 << 32 {
            return Err(scene.error_at(
                "ensemble.members",
                format!(
                    "{n_members} members from global index {} exceed 2³² member indices",
                    opts.member_offset
                ),
            ));
        }
        let model = crate::core::model_scene::build(scene, &block, &arm, steps)?;
        check_assimilation_init(scene, model.state_len())?;
        check_model_error(scene, model.as_ref(), &block)?;
        let fields: Vec<(String, String)> = model
            .info()
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.unit.clone()))
            .collect();
        let observables = ObservableSet::from_specs(
            model.preset_observables(),
            &scene.file.observables,
            &fields,
            &model.grid(),
            &model.info().length_unit,
            &model.info().time_unit,
        )
        .map_err(|(k, m)| scene.error_at(&k, m))?;
        let every = scene.file.observe.every.max(1);
        let observations = steps / every + 2;
        let needed = limits::host_bytes(
            n_members,
            block.params.len() as u64,
            0,
            observables.ops.len() as u64 + 1,
            observations,
            false,
        );
        limits::check_host_memory(
            &format!("the member table and {observations} observations of {n_members} members"),
            needed,
        )
        .map_err(|m| scene.error_at("ensemble.members", m.to_string()))?;
        let params: Vec<Vec<f64>> = match &opts.member_params {
            Some(rows) => {
                for (i, r) in rows.iter().enumerate() {
                    if r.len() != block.params.len() {
                        return Err(scene.error_at(
                            "parameters",
                            format!(
                                "member row {i} has {} values, the plan has {} parameters",
                                r.len(),
                                block.params.len()
                            ),
                        ));
                    }
                }
                rows.clone()
            }
            None => {
                let dims = block.varying().len();
                let off = opts.member_offset;
                let points: Vec<Vec<f64>> = (0..n_members as u32)
                    .map(|m| member_unit_point(seed, off + m, dims))
                    .collect();
                block.map_units(&points)
            }
        };
        let members = params.len() as u32;
        let p32: Vec<Vec<f32>> = params
            .iter()
            .map(|r| r.iter().map(|&v| v as f32).collect())
            .collect();
        if let Err(msg) = model.check_stability(&p32) {
            return Err(scene.error_at("time.dt", msg.to_string()));
        }
        if let Err((key, msg)) = model.check_members(&p32) {
            return Err(scene.error_at(&key, msg));
        }
        let mut plan = Plan {
            scene_path: scene.path.clone(),
            scene_sha256: scene.sha256.clone(),
            model: Arc::from(model),
            block,
            arm,
            seed,
            members,
            member_offset: opts.member_offset,
            params,
            steps,
            every: scene.file.observe.every,
            observables,
            sha256: String::new(),
        };
        plan.sha256 = plan.compute_sha256();
        Ok(plan)
    }

    /// Hash of the resolved plan: scene hash, arm, seed, steps, the member
    /// offset (when not 0) and every member's parameters (bit patterns), in
    /// order.
    fn compute_sha256(&self) -> String {
        let names: Vec<&str> = self.block.params.iter().map(|p| p.name.as_str()).collect();
        plan_hash(
            &self.scene_sha256,
            &self.arm.name,
            self.seed,
            self.steps,
            self.member_offset,
            &names,
            self.params.iter().map(Vec::as_slice),
        )
    }

    /// This plan with parameter `name` set to `value` for every member
    /// (`vtwin fork --set`), checked for stability and the model's member
    /// rules as a frozen plan is, and hashed again.
    pub fn with_param(mut self, name: &str, value: f64) -> Result<Plan, PlanError> {
        let Some(j) = self.block.params.iter().position(|p| p.name == name) else {
            let names: Vec<&str> = self.block.params.iter().map(|p| p.name.as_str()).collect();
            return Err(PlanError::UnknownParam {
                kind: self.model.info().kind.to_string(),
                name: name.to_string(),
                known: names.join(", "),
            });
        };
        if !value.is_finite() {
            return Err(PlanError::NotFinite {
                name: name.to_string(),
                value,
            });
        }
        for row in &mut self.params {
            row[j] = value;
        }
        let p32: Vec<Vec<f32>> = self
            .params
            .iter()
            .map(|r| r.iter().map(|&v| v as f32).collect())
            .collect();
        self.model
            .check_stability(&p32)
            .map_err(|error| PlanError::Unstable {
                name: name.to_string(),
                value,
                error,
            })?;
        self.model
            .check_members(&p32)
            .map_err(|(key, message)| PlanError::Member {
                name: name.to_string(),
                value,
                key,
                message,
            })?;
        self.sha256 = self.compute_sha256();
        Ok(self)
    }

    /// Member parameters as the kernels see them: f32, members × params.
    pub fn params_f32(&self) -> Vec<f32> {
        self.params
            .iter()
            .flat_map(|r| r.iter().map(|&v| v as f32))
            .collect()
    }

    pub fn n_params(&self) -> usize {
        self.block.params.len()
    }

    /// Steps at which observables are recorded: 0, every, 2·every, … and the last.
    pub fn observation_steps(&self) -> Vec<u64> {
        let mut v: Vec<u64> = (0..=self.steps).step_by(self.every as usize).collect();
        if v.last() != Some(&self.steps) {
            v.push(self.steps);
        }
        v
    }

    /// Bytes of GPU state per member: two state copies, parameters, status,
    /// observables.
    pub fn bytes_per_member(&self) -> u64 {
        let state = self.model.state_len() as u64 * 4;
        2 * state + self.n_params() as u64 * 4 + 8 + (self.observables.ops.len() as u64 + 1) * 4
    }

    /// Host memory a run of this plan needs (`limits::host_bytes`): member
    /// table, recorded observables and, on the CPU backend, member state.
    pub fn host_bytes(&self, cpu: bool) -> u64 {
        crate::input::limits::host_bytes(
            self.members as u64,
            self.n_params() as u64,
            self.model.state_len() as u64,
            self.observables.ops.len() as u64 + 1,
            self.observation_steps().len() as u64,
            cpu,
        )
    }

    /// The same plan with per-member treatment events
    /// (`crate::input::dosing::MemberEvents`: global member m takes group
    /// m / block) added after the steps that hold them. Replaces events
    /// given before; refused (a message) for models without user kinetics
    /// or events naming no species. The plan hash covers the events.
    pub fn with_member_events(
        &self,
        events: &crate::input::dosing::MemberEvents,
    ) -> Result<Plan, PlanError> {
        let mut p = self.clone();
        p.model = self.model.with_member_events(events)?;
        p.sha256 = extend_hash(&self.sha256, "member_events", &format!("{events:?}"));
        Ok(p)
    }

    /// The same plan with process noise on states (`crate::core::model_error`,
    /// e.g. from `[assimilation.model_error] process`), drawn from the
    /// run's Philox streams on both backends. Replaces noise given before;
    /// refused (a message) for models without user kinetics or unknown
    /// species. The plan hash covers the noise.
    pub fn with_process_noise(
        &self,
        noise: &[crate::core::model_error::ProcessNoise],
    ) -> Result<Plan, PlanError> {
        let mut p = self.clone();
        p.model = self.model.with_process_noise(noise)?;
        p.sha256 = extend_hash(&self.sha256, "process_noise", &format!("{noise:?}"));
        Ok(p)
    }

    /// The same plan with a different member table (for drivers that pick
    /// members: resampling, forks). The member offset is kept.
    pub fn with_params(&self, params: Vec<Vec<f64>>) -> Plan {
        let mut p = self.clone();
        p.members = params.len() as u32;
        p.params = params;
        p.sha256 = p.compute_sha256();
        p
    }
}
