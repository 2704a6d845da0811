//! The Lorenz systems as ensemble models, the verification models of data
//! assimilation: Lorenz-96 (`kind = "lorenz96"`, n variables on a ring,
//! forcing F) and Lorenz-63 (`kind = "lorenz63"`, σ, ρ, β). A member's state
//! is its n variables laid out as a grid of nx = n cells, ny = 1, one field
//! `x`, so the generic observe kernel and the grid observation operators
//! work unchanged. One classical RK4 step per engine step: on the GPU one
//! thread per member (`shaders/lorenz/*.wgsl`), on the CPU the f32 twin in
//! `cpu.rs` with the same operation order.
//!
//! Owns: the Lorenz [`Family`]: its config (the scene sections it reads),
//! catalogue entries, and building a `LorenzModel` (grid and parameter
//! checks, errors keyed by scene key).
//! Initial ensembles are the twin driver's (it writes states); the engine's
//! own initial state is the scene's `[initial] background` value of `x`.

pub mod cpu;

use crate::core::model::{FieldInfo, GpuProgram, Model, ModelInfo, ParamInfo, StepCtx};
use crate::core::models::{Family, KeyedError};
use crate::core::observe::GridShape;
use crate::core::shaders::{compose, f32_lit, source};
use crate::input::params::ParamBlock;
use crate::input::scene::{
    Arm, Boundary, GridSection, InitValue, InitialSection, ModelKind, ModelSection, Stimulus,
    TimeSection, TissueSection,
};
use cpu::{MAX_L96, Rk4Consts};
use serde::Deserialize;

/// Which Lorenz system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    L96,
    L63,
}

#[derive(Clone, Debug)]
pub struct LorenzModel {
    info: ModelInfo,
    variant: Variant,
    grid: GridShape,
    dt: f64,
    consts: Rk4Consts,
    /// Canonical parameter order → index in the member parameter vector.
    ix: Vec<usize>,
    param_names: Vec<String>,
    background: f32,
    aux: Vec<f32>,
}

fn param(name: &str, default: f64, bounds: (f64, f64), description: &str) -> ParamInfo {
    ParamInfo {
        name: name.into(),
        unit: "1".into(),
        description: description.into(),
        default,
        bounds,
    }
}

pub fn lorenz96_info() -> ModelInfo {
    ModelInfo {
        kind: "lorenz96".into(),
        description: "Lorenz (1996) on a ring of n = grid.nx variables, RK4: the data-assimilation \
                      verification model (Sakov & Oke 2008 set-up in scenes/lorenz96_sakov2008.toml)"
            .into(),
        time_unit: "1".into(),
        length_unit: "1".into(),
        fields: vec![FieldInfo {
            name: "x".into(),
            unit: "1".into(),
            description: "the variables x_i, one per cell (cell i centred at i + ½)".into(),
        }],
        params: vec![param("F", 8.0, (0.0, 40.0), "forcing")],
    }
}

pub fn lorenz63_info() -> ModelInfo {
    ModelInfo {
        kind: "lorenz63".into(),
        description: "Lorenz (1963), RK4: the data-assimilation verification model \
                      (Sakov, Oliver & Bertino 2012 set-up in scenes/lorenz63_sakov2012.toml)"
            .into(),
        time_unit: "1".into(),
        length_unit: "1".into(),
        fields: vec![FieldInfo {
            name: "x".into(),
            unit: "1".into(),
            description: "the variables (x, y, z) as cells 0, 1, 2".into(),
        }],
        params: vec![
            param("sigma", 10.0, (0.0, 100.0), "Prandtl number σ"),
            param("rho", 28.0, (0.0, 100.0), "Rayleigh number ρ"),
            param("beta", 8.0 / 3.0, (0.0, 10.0), "geometric factor β"),
        ],
    }
}

/// The scene sections a Lorenz model reads. Every other section of the
/// scene (observables, ensemble, assimilation, …) is someone else's.
#[derive(Deserialize, Debug, Clone)]
pub struct LorenzConfig {
    pub model: ModelSection,
    #[serde(default)]
    pub grid: GridSection,
    pub time: TimeSection,
    #[serde(default)]
    pub initial: InitialSection,
    /// Only checked to be free of therapy: a Lorenz model takes none.
    #[serde(default)]
    pub arms: Vec<Arm>,
    /// Only checked to be empty.
    #[serde(default)]
    pub stimulus: Vec<Stimulus>,
    /// Only checked to be absent.
    #[serde(default)]
    pub tissue: Option<TissueSection>,
}

/// The Lorenz family: `lorenz96` and `lorenz63`.
pub struct Lorenz;

impl Family for Lorenz {
    type Config = LorenzConfig;

    fn describe() -> Vec<ModelInfo> {
        vec![lorenz96_info(), lorenz63_info()]
    }

    fn info(c: &LorenzConfig) -> Result<ModelInfo, KeyedError> {
        crate::core::models::no_custom_keys(&c.model)?;
        match c.model.kind {
            ModelKind::Lorenz96 => Ok(lorenz96_info()),
            ModelKind::Lorenz63 => Ok(lorenz63_info()),
            other => Err(KeyedError::new(
                "model.kind",
                format!("`{}` is not a Lorenz model", other.name()),
            )),
        }
    }

    fn build(
        c: &LorenzConfig,
        block: &ParamBlock,
        _arm: &Arm,
        _steps: u64,
    ) -> Result<Box<dyn Model>, KeyedError> {
        Ok(Box::new(LorenzModel::build(c, block)?))
    }
}

impl LorenzModel {
    pub fn build(c: &LorenzConfig, block: &ParamBlock) -> Result<LorenzModel, KeyedError> {
        let info = Lorenz::info(c)?;
        let variant = if c.model.kind == ModelKind::Lorenz96 {
            Variant::L96
        } else {
            Variant::L63
        };
        let kind = info.kind.clone();
        let grid = &c.grid;
        if grid.ny != 1 {
            return Err(KeyedError::new(
                "grid.ny",
                format!("a {kind} state is one row of variables: set ny = 1"),
            ));
        }
        match variant {
            Variant::L96 if !(4..=MAX_L96 as u32).contains(&grid.nx) => {
                return Err(KeyedError::new(
                    "grid.nx",
                    format!(
                        "lorenz96 needs 4 ≤ nx ≤ {MAX_L96} variables, got {}",
                        grid.nx
                    ),
                ));
            }
            Variant::L96 if grid.boundary != Boundary::Periodic => {
                return Err(KeyedError::new("grid.boundary", "lorenz96 is periodic"));
            }
            Variant::L63 if grid.nx != 3 => {
                return Err(KeyedError::new(
                    "grid.nx",
                    format!("lorenz63 has 3 variables: set nx = 3, got {}", grid.nx),
                ));
            }
            _ => {}
        }
        if c.arms.iter().any(|a| a.rt.is_some() || a.chemo.is_some()) {
            return Err(KeyedError::new(
                "arms",
                format!("model `{kind}` takes no therapy"),
            ));
        }
        if !c.stimulus.is_empty() {
            return Err(KeyedError::new(
                "stimulus",
                format!("model `{kind}` takes no stimulus"),
            ));
        }
        if c.tissue.is_some() {
            return Err(KeyedError::new(
                "tissue",
                format!("model `{kind}` has no tissue map"),
            ));
        }
        let ini = &c.initial;
        if !ini.patches.is_empty() || ini.noise != 0.0 {
            return Err(KeyedError::new(
                "initial",
                format!(
                    "model `{kind}` takes only `background = {{ x = … }}`; twin experiments draw \
                     initial ensembles from [assimilation] init_mean / init_var"
                ),
            ));
        }
        let mut background = 0.0f32;
        for (k, v) in &ini.background {
            if k != "x" {
                return Err(KeyedError::new(
                    format!("initial.background.{k}"),
                    format!("`{k}` is not a field of {kind} (its field is `x`)"),
                ));
            }
            background = match v {
                InitValue::Number(x) => *x as f32,
                InitValue::Param(_) => {
                    return Err(KeyedError::new(
                        format!("initial.background.{k}"),
                        format!("{kind} takes a number here, not a parameter name"),
                    ));
                }
            };
        }
        let param_names: Vec<String> = block.params.iter().map(|p| p.name.clone()).collect();
        // resolve_params guarantees every canonical parameter is present.
        let ix = info
            .params
            .iter()
            .map(|p| param_names.iter().position(|n| *n == p.name).unwrap_or(0))
            .collect();
        Ok(LorenzModel {
            variant,
            grid: GridShape {
                nx: grid.nx,
                ny: 1,
                fields: 1,
                dx: grid.dx,
                periodic: variant == Variant::L96,
            },
            dt: c.time.dt,
            consts: Rk4Consts::new(c.time.dt),
            ix,
            param_names,
            background,
            aux: vec![0.0; 4],
            info,
        })
    }

    /// The WGSL header: sizes, step constants and parameter indices.
    fn header(&self) -> String {
        let c = &self.consts;
        let mut h = format!(
            "const N: u32 = {}u;\nconst NP: u32 = {}u;\nconst DT: f32 = {};\nconst HALF_DT: f32 = {};\nconst SIXTH_DT: f32 = {};\n",
            self.grid.nx,
            self.param_names.len().max(1),
            f32_lit(c.dt),
            f32_lit(c.half_dt),
            f32_lit(c.sixth_dt),
        );
        for (p, &i) in self.info.params.iter().zip(&self.ix) {
            h.push_str(&format!("const P_{}: u32 = {i}u;\n", p.name));
        }
        h
    }
}

/// One thread per member, 64 per workgroup.
fn workgroups(_g: &GridShape, members: u32) -> [u32; 3] {
    [members.div_ceil(64), 1, 1]
}

impl Model for LorenzModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn grid(&self) -> GridShape {
        self.grid
    }

    fn init_member(&self, _seed: u64, _member: u32, _params: &[f32], out: &mut [f32]) {
        out.fill(self.background);
    }

    fn step_cpu(&self, _ctx: &StepCtx, params: &[f32], src: &[f32], dst: &mut [f32]) {
        match self.variant {
            Variant::L96 => cpu::l96_step(&self.consts, params[self.ix[0]], src, dst),
            Variant::L63 => {
                let p = [params[self.ix[0]], params[self.ix[1]], params[self.ix[2]]];
                cpu::l63_step(&self.consts, p, src, dst)
            }
        }
    }

    fn gpu_program(&self) -> Option<GpuProgram> {
        let file = match self.variant {
            Variant::L96 => "lorenz/l96.wgsl",
            Variant::L63 => "lorenz/l63.wgsl",
        };
        let text = format!(
            "{}\n//#include \"shared/bindings.wgsl\"\n{}\n",
            self.header(),
            source(file)
        );
        Some(GpuProgram {
            source: compose(&text),
            workgroups,
        })
    }

    fn aux(&self) -> &[f32] {
        &self.aux
    }

    fn dt(&self) -> f64 {
        self.dt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::scene::{Scene, SceneError};
    use std::path::Path;

    fn scene(text: &str) -> Result<Scene, SceneError> {
        Scene::parse(Path::new("l.toml"), text)
    }

    const L96: &str =
        "[model]\nkind = \"lorenz96\"\n[grid]\nnx = 40\nny = 1\n[time]\ndt = 0.05\nsteps = 10\n";
    const L63: &str = "[model]\nkind = \"lorenz63\"\n[grid]\nnx = 3\nny = 1\n[time]\ndt = 0.01\nsteps = 10\n[parameters]\nrho = 28.0\n";

    /// Both kernels validate with naga, and the plan resolves defaults.
    #[test]
    fn kernels_validate_and_defaults_resolve() {
        for text in [L96, L63] {
            let s = scene(text).unwrap();
            let plan = crate::core::plan::Plan::freeze(&s, &Default::default()).unwrap();
            let prog = plan.model.gpu_program().unwrap();
            crate::core::shaders::validate("lorenz.step", &prog.source).unwrap();
            assert_eq!(plan.model.state_len(), s.file.grid.nx as usize);
            assert_eq!((prog.workgroups)(&plan.model.grid(), 65), [2, 1, 1]);
        }
        let s = scene(L63).unwrap();
        let plan = crate::core::plan::Plan::freeze(&s, &Default::default()).unwrap();
        let names: Vec<_> = plan.block.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["rho", "sigma", "beta"]);
        // The CPU step reads parameters by name, whatever the block order.
        let p = plan.params_f32();
        let mut out = [0.0f32; 3];
        let ctx = crate::core::model::StepCtx {
            seed: 0,
            member: 0,
            step: 0,
        };
        plan.model
            .step_cpu(&ctx, &p[..3], &[1.0, 1.0, 1.0], &mut out);
        let mut want = [0.0f32; 3];
        cpu::l63_step(
            &Rk4Consts::new(0.01),
            [10.0, 28.0, 8.0 / 3.0],
            &[1.0; 3],
            &mut want,
        );
        assert_eq!(out, want);
    }

    #[test]
    fn bad_grids_name_the_key() {
        let e = scene(&L96.replace("nx = 40", "nx = 40\nboundary = \"noflux\""))
            .and_then(|s| crate::core::plan::Plan::freeze(&s, &Default::default()).map(|_| ()))
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("grid.boundary"));
        let e = scene(&L63.replace("nx = 3", "nx = 4"))
            .and_then(|s| crate::core::plan::Plan::freeze(&s, &Default::default()).map(|_| ()))
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("grid.nx"));
        assert_eq!(e.line, Some(4));
        let e = scene(&L63.replace("ny = 1", "ny = 2"))
            .and_then(|s| crate::core::plan::Plan::freeze(&s, &Default::default()).map(|_| ()))
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("grid.ny"));
        let e = scene(&format!("{L63}alpha = 1.0\n"))
            .and_then(|s| crate::core::plan::Plan::freeze(&s, &Default::default()).map(|_| ()))
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("parameters.alpha"));
    }
}
