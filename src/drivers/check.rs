//! `vtwin check` and `vtwin models` without the printing: a scene
//! validated as far as it can be without running it (plan frozen, the
//! assimilation section checked against the plan, step and observation
//! shaders validated with naga, host memory checked, the backend's batch
//! split), gathered into a [`CheckReport`] whose `Display` is the command's
//! text; and the model catalogue as text ([`models_listing`]).
//!
//! Owns: what `check` verifies and reports. Runs no engine.

use super::members::{Members, freeze_plan};
use crate::core::plan::Plan;
use crate::engine::BackendChoice;
use crate::engine::backend::Backend;
use crate::input::limits::human_bytes;
use crate::input::scene::Scene;
use std::fmt::{self, Write as _};
use std::path::PathBuf;

/// What `check` can fail with; each variant displays its cause as is.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Job(#[from] super::job::Error),
    #[error(transparent)]
    Scene(#[from] crate::input::scene::SceneError),
    #[error(transparent)]
    Twin(#[from] crate::methods::twin::TwinError),
    #[error(transparent)]
    Shader(#[from] crate::core::shaders::ShaderError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Limit(#[from] crate::input::limits::LimitError),
}

/// The scene and the overrides `check` plans with (those `run` takes).
#[derive(Clone, Debug)]
pub struct CheckRequest {
    pub scene: PathBuf,
    pub members: Option<u32>,
    pub seed: Option<u64>,
    pub arm: Option<String>,
    /// Draw members' parameters from this posterior directory.
    pub posterior: Option<PathBuf>,
    pub backend: BackendChoice,
    pub adapter: Option<String>,
    pub batch_size: Option<u32>,
}

/// A checked scene: what `vtwin check` prints (its `Display`, ending in
/// `ok`).
pub struct CheckReport {
    pub scene_path: PathBuf,
    pub scene: Scene,
    pub plan: Plan,
    pub posterior: Option<PathBuf>,
    /// The backend's name (`cpu`, `gpu`).
    pub backend: &'static str,
    /// Members per engine batch, as the backend will split the plan.
    pub batches: Vec<u32>,
    /// Host memory the plan needs on this backend, in bytes.
    pub host_bytes: u64,
    /// Host memory available, when known.
    pub available: Option<u64>,
}

/// Validates the scene of `req` and plans it on the requested backend
/// (opened with its notes going to `note`).
pub fn check(req: &CheckRequest, note: &mut dyn FnMut(String)) -> Result<CheckReport, CheckError> {
    let scene = crate::drivers::scenes::load(&req.scene)?;
    let members = Members {
        members: req.members,
        seed: req.seed,
        arm: req.arm.as_deref(),
        posterior: req.posterior.as_deref(),
        shard: None,
    };
    let plan = freeze_plan(&scene, &members)?;
    crate::methods::twin::setup::check_section(&scene, &plan)?;
    // Shaders are validated without an adapter.
    let kind = &plan.model.info().kind;
    if let Some(p) = plan.model.gpu_program() {
        crate::core::shaders::validate(&format!("{kind}.step"), &p.source)?;
    }
    let obs = crate::core::observe::observe_wgsl(
        &plan.observables.ops,
        &plan.model.grid(),
        plan.model.state_len(),
        plan.model.status_word(),
    );
    crate::core::shaders::validate(&format!("{kind}.observe"), &obs)?;
    let backend = Backend::open(req.backend, req.adapter.as_deref(), note)?;
    let host_bytes = plan.host_bytes(backend.name() == "cpu");
    let what = format!("this plan on the {} backend", backend.name());
    crate::input::limits::check_host_memory(&what, host_bytes)?;
    Ok(CheckReport {
        batches: backend.batches(&plan, req.batch_size),
        scene_path: req.scene.clone(),
        scene,
        plan,
        posterior: req.posterior.clone(),
        backend: backend.name(),
        host_bytes,
        available: crate::input::limits::mem_available(),
    })
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scene, plan) = (&self.scene, &self.plan);
        let info = plan.model.info();
        let g = plan.model.grid();
        let path = self.scene_path.display();
        writeln!(f, "scene      {path} (sha256 {})", &scene.sha256[..16])?;
        if let Some(d) = &scene.file.description {
            writeln!(f, "           {d}")?;
        }
        writeln!(f, "model      {} — {}", info.kind, info.description)?;
        writeln!(
            f,
            "grid       {}×{} × {} fields, dx = {} {}",
            g.nx, g.ny, g.fields, g.dx, info.length_unit
        )?;
        writeln!(
            f,
            "time       {} steps of dt = {} {} (end {}), observed every {} steps ({} observations)",
            plan.steps,
            plan.model.dt(),
            info.time_unit,
            plan.model.time_at(plan.steps),
            plan.every,
            plan.observation_steps().len()
        )?;
        writeln!(
            f,
            "members    {} (seed {}), arm `{}` of {}",
            plan.members,
            plan.seed,
            plan.arm.name,
            scene.arms().len()
        )?;
        if let Some(dir) = &self.posterior {
            let dir = dir.display();
            writeln!(f, "           parameters drawn from the posterior in {dir}")?;
        }
        writeln!(f, "parameters")?;
        for (j, p) in plan.block.params.iter().enumerate() {
            let vals: Vec<f64> = plan.params.iter().map(|r| r[j]).collect();
            let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let (name, kind) = (&p.name, p.dist.kind());
            writeln!(
                f,
                "  {name:<10} {kind:<12} sampled range [{lo:.4e}, {hi:.4e}]"
            )?;
        }
        writeln!(f, "observables")?;
        for (n, u, d) in plan.observables.describe() {
            writeln!(f, "  {n:<24} [{u}] {d}")?;
        }
        let per = plan.bytes_per_member();
        writeln!(
            f,
            "memory     {} per member, {} in total; backend {} → {} batch(es) of up to {} members",
            human_bytes(per),
            human_bytes(per * plan.members as u64),
            self.backend,
            self.batches.len(),
            self.batches.iter().max().copied().unwrap_or(0)
        )?;
        let state = if self.backend == "cpu" {
            ", member state"
        } else {
            ""
        };
        writeln!(
            f,
            "host       {} needed (member table, recorded observables{state}); {} available",
            human_bytes(self.host_bytes),
            self.available.map_or("unknown".to_string(), human_bytes)
        )?;
        writeln!(f, "plan       sha256 {}", plan.sha256)?;
        writeln!(f, "ok")
    }
}

/// What `vtwin models` prints: every model family of the catalogue with
/// its units, fields, parameters and observable kinds, each followed by a
/// blank line.
pub fn models_listing() -> String {
    let mut s = String::new();
    for m in crate::core::models::catalogue() {
        let (lu, tu) = (m.length_unit, m.time_unit);
        let _ = writeln!(s, "{} — {}", m.kind, m.description);
        let _ = writeln!(s, "  time unit: {tu}, length unit: {lu}");
        if m.fields.is_empty() {
            let _ = writeln!(s, "  fields: the scene's `model.species`");
        } else {
            let _ = writeln!(s, "  fields:");
            for f in &m.fields {
                let _ = writeln!(s, "    {:<8} [{}] {}", f.name, f.unit, f.description);
            }
        }
        if m.params.is_empty() {
            let _ = writeln!(s, "  parameters: any named in the scene's [parameters]");
        } else {
            let _ = writeln!(s, "  parameters:");
            for p in &m.params {
                let _ = writeln!(
                    s,
                    "    {:<8} [{}] default {} range [{}, {}] — {}",
                    p.name, p.unit, p.default, p.bounds.0, p.bounds.1, p.description
                );
            }
        }
        let _ = writeln!(
            s,
            "  observables (per field, declared in [[observables]]): total [field·{lu}²], mean, max, min [field], \
             area_above [{lu}²], probe [field], block_mean [field], first_crossing [{tu}]"
        );
        let _ = writeln!(s);
    }
    s
}
