//! Reaction-diffusion models on 2-D grids: one generic stencil path
//! (`shaders/rd/stencil.wgsl`, CPU twin in `cpu.rs`) with model-specific
//! reaction terms (`kinetics.rs`, `shaders/rd/<model>.wgsl`, or user
//! expressions in `models::custom`).
//!
//! Owns: building an `RdModel` from a scene: parameter indices, initial
//! state, tissue map, therapy and stimulus schedules, stability check.

pub mod cpu;
mod fast;
mod fast_tumour;
pub mod init;
pub mod kinetics;
pub mod wgsl;

use crate::core::expr::{Expr, valid_identifier};
use crate::core::model::{
    FieldInfo, FusedProgram, GpuProgram, KernelConfig, Model, ModelError, ModelInfo, ParamInfo,
    StepCtx, TunedProgram,
};
use crate::core::observe::GridShape;
use crate::input::params::ParamBlock;
use crate::input::scene::{Arm, Boundary, ModelKind, Scene, SceneError};
use kinetics::Ix;

/// The name custom reactions read the model time by (`step · dt`, the
/// time at the start of the step, rounded once to f32 on both backends).
pub const TIME_VAR: &str = "t";

/// The reaction term of a frozen RD model.
#[derive(Clone, Debug)]
pub enum Kinetics {
    GrayScott,
    Tumour,
    Cardiac,
    /// One parsed expression per species (variables: species, then
    /// parameters), printed as WGSL and evaluated by the CPU twin.
    Custom {
        exprs: Vec<Expr>,
    },
}

#[derive(Clone, Debug)]
pub struct RdModel {
    pub(crate) info: ModelInfo,
    pub(crate) kinetics: Kinetics,
    pub(crate) grid: GridShape,
    pub(crate) dt: f64,
    pub(crate) dt32: f32,
    pub(crate) dx2inv: f32,
    /// Canonical parameter order → index in the member parameter vector.
    pub(crate) ix: Ix,
    /// Per species: index of its diffusivity parameter (None: no diffusion).
    pub(crate) diff_ix: Vec<Option<usize>>,
    pub(crate) n_params: usize,
    pub(crate) param_names: Vec<String>,
    pub(crate) aux: Vec<f32>,
    pub(crate) map_off: Option<usize>,
    pub(crate) sched_off: usize,
    pub(crate) stim_off: usize,
    pub(crate) init: init::InitialState,
    /// Custom kinetics only: what is added after each step (doses, events,
    /// process noise); `crate::input::dosing`, `crate::core::model_error`.
    pub(crate) extras: Extras,
    /// Tumour only: face weights of every site, precomputed for the CPU
    /// twin's specialised step (`fast_tumour`).
    pub(crate) faces: Option<std::sync::Arc<fast_tumour::Faces>>,
}

/// Additions after the Euler update of models with user kinetics, applied
/// in this order by the CPU twin (`cpu::custom_post`) and the generated
/// WGSL `post` (`wgsl::custom_post`).
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// Arm dose table at `dose_off`: `dose_rows` rows of one value per
    /// column, column j adding to species `dose_species[j]`.
    pub(crate) dose_off: usize,
    pub(crate) dose_rows: usize,
    pub(crate) dose_species: Vec<u32>,
    /// Where per-member event tables start in aux (the aux length before
    /// them; the tail after it is rebuilt by `with_member_events`).
    pub(crate) tail: usize,
    /// Per-member events: (aux offset, members per group, groups).
    pub(crate) events: Option<(usize, u32, u32)>,
    pub(crate) noise: Vec<NoiseTerm>,
}

/// Process noise on one species (`model_error`), constants rounded once.
#[derive(Clone, Copy, Debug)]
pub struct NoiseTerm {
    pub(crate) species: u32,
    pub(crate) multiplicative: bool,
    /// σ·√dt.
    pub(crate) scale: f32,
    /// σ²·dt/2 (multiplicative only).
    pub(crate) half_var: f32,
}

impl Extras {
    /// True when `post` does anything.
    pub fn any(&self) -> bool {
        !self.dose_species.is_empty() || self.events.is_some() || !self.noise.is_empty()
    }
}

/// The scene key of `arm`'s entry `rest` (`arms.<i>.<rest>`).
fn arm_key(scene: &Scene, arm: &Arm, rest: &str) -> String {
    let i = scene
        .file
        .arms
        .iter()
        .position(|a| a.name == arm.name)
        .unwrap_or(0);
    format!("arms.{i}.{rest}")
}

/// The model description for a scene without freezing it (fields and
/// parameters of a custom model come from the scene).
pub fn info_for_scene(scene: &Scene) -> Result<ModelInfo, SceneError> {
    let m = &scene.file.model;
    if m.kind != ModelKind::Custom {
        for key in ["species", "reactions", "diffusion"] {
            let set = match key {
                "species" => !m.species.is_empty(),
                "reactions" => !m.reactions.is_empty(),
                _ => !m.diffusion.is_empty(),
            };
            if set {
                return Err(scene.error_at(
                    &format!("model.{key}"),
                    format!("`{key}` is only for kind = \"custom\""),
                ));
            }
        }
    }
    Ok(match m.kind {
        ModelKind::GrayScott => kinetics::gray_scott_info(),
        ModelKind::Tumour => kinetics::tumour_info(),
        ModelKind::Cardiac => kinetics::cardiac_info(),
        ModelKind::Lorenz96 | ModelKind::Lorenz63 | ModelKind::TumourAbm => {
            return Err(scene.error_at(
                "model.kind",
                format!("`{}` is not a reaction-diffusion model", m.kind.name()),
            ));
        }
        ModelKind::Custom => {
            if m.species.is_empty() {
                return Err(scene.error_at(
                    "model.species",
                    "a custom model needs `species = [\"u\", ...]`",
                ));
            }
            if m.species.len() > cpu::max_species() {
                return Err(scene.error_at(
                    "model.species",
                    format!(
                        "a custom model has at most {} species, got {}",
                        cpu::max_species(),
                        m.species.len()
                    ),
                ));
            }
            for (i, s) in m.species.iter().enumerate() {
                if s == TIME_VAR {
                    return Err(scene.error_at(
                        &format!("model.species.{i}"),
                        format!(
                            "`{TIME_VAR}` is the model time in custom reactions; rename the species"
                        ),
                    ));
                }
                if !valid_identifier(s) {
                    return Err(scene.error_at(
                        &format!("model.species.{i}"),
                        format!("`{s}` is not a valid identifier"),
                    ));
                }
                if let Some(j) = m.species[..i].iter().position(|x| x == s) {
                    return Err(scene.error_at(
                        &format!("model.species.{i}"),
                        format!("duplicate species `{s}` (entries {j} and {i})"),
                    ));
                }
            }
            let mut info = crate::core::models::custom::custom_info_template();
            info.fields = m
                .species
                .iter()
                .map(|s| FieldInfo {
                    name: s.clone(),
                    unit: "1".into(),
                    description: format!("species {s}"),
                })
                .collect();
            info.params = scene
                .params
                .params
                .iter()
                .map(|p| ParamInfo {
                    name: p.name.clone(),
                    unit: "user".into(),
                    description: "user parameter".into(),
                    default: p.dist.median(),
                    bounds: p.dist.support(),
                })
                .collect();
            info
        }
    })
}

impl RdModel {
    pub fn build(
        scene: &Scene,
        block: &ParamBlock,
        arm: &Arm,
        steps: u64,
    ) -> Result<RdModel, SceneError> {
        let f = &scene.file;
        let info = info_for_scene(scene)?;
        let grid = GridShape {
            nx: f.grid.nx,
            ny: f.grid.ny,
            fields: info.fields.len() as u32,
            dx: f.grid.dx,
            periodic: f.grid.boundary == Boundary::Periodic,
        };
        let param_names: Vec<String> = block.params.iter().map(|p| p.name.clone()).collect();
        for n in &param_names {
            if !valid_identifier(n) {
                return Err(scene.error_at(
                    &format!("parameters.{n}"),
                    format!("parameter name `{n}` is not a valid identifier"),
                ));
            }
            if f.model.kind == ModelKind::Custom && n == TIME_VAR {
                return Err(scene.error_at(
                    &format!("parameters.{n}"),
                    format!(
                        "`{TIME_VAR}` is the model time in custom reactions; rename the parameter"
                    ),
                ));
            }
            if f.model.kind == ModelKind::Custom && info.fields.iter().any(|s| s.name == *n) {
                return Err(scene.error_at(
                    &format!("parameters.{n}"),
                    format!("parameter `{n}` has the name of a species; rename one of them"),
                ));
            }
        }
        let idx = |name: &str| param_names.iter().position(|n| n == name);
        let species: Vec<String> = info.fields.iter().map(|f| f.name.clone()).collect();
        let (kin, ix, diff_ix) = match f.model.kind {
            ModelKind::Custom => {
                let mut exprs = Vec::new();
                // Variables: species, parameters, then the model time `t`.
                let vars: Vec<String> = species
                    .iter()
                    .chain(&param_names)
                    .cloned()
                    .chain([TIME_VAR.to_string()])
                    .collect();
                for k in f.model.reactions.keys() {
                    if !species.contains(k) {
                        return Err(scene.error_at(
                            &format!("model.reactions.{k}"),
                            format!("`{k}` is not a species"),
                        ));
                    }
                }
                for s in &species {
                    let text = f.model.reactions.get(s).ok_or_else(|| {
                        scene.error_at(
                            "model.reactions",
                            format!("no reaction given for species `{s}`"),
                        )
                    })?;
                    let e = Expr::parse(text, &vars).map_err(|e| {
                        scene.error_at(&format!("model.reactions.{s}"), e.to_string())
                    })?;
                    exprs.push(e);
                }
                let mut diff = vec![None; species.len()];
                for (s, pname) in &f.model.diffusion {
                    let si = species.iter().position(|x| x == s).ok_or_else(|| {
                        scene.error_at(
                            &format!("model.diffusion.{s}"),
                            format!("`{s}` is not a species"),
                        )
                    })?;
                    diff[si] = Some(idx(pname).ok_or_else(|| {
                        scene.error_at(
                            &format!("model.diffusion.{s}"),
                            format!("`{pname}` is not a parameter of the scene"),
                        )
                    })?);
                }
                (Kinetics::Custom { exprs }, Vec::new(), diff)
            }
            kind => {
                // Built-in: resolve canonical order (resolve_params guarantees presence).
                let ix: Ix = info
                    .params
                    .iter()
                    .map(|p| idx(&p.name).unwrap_or(0))
                    .collect();
                let diff = match kind {
                    ModelKind::GrayScott => vec![Some(ix[0]), Some(ix[1])],
                    ModelKind::Tumour => vec![Some(ix[0])],
                    _ => vec![Some(ix[0]), None],
                };
                let k = match kind {
                    ModelKind::GrayScott => Kinetics::GrayScott,
                    ModelKind::Tumour => Kinetics::Tumour,
                    _ => Kinetics::Cardiac,
                };
                (k, ix, diff)
            }
        };
        if f.model.kind != ModelKind::Custom && !arm.doses.is_empty() {
            return Err(scene.error_at(
                &arm_key(scene, arm, "doses"),
                format!(
                    "model `{}` takes no `doses` (dose schedules are for kind = \"custom\")",
                    info.kind
                ),
            ));
        }
        if f.model.kind != ModelKind::Tumour
            && (!f.arms.is_empty())
            && f.arms.iter().any(|a| a.rt.is_some() || a.chemo.is_some())
        {
            return Err(scene.error_at(
                "arms",
                format!("model `{}` takes no therapy schedule", info.kind),
            ));
        }
        if f.model.kind != ModelKind::Cardiac && !f.stimulus.is_empty() {
            return Err(scene.error_at(
                "stimulus",
                format!("model `{}` takes no stimulus", info.kind),
            ));
        }
        let dt = f.time.dt;
        // aux layout: [tissue map (nx·ny)] [schedule (2 per step + 2)] [stimuli]
        let mut aux = Vec::new();
        let map = init::tissue_map(scene, &grid)?;
        let map_off = map.map(|m| {
            aux.extend_from_slice(&m);
            0
        });
        let sched_off = aux.len();
        if f.model.kind == ModelKind::Tumour {
            aux.extend(init::therapy_schedule(arm, dt, steps));
        }
        let stim_off = aux.len();
        if f.model.kind == ModelKind::Cardiac {
            aux.extend(init::stimulus_table(&f.stimulus));
        }
        let mut extras = Extras::default();
        if !arm.doses.is_empty() {
            for (j, d) in arm.doses.iter().enumerate() {
                let si = species
                    .iter()
                    .position(|x| *x == d.species)
                    .ok_or_else(|| {
                        scene.error_at(
                            &arm_key(scene, arm, &format!("doses.{j}.species")),
                            format!("`{}` is not a species", d.species),
                        )
                    })?;
                extras.dose_species.push(si as u32);
            }
            extras.dose_off = aux.len();
            extras.dose_rows = steps as usize + 1;
            aux.extend(crate::input::dosing::arm_table(&arm.doses, dt, steps));
        }
        extras.tail = aux.len();
        aux.extend([0.0; 4]); // never empty: a zero-sized binding is invalid
        let init = init::InitialState::from_scene(scene, &species, &param_names)?;
        let faces = (f.model.kind == ModelKind::Tumour).then(|| {
            let map = map_off.map(|o| &aux[o..o + grid.sites()]);
            std::sync::Arc::new(fast_tumour::Faces::build(&grid, map))
        });
        Ok(RdModel {
            info,
            kinetics: kin,
            grid,
            dt,
            dt32: dt as f32,
            dx2inv: (1.0 / (f.grid.dx * f.grid.dx)) as f32,
            ix,
            diff_ix,
            n_params: param_names.len(),
            param_names,
            aux,
            map_off,
            sched_off,
            stim_off,
            init,
            extras,
            faces,
        })
    }

    /// This model with per-member treatment events (replacing any before).
    pub fn with_events(
        &self,
        ev: &crate::input::dosing::MemberEvents,
    ) -> Result<RdModel, ModelError> {
        if !matches!(self.kinetics, Kinetics::Custom { .. }) {
            return Err(ModelError::Events(format!(
                "model `{}` takes no treatment events (they are for kind = \"custom\")",
                self.info.kind
            )));
        }
        let species: Vec<String> = self.info.fields.iter().map(|f| f.name.clone()).collect();
        let table = crate::input::dosing::event_table(ev, &species, self.dt)
            .map_err(|e| ModelError::Events(e.to_string()))?;
        let mut m = self.clone();
        m.aux.truncate(m.extras.tail);
        m.extras.events = Some((m.aux.len(), ev.block, ev.groups.len() as u32));
        m.aux.extend(table);
        m.aux.extend([0.0; 4]);
        Ok(m)
    }

    /// This model with process noise on the named species (replacing any
    /// before).
    pub fn with_noise(
        &self,
        noise: &[crate::core::model_error::ProcessNoise],
    ) -> Result<RdModel, ModelError> {
        if !matches!(self.kinetics, Kinetics::Custom { .. }) {
            return Err(ModelError::Noise(format!(
                "model `{}` takes no process noise (it is for kind = \"custom\")",
                self.info.kind
            )));
        }
        let mut terms = Vec::new();
        for p in noise {
            let s = self
                .info
                .fields
                .iter()
                .position(|f| f.name == p.species)
                .ok_or_else(|| ModelError::Noise(format!("`{}` is not a species", p.species)))?;
            if !(p.sigma.is_finite() && p.sigma >= 0.0) {
                return Err(ModelError::Noise(format!(
                    "sigma of `{}` must be finite and ≥ 0",
                    p.species
                )));
            }
            let (scale, half_var) = crate::core::model_error::noise_constants(p.sigma, self.dt);
            terms.push(NoiseTerm {
                species: s as u32,
                multiplicative: p.kind == crate::core::model_error::NoiseKind::Multiplicative,
                scale,
                half_var,
            });
        }
        let mut m = self.clone();
        m.extras.noise = terms;
        Ok(m)
    }

    /// Largest tissue multiplier (1 without a map).
    pub fn max_tissue(&self) -> f64 {
        match self.map_off {
            Some(o) => self.aux[o..o + self.grid.sites()]
                .iter()
                .fold(1.0f32.min(f32::MAX), |a, &b| a.max(b)) as f64,
            None => 1.0,
        }
    }

    /// Explicit-Euler stability for diffusion: D·w_max·dt·(2/dx² + 2/dy²) ≤ 1
    /// (2-D) or D·w_max·dt·2/dx² ≤ 1 (ny = 1). Returns, for the worst member,
    /// (parameter name, offending value, largest stable dt).
    pub fn stability(&self, member_params: &[Vec<f32>]) -> Option<(String, f64, f64)> {
        let dims = if self.grid.ny > 1 { 4.0 } else { 2.0 };
        let w = self.max_tissue();
        let dx2 = self.grid.dx * self.grid.dx;
        let mut worst: Option<(String, f64, f64)> = None;
        for p in member_params {
            for d in self.diff_ix.iter().flatten() {
                let dval = p[*d] as f64;
                if dval <= 0.0 {
                    continue;
                }
                let dt_max = dx2 / (dims * dval * w);
                if self.dt > dt_max && worst.as_ref().is_none_or(|x| dt_max < x.2) {
                    worst = Some((self.param_names[*d].clone(), dval, dt_max));
                }
            }
        }
        worst
    }
}

impl Model for RdModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn grid(&self) -> GridShape {
        self.grid
    }

    fn init_member(&self, seed: u64, member: u32, params: &[f32], out: &mut [f32]) {
        self.init.fill(&self.grid, seed, member, params, out);
    }

    fn step_cpu(&self, ctx: &StepCtx, params: &[f32], src: &[f32], dst: &mut [f32]) {
        cpu::step_member_at(self, ctx, params, src, dst);
    }

    fn with_member_events(
        &self,
        events: &crate::input::dosing::MemberEvents,
    ) -> Result<std::sync::Arc<dyn Model>, ModelError> {
        Ok(std::sync::Arc::new(self.with_events(events)?))
    }

    fn with_process_noise(
        &self,
        noise: &[crate::core::model_error::ProcessNoise],
    ) -> Result<std::sync::Arc<dyn Model>, ModelError> {
        Ok(std::sync::Arc::new(self.with_noise(noise)?))
    }

    fn gpu_program(&self) -> Option<GpuProgram> {
        Some(GpuProgram {
            source: wgsl::step_source(self),
            workgroups: wgsl::workgroups,
        })
    }

    fn tuned_program(&self, config: &KernelConfig) -> Option<TunedProgram> {
        Some(wgsl::tuned_program(self, config))
    }

    fn fused_program(&self, tile: u32, halo: u32) -> Option<FusedProgram> {
        Some(FusedProgram {
            source: wgsl::fused_source(self, tile, halo)?,
            tile,
            halo,
            workgroup_bytes: wgsl::fused_workgroup_bytes(self.grid.fields, tile, halo),
        })
    }

    fn aux(&self) -> &[f32] {
        &self.aux
    }

    fn check_stability(&self, member_params: &[Vec<f32>]) -> Result<(), ModelError> {
        match self.stability(member_params) {
            None => Ok(()),
            Some((name, value, dt_max)) => Err(ModelError::Unstable(format!(
                "unstable time step: dt = {} exceeds the largest stable dt = {dt_max:.6e} for parameter `{name}` = {value} \
                 (explicit Euler needs {name}·w_max·dt/dx² ≤ 1/4 in 2-D, 1/2 in 1-D; w_max = {} is the largest tissue multiplier)",
                self.dt,
                self.max_tissue()
            ))),
        }
    }

    fn dt(&self) -> f64 {
        self.dt
    }
}
