//! Agent-based virtual tissue (`kind = "tumour_abm"`): a 2-D, off-lattice
//! tumour spheroid per member with immune effector cells, oxygen and drug
//! fields, and birth and death, every member's agents advanced in the same
//! dispatch (one workgroup per member, `shaders/abm/step.wgsl`) or by the
//! CPU twin (`cpu.rs`). The model is described in docs/abm.md.
//!
//! Owns: the agent-based [`Family`] (its config, catalogue entry, and
//! building an `AbmModel` with errors keyed by scene key), the
//! `Model` implementation. Submodules: `layout` (where words live),
//! `params` (the parameter table), `fields` (quasi-steady solver), `init`
//! (initial state), `cpu` (the step's CPU twin), `wgsl` (kernel header).

pub mod cpu;
pub mod fields;
pub mod init;
pub mod layout;
pub mod params;
mod wgsl;

use crate::core::model::{AgentRow, FieldInfo, GpuProgram, Model, ModelError, ModelInfo, StepCtx};
use crate::core::models::{Family, KeyedError};
use crate::core::observe::{GridShape, ObsOp, Reduction};
use crate::input::params::ParamBlock;
use crate::input::scene::{
    AgentsSection, Arm, GridSection, InitialSection, ModelKind, ModelSection, Stimulus,
    TimeSection, TissueSection,
};
use layout::Layout;
use params::Params;
use serde::Deserialize;

/// Sites at most: the kernel keeps one atomic counter per site in
/// workgroup memory (16 KiB of lavapipe's 32 KiB).
pub const MAX_SITES: usize = 4096;
/// Agents per member at most (ids and counts are exact f32 integers).
pub const MAX_CAPACITY: u32 = 1 << 22;
/// Field-solver sweeps per step at most (the default is 6).
pub const MAX_FIELD_SWEEPS: u32 = 1_000;
/// Sweeps of the initial solve at most (the default is 3,000).
pub const MAX_INIT_SWEEPS: u32 = 100_000;

pub fn tumour_abm_info() -> ModelInfo {
    ModelInfo {
        kind: "tumour_abm".into(),
        description: "2-D off-lattice tumour spheroid: tumour and immune cells with oxygen-dependent \
                      division and necrosis, apoptosis, drug kill, immune killing on contact and \
                      overdamped mechanics; oxygen and drug solved quasi-steadily (units: µm, min, mmHg)"
            .into(),
        time_unit: "min".into(),
        length_unit: "µm".into(),
        fields: vec![
            FieldInfo {
                name: "o2".into(),
                unit: "mmHg".into(),
                description: "oxygen partial pressure".into(),
            },
            FieldInfo {
                name: "drug".into(),
                unit: "drug units".into(),
                description: "drug concentration (edge value from the arm's chemo schedule)"
                    .into(),
            },
        ],
        params: params::infos(),
    }
}

/// The scene sections the agent-based model reads.
#[derive(Deserialize, Debug, Clone)]
pub struct AbmConfig {
    pub model: ModelSection,
    #[serde(default)]
    pub grid: GridSection,
    pub time: TimeSection,
    /// Only checked to be empty: agents start from `[parameters]`.
    #[serde(default)]
    pub initial: InitialSection,
    /// Only checked to be empty.
    #[serde(default)]
    pub stimulus: Vec<Stimulus>,
    /// Only checked to be absent.
    #[serde(default)]
    pub tissue: Option<TissueSection>,
    #[serde(default)]
    pub agents: Option<AgentsSection>,
}

/// The agent-based family: `tumour_abm`.
pub struct Abm;

impl Family for Abm {
    type Config = AbmConfig;

    fn describe() -> Vec<ModelInfo> {
        vec![tumour_abm_info()]
    }

    fn info(_: &AbmConfig) -> Result<ModelInfo, KeyedError> {
        Ok(tumour_abm_info())
    }

    fn build(
        c: &AbmConfig,
        block: &ParamBlock,
        arm: &Arm,
        steps: u64,
    ) -> Result<Box<dyn Model>, KeyedError> {
        Ok(Box::new(AbmModel::build(c, block, arm, steps)?))
    }
}

#[derive(Clone, Debug)]
pub struct AbmModel {
    info: ModelInfo,
    pub layout: Layout,
    pub dx: f32,
    pub inv_dx: f32,
    pub inv_site_area: f32,
    pub inv_sites: f32,
    pub lx: f32,
    pub ly: f32,
    pub dt: f32,
    /// The scene's time step, unrounded (`Model::dt`).
    dt64: f64,
    pub omega: f32,
    pub sweeps: u32,
    pub init_sweeps: u32,
    /// Drug at the domain edge before each step (the arm's schedule).
    aux: Vec<f32>,
    /// Canonical parameter k sits at `ix[k]` in a member's vector.
    ix: Vec<usize>,
    n_params: usize,
}

impl AbmModel {
    pub fn build(
        f: &AbmConfig,
        block: &ParamBlock,
        arm: &Arm,
        steps: u64,
    ) -> Result<AbmModel, KeyedError> {
        if f.model.kind != ModelKind::TumourAbm {
            return Err(KeyedError::new("model.kind", "not an agent-based model"));
        }
        for (key, set) in [
            ("model.species", !f.model.species.is_empty()),
            ("model.reactions", !f.model.reactions.is_empty()),
            ("model.diffusion", !f.model.diffusion.is_empty()),
            ("tissue", f.tissue.is_some()),
            ("stimulus", !f.stimulus.is_empty()),
            (
                "initial",
                !f.initial.patches.is_empty()
                    || f.initial.noise != 0.0
                    || !f.initial.background.is_empty(),
            ),
        ] {
            if set {
                return Err(KeyedError::new(
                    key,
                    "not used by tumour_abm (agents and fields start from [parameters]: \
                     initial_radius, immune_count, o2_boundary)",
                ));
            }
        }
        if arm.rt.is_some() {
            return Err(KeyedError::new(
                "arms",
                "tumour_abm takes a `chemo` schedule in its arms, not `rt`",
            ));
        }
        let g = &f.grid;
        let sites = g.nx as usize * g.ny as usize;
        if g.nx < 3 || g.ny < 3 || sites > MAX_SITES {
            return Err(KeyedError::new(
                "grid.nx",
                format!(
                    "tumour_abm needs 3 ≤ nx, ny and nx·ny ≤ {MAX_SITES} sites (one workgroup \
                     counter per site); got {} × {}",
                    g.nx, g.ny
                ),
            ));
        }
        if !(g.dx > 0.0 && g.dx.is_finite()) {
            return Err(KeyedError::new("grid.dx", "site size must be positive"));
        }
        let agents = f.agents.clone().unwrap_or_default();
        if agents.capacity == 0 || agents.capacity > MAX_CAPACITY {
            return Err(KeyedError::new(
                "agents.capacity",
                format!("capacity must be in 1..={MAX_CAPACITY}"),
            ));
        }
        for (key, v, max) in [
            ("agents.field_sweeps", agents.field_sweeps, MAX_FIELD_SWEEPS),
            ("agents.init_sweeps", agents.init_sweeps, MAX_INIT_SWEEPS),
        ] {
            if v > max {
                return Err(KeyedError::new(
                    key,
                    crate::input::limits::over(&key[7..], v as u64, max as u64),
                ));
            }
        }
        let names: Vec<String> = block.params.iter().map(|p| p.name.clone()).collect();
        let info = tumour_abm_info();
        let ix = info
            .params
            .iter()
            .map(|p| names.iter().position(|n| *n == p.name).unwrap_or(0))
            .collect();
        let dt = f.time.dt;
        let aux: Vec<f32> = (0..=steps)
            .map(|s| {
                arm.chemo
                    .as_ref()
                    .map_or(0.0, |c| c.concentration(s as f64 * dt) as f32)
            })
            .collect();
        let dx = g.dx as f32;
        Ok(AbmModel {
            info,
            layout: Layout {
                nx: g.nx as usize,
                ny: g.ny as usize,
                cap: agents.capacity as usize,
            },
            dx,
            inv_dx: 1.0 / dx,
            inv_site_area: 1.0 / (dx * dx),
            inv_sites: 1.0 / sites as f32,
            lx: g.nx as f32 * dx,
            ly: g.ny as f32 * dx,
            dt: dt as f32,
            dt64: dt,
            omega: fields::omega(g.nx as usize, g.ny as usize),
            sweeps: agents.field_sweeps,
            init_sweeps: agents.init_sweeps,
            aux,
            ix,
            n_params: names.len(),
        })
    }

    pub fn params(&self, p: &[f32]) -> Params {
        Params::read(&self.ix, p)
    }

    /// Where canonical parameter `k` sits in a member's vector.
    pub fn param_index(&self, k: usize) -> usize {
        self.ix[k]
    }

    pub fn n_params(&self) -> usize {
        self.n_params
    }

    /// The site (bin) containing (x, y), clamped into the grid.
    pub fn site_of(&self, x: f32, y: f32) -> usize {
        let l = &self.layout;
        let ix = ((x * self.inv_dx).floor() as i64).clamp(0, l.nx as i64 - 1) as usize;
        let iy = ((y * self.inv_dx).floor() as i64).clamp(0, l.ny as i64 - 1) as usize;
        iy * l.nx + ix
    }

    /// Drug at the domain edge during step `step`.
    pub fn drug_edge(&self, step: u32) -> f32 {
        self.aux[(step as usize).min(self.aux.len() - 1)]
    }
}

/// One workgroup per member.
fn workgroups(_g: &GridShape, members: u32) -> [u32; 3] {
    [members, 1, 1]
}

impl Model for AbmModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn grid(&self) -> GridShape {
        GridShape {
            nx: self.layout.nx as u32,
            ny: self.layout.ny as u32,
            fields: 2,
            dx: self.dx as f64,
            periodic: false,
        }
    }

    fn state_len(&self) -> usize {
        self.layout.state_len()
    }

    fn scratch_len(&self) -> usize {
        self.layout.scratch_len()
    }

    fn continuous_state(&self) -> bool {
        false
    }

    fn status_word(&self) -> Option<usize> {
        Some(self.layout.h(layout::H_SATURATED))
    }

    fn preset_observables(&self) -> Vec<ObsOp> {
        layout::OBSERVABLES
            .iter()
            .map(|&(name, word, unit, description)| ObsOp {
                name: name.into(),
                field: 0,
                reduction: Reduction::Word(self.layout.h(word) as u32),
                unit: unit.into(),
                description: description.into(),
            })
            .collect()
    }

    fn agents(&self, params: &[f32], state: &[f32]) -> Option<Vec<AgentRow>> {
        let l = &self.layout;
        let p = self.params(params);
        let n = (state[l.h(layout::H_COUNT)] as usize).min(l.cap);
        Some(
            (0..n)
                .map(|i| AgentRow {
                    slot: i as u32,
                    id: state[l.id() + i] as u32,
                    x: state[l.x() + i],
                    y: state[l.y() + i],
                    radius: p.radius(state[l.kind() + i] as u32),
                    kind: state[l.kind() + i] as u8,
                    state: state[l.state() + i] as u8,
                })
                .collect(),
        )
    }

    fn init_member(&self, seed: u64, member: u32, params: &[f32], out: &mut [f32]) {
        init::init_member(self, seed, member, &self.params(params), out);
    }

    fn step_cpu(&self, ctx: &StepCtx, params: &[f32], src: &[f32], dst: &mut [f32]) {
        cpu::step(self, ctx, &self.params(params), src, dst);
    }

    fn gpu_program(&self) -> Option<GpuProgram> {
        Some(GpuProgram {
            source: wgsl::step_source(self),
            workgroups,
        })
    }

    fn aux(&self) -> &[f32] {
        &self.aux
    }

    fn check_stability(&self, member_params: &[Vec<f32>]) -> Result<(), ModelError> {
        for (m, raw) in member_params.iter().enumerate() {
            let p = self.params(raw);
            let r_max = p.cell_radius.max(p.immune_radius);
            let r_min = p.cell_radius.min(p.immune_radius);
            let reach = 2.0 * r_max * cpu::ADH_RANGE;
            if reach > self.dx {
                return Err(ModelError::Unstable(format!(
                    "member {m}: cells of radius {r_max} µm interact up to {reach} µm, more than \
                     one site (grid.dx = {} µm): neighbours would be missed; use larger sites or \
                     smaller cell_radius / immune_radius",
                    self.dx
                )));
            }
            // Repulsion is integrated linearly implicitly (stable for any
            // dt); adhesion explicitly, which needs small steps.
            let pull = self.dt * p.adhesion;
            if pull > r_min / 6.0 {
                return Err(ModelError::Unstable(format!(
                    "member {m}: adhesion = {} µm/min with dt = {} min moves cells {pull} µm \
                     per step, more than radius/6 = {} µm: the explicit adhesion step is \
                     unstable; the largest stable dt is {} min",
                    p.adhesion,
                    self.dt,
                    r_min / 6.0,
                    r_min / 6.0 / p.adhesion
                )));
            }
            let stride = self.dt * p.immune_speed;
            if stride > p.immune_radius {
                return Err(ModelError::Unstable(format!(
                    "member {m}: immune_speed = {} µm/min with dt = {} min moves an immune cell \
                     {stride} µm per step, more than its radius ({} µm): it would pass through \
                     cells it has not seen; the largest dt for this speed is {} min",
                    p.immune_speed,
                    self.dt,
                    p.immune_radius,
                    p.immune_radius / p.immune_speed
                )));
            }
            if p.doubling_time <= 0.0 || p.o2_diffusion <= 0.0 || p.drug_diffusion <= 0.0 {
                return Err(ModelError::Unstable(format!(
                    "member {m}: doubling_time, o2_diffusion and drug_diffusion must be positive"
                )));
            }
            if p.prolif_o2_high <= p.prolif_o2_low || p.necrosis_o2 <= p.necrosis_o2_max {
                return Err(ModelError::Unstable(format!(
                    "member {m}: need prolif_o2_low < prolif_o2_high and necrosis_o2_max < \
                     necrosis_o2"
                )));
            }
        }
        Ok(())
    }

    fn dt(&self) -> f64 {
        self.dt64
    }

    /// The initial spheroid must fit the domain and the pool; both are
    /// decided before a lattice is laid out, so a huge `initial_radius`
    /// (or a tiny `cell_radius`) is refused at once instead of placing
    /// billions of cells.
    fn check_members(&self, member_params: &[Vec<f32>]) -> Result<(), (String, String)> {
        let key = |k: &str| format!("parameters.{k}");
        for (m, raw) in member_params.iter().enumerate() {
            let p = self.params(raw);
            if !(p.cell_radius > 0.0 && p.cell_radius.is_finite()) {
                return Err((
                    key("cell_radius"),
                    format!(
                        "member {m}: cell_radius must be positive, got {}",
                        p.cell_radius
                    ),
                ));
            }
            let half = 0.5 * self.lx.min(self.ly);
            if p.initial_radius.is_nan() || p.initial_radius > half {
                return Err((
                    key("initial_radius"),
                    format!(
                        "member {m}: initial_radius = {} µm does not fit the {} × {} µm domain \
                         (at most {half} µm)",
                        p.initial_radius, self.lx, self.ly
                    ),
                ));
            }
            let estimate = init::spheroid_estimate(&p);
            if estimate > 2.0 * self.layout.cap as f64 + 64.0 {
                return Err((
                    key("initial_radius"),
                    format!(
                        "member {m}: initial_radius = {} µm places about {estimate:.0} cells of \
                         radius {} µm, more than agents.capacity = {}",
                        p.initial_radius, p.cell_radius, self.layout.cap
                    ),
                ));
            }
            let n = init::spheroid(self, &p).len();
            if n > self.layout.cap {
                return Err((
                    key("initial_radius"),
                    format!(
                        "member {m}: initial_radius = {} µm places {n} cells, more than \
                         agents.capacity = {}",
                        p.initial_radius, self.layout.cap
                    ),
                ));
            }
        }
        Ok(())
    }
}
