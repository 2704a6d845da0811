//! Reaction-diffusion models on 2-D grids: one generic stencil path
//! (`shaders/rd/stencil.wgsl`, CPU twin in `cpu.rs`) with model-specific
//! reaction terms (`kinetics.rs`, `shaders/rd/<model>.wgsl`, or user
//! expressions in `models::custom`).
//!
//! Owns: the reaction–diffusion [`Family`]: its config (the scene sections
//! it reads, plus the tissue map file the scene layer loaded), catalogue
//! entries, and building an `RdModel` (parameter indices, initial state,
//! tissue map, therapy and stimulus schedules; errors keyed by scene key),
//! and the stability check.

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
use crate::core::models::{Family, KeyedError};
use crate::core::observe::GridShape;
use crate::input::params::{Distribution, ParamBlock};
use crate::input::scene::{
    Arm, Boundary, GridSection, InitialSection, ModelKind, ModelSection, Stimulus, TimeSection,
    TissueSection,
};
use indexmap::IndexMap;
use kinetics::Ix;
use serde::Deserialize;

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

/// The scene sections a reaction–diffusion model reads. Every other
/// section of the scene (observables, ensemble, assimilation, …) is
/// someone else's.
#[derive(Deserialize, Debug, Clone)]
pub struct RdConfig {
    pub model: ModelSection,
    #[serde(default)]
    pub grid: GridSection,
    pub time: TimeSection,
    /// The scene's parameters in file order: a custom model's parameters
    /// are these.
    #[serde(default)]
    pub parameters: IndexMap<String, Distribution>,
    #[serde(default)]
    pub initial: InitialSection,
    #[serde(default)]
    pub tissue: Option<TissueSection>,
    #[serde(default)]
    pub arms: Vec<Arm>,
    #[serde(default)]
    pub stimulus: Vec<Stimulus>,
    /// The `[tissue] map` file, loaded by the scene layer (models never
    /// read files); not part of the document.
    #[serde(skip)]
    pub map_file: init::MapFile,
}

/// The reaction–diffusion family: `gray_scott`, `tumour`, `cardiac` and
/// `custom` (user kinetics).
pub struct Rd;

impl Family for Rd {
    type Config = RdConfig;

    fn describe() -> Vec<ModelInfo> {
        vec![
            kinetics::gray_scott_info(),
            kinetics::tumour_info(),
            kinetics::cardiac_info(),
            crate::core::models::custom::custom_info_template(),
        ]
    }

    fn info(c: &RdConfig) -> Result<ModelInfo, KeyedError> {
        let m = &c.model;
        if m.kind != ModelKind::Custom {
            crate::core::models::no_custom_keys(m)?;
        }
        Ok(match m.kind {
            ModelKind::GrayScott => kinetics::gray_scott_info(),
            ModelKind::Tumour => kinetics::tumour_info(),
            ModelKind::Cardiac => kinetics::cardiac_info(),
            ModelKind::Lorenz96 | ModelKind::Lorenz63 | ModelKind::TumourAbm => {
                return Err(KeyedError::new(
                    "model.kind",
                    format!("`{}` is not a reaction-diffusion model", m.kind.name()),
                ));
            }
            ModelKind::Custom => custom_info(c)?,
        })
    }

    fn build(
        c: &RdConfig,
        block: &ParamBlock,
        arm: &Arm,
        steps: u64,
    ) -> Result<Box<dyn Model>, KeyedError> {
        Ok(Box::new(RdModel::build(c, block, arm, steps)?))
    }
}

/// A custom model's description: its species from `model.species`, its
/// parameters those of the scene.
fn custom_info(c: &RdConfig) -> Result<ModelInfo, KeyedError> {
    let m = &c.model;
    if m.species.is_empty() {
        return Err(KeyedError::new(
            "model.species",
            "a custom model needs `species = [\"u\", ...]`",
        ));
    }
    if m.species.len() > cpu::max_species() {
        return Err(KeyedError::new(
            "model.species",
            format!(
                "a custom model has at most {} species, got {}",
                cpu::max_species(),
                m.species.len()
            ),
        ));
    }
    for (i, s) in m.species.iter().enumerate() {
        let key = format!("model.species.{i}");
        if s == TIME_VAR {
            return Err(KeyedError::new(
                key,
                format!("`{TIME_VAR}` is the model time in custom reactions; rename the species"),
            ));
        }
        if !valid_identifier(s) {
            return Err(KeyedError::new(
                key,
                format!("`{s}` is not a valid identifier"),
            ));
        }
        if let Some(j) = m.species[..i].iter().position(|x| x == s) {
            return Err(KeyedError::new(
                key,
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
    info.params = c
        .parameters
        .iter()
        .map(|(name, dist)| ParamInfo {
            name: name.clone(),
            unit: "user".into(),
            description: "user parameter".into(),
            default: dist.median(),
            bounds: dist.support(),
        })
        .collect();
    Ok(info)
}

/// The scene key of `arm`'s entry `rest` (`arms.<i>.<rest>`).
fn arm_key(c: &RdConfig, arm: &Arm, rest: &str) -> String {
    let i = c.arms.iter().position(|a| a.name == arm.name).unwrap_or(0);
    format!("arms.{i}.{rest}")
}

impl RdModel {
    pub fn build(
        c: &RdConfig,
        block: &ParamBlock,
        arm: &Arm,
        steps: u64,
    ) -> Result<RdModel, KeyedError> {
        let info = Rd::info(c)?;
        let kind = c.model.kind;
        let grid = GridShape {
            nx: c.grid.nx,
            ny: c.grid.ny,
            fields: info.fields.len() as u32,
            dx: c.grid.dx,
            periodic: c.grid.boundary == Boundary::Periodic,
        };
        let param_names: Vec<String> = block.params.iter().map(|p| p.name.clone()).collect();
        for n in &param_names {
            let key = format!("parameters.{n}");
            if !valid_identifier(n) {
                return Err(KeyedError::new(
                    key,
                    format!("parameter name `{n}` is not a valid identifier"),
                ));
            }
            if kind == ModelKind::Custom && n == TIME_VAR {
                return Err(KeyedError::new(
                    key,
                    format!(
                        "`{TIME_VAR}` is the model time in custom reactions; rename the parameter"
                    ),
                ));
            }
            if kind == ModelKind::Custom && info.fields.iter().any(|s| s.name == *n) {
                return Err(KeyedError::new(
                    key,
                    format!("parameter `{n}` has the name of a species; rename one of them"),
                ));
            }
        }
        let species: Vec<String> = info.fields.iter().map(|f| f.name.clone()).collect();
        let (kin, ix, diff_ix) = match kind {
            ModelKind::Custom => custom_kinetics(c, &species, &param_names)?,
            kind => {
                // Built-in: resolve canonical order (resolve_params guarantees presence).
                let idx = |name: &str| param_names.iter().position(|n| n == name);
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
        if kind != ModelKind::Custom && !arm.doses.is_empty() {
            return Err(KeyedError::new(
                arm_key(c, arm, "doses"),
                format!(
                    "model `{}` takes no `doses` (dose schedules are for kind = \"custom\")",
                    info.kind
                ),
            ));
        }
        if kind != ModelKind::Tumour && c.arms.iter().any(|a| a.rt.is_some() || a.chemo.is_some()) {
            return Err(KeyedError::new(
                "arms",
                format!("model `{}` takes no therapy schedule", info.kind),
            ));
        }
        if kind != ModelKind::Cardiac && !c.stimulus.is_empty() {
            return Err(KeyedError::new(
                "stimulus",
                format!("model `{}` takes no stimulus", info.kind),
            ));
        }
        let dt = c.time.dt;
        // aux layout: [tissue map (nx·ny)] [schedule (2 per step + 2)] [stimuli]
        let mut aux = Vec::new();
        let map = init::tissue_map(c.tissue.as_ref(), &c.map_file, &grid)?;
        let map_off = map.map(|m| {
            aux.extend_from_slice(&m);
            0
        });
        let sched_off = aux.len();
        if kind == ModelKind::Tumour {
            aux.extend(init::therapy_schedule(arm, dt, steps));
        }
        let stim_off = aux.len();
        if kind == ModelKind::Cardiac {
            aux.extend(init::stimulus_table(&c.stimulus));
        }
        let mut extras = Extras::default();
        if !arm.doses.is_empty() {
            for (j, d) in arm.doses.iter().enumerate() {
                let si = species
                    .iter()
                    .position(|x| *x == d.species)
                    .ok_or_else(|| {
                        KeyedError::new(
                            arm_key(c, arm, &format!("doses.{j}.species")),
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
        let init = init::InitialState::new(&c.initial, &species, &param_names)?;
        let faces = (kind == ModelKind::Tumour).then(|| {
            let map = map_off.map(|o| &aux[o..o + grid.sites()]);
            std::sync::Arc::new(fast_tumour::Faces::build(&grid, map))
        });
        Ok(RdModel {
            info,
            kinetics: kin,
            grid,
            dt,
            dt32: dt as f32,
            dx2inv: (1.0 / (c.grid.dx * c.grid.dx)) as f32,
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

/// A custom model's reaction terms (variables: species, parameters, then
/// the model time `t`) and each species' diffusivity parameter.
fn custom_kinetics(
    c: &RdConfig,
    species: &[String],
    param_names: &[String],
) -> Result<(Kinetics, Ix, Vec<Option<usize>>), KeyedError> {
    let m = &c.model;
    let vars: Vec<String> = species
        .iter()
        .chain(param_names)
        .cloned()
        .chain([TIME_VAR.to_string()])
        .collect();
    for k in m.reactions.keys() {
        if !species.contains(k) {
            return Err(KeyedError::new(
                format!("model.reactions.{k}"),
                format!("`{k}` is not a species"),
            ));
        }
    }
    let mut exprs = Vec::new();
    for s in species {
        let text = m.reactions.get(s).ok_or_else(|| {
            KeyedError::new(
                "model.reactions",
                format!("no reaction given for species `{s}`"),
            )
        })?;
        let e = Expr::parse(text, &vars)
            .map_err(|e| KeyedError::new(format!("model.reactions.{s}"), e.to_string()))?;
        exprs.push(e);
    }
    let mut diff = vec![None; species.len()];
    for (s, pname) in &m.diffusion {
        let key = format!("model.diffusion.{s}");
        let si = species
            .iter()
            .position(|x| x == s)
            .ok_or_else(|| KeyedError::new(key.clone(), format!("`{s}` is not a species")))?;
        diff[si] = Some(param_names.iter().position(|n| n == pname).ok_or_else(|| {
            KeyedError::new(key, format!("`{pname}` is not a parameter of the scene"))
        })?);
    }
    Ok((Kinetics::Custom { exprs }, Vec::new(), diff))
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
