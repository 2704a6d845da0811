//! `vtwin fork` of a `twin` or single-ensemble `assimilate` checkpoint
//! (`crate::drivers::checkpoint_twin`): the what-if from a twin's saved state. The
//! analysed ensemble saved after analysis k (and in a twin the truth and
//! the free run) is forecast under one arm, with `--set` parameters for
//! every member, from the analysis to the forecast horizon
//! (`assimilation.horizon`, else the scene's end), exactly as the run
//! forecasts its arms after its last analysis (`twin::run::forecast_from`).
//! Writes the run's forecast tables (`forecast`, `events`, `decision`, in a
//! twin `predictability`) for that arm and a manifest naming the checkpoint,
//! its scene hash and the arm.
//!
//! Refused, naming the checkpoint: a scene (or plan) other than the one it
//! was saved from, an arm the scene lacks, and a `--set` of anything but a
//! parameter of the scene's block (the grid, agent capacity and the like
//! shape the state and cannot change in a fork).

use super::fork::{
    ForkError, ForkRequest, SetNote, apply_sets, open_backend, set_notes, state_kept,
};
use super::job::{self, Observer};
use crate::drivers::checkpoint_twin::TwinMeta;
use crate::drivers::manifest::PlanManifest;
use crate::input::scene::Scene;
use crate::methods::assim::obs_file::{read_obs_file, read_patient_obs};
use crate::methods::twin::forecast::WhatIf;
use crate::methods::twin::setup::ObsSource;
use crate::methods::twin::{Options, Setup, tables};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The command a twin checkpoint came from, as its saved command line
/// gives it (paths as saved; relative ones are taken against its folder).
pub enum TwinCommand {
    Twin {
        scene: PathBuf,
        options: Options,
    },
    Assimilate {
        scene: PathBuf,
        obs: PathBuf,
        options: Options,
    },
}

/// The run a checkpoint came from, set up again from its command line.
struct Source {
    scene_path: PathBuf,
    /// `assimilate`: its observation file.
    obs: Option<PathBuf>,
    setup: Setup,
    twin: bool,
}

fn source(path: &Path, meta: &TwinMeta, command: TwinCommand) -> Result<Source, ForkError> {
    let cwd = &meta.invocation.cwd;
    let load = |scene: &Path| -> Result<(PathBuf, Scene), ForkError> {
        let scene_path = cwd.join(scene);
        let scene = crate::drivers::scenes::load(&scene_path)?;
        if scene.sha256 != meta.identity.scene_sha256 {
            return Err(ForkError::Invalid(format!(
                "{}: the checkpoint was made from another version of {} (scene sha256 {}, now \
                 {}): the scene changed, so it cannot be forked",
                path.display(),
                scene_path.display(),
                meta.identity.scene_sha256,
                scene.sha256
            )));
        }
        Ok((scene_path, scene))
    };
    let src = match command {
        TwinCommand::Twin { scene, options } => {
            let (scene_path, scene) = load(&scene)?;
            let setup = Setup::new(&scene, &options, ObsSource::Twin).map_err(|e| {
                ForkError::from(e).context(format!("{}: setting up its twin again", path.display()))
            })?;
            Source {
                scene_path,
                obs: None,
                setup,
                twin: true,
            }
        }
        TwinCommand::Assimilate {
            scene,
            obs,
            options,
        } => {
            let (scene_path, scene) = load(&scene)?;
            let obs = cwd.join(&obs);
            let (patient, has_patient) = read_patient_obs(&obs)?;
            if has_patient || patient.iter().any(|r| r.sd.is_none()) {
                return Err(ForkError::Invalid(format!(
                    "{}: its observation file {} is a patient file, whose runs keep no \
                     checkpoint",
                    path.display(),
                    obs.display()
                )));
            }
            let records = read_obs_file(&obs)?;
            let setup =
                Setup::new(&scene, &options, ObsSource::File(&obs, &records)).map_err(|e| {
                    ForkError::from(e).context(format!(
                        "{}: setting up its assimilation again",
                        path.display()
                    ))
                })?;
            Source {
                scene_path,
                obs: Some(obs),
                setup,
                twin: false,
            }
        }
    };
    if src.setup.plan.sha256 != meta.identity.plan_sha256 {
        return Err(ForkError::Invalid(format!(
            "{}: the checkpoint was made for plan sha256 {}, but its command now freezes plan \
             {} (another vtwin build, or a changed input)",
            path.display(),
            meta.identity.plan_sha256,
            src.setup.plan.sha256
        )));
    }
    Ok(src)
}

/// The `fork` key of a twin fork's manifest.
#[derive(Serialize)]
struct TwinForkNote {
    checkpoint: String,
    checkpoint_sha256: String,
    of: &'static str,
    scene_sha256: String,
    from_plan_sha256: String,
    from_analysis: usize,
    from_step: u64,
    from_time: f64,
    horizon_step: u64,
    arm: String,
    set: Vec<SetNote>,
}

/// A twin fork's own manifest keys.
#[derive(Serialize)]
struct TwinForkKeys {
    command_kind: &'static str,
    format: &'static str,
    time_unit: String,
    forecast: Option<Value>,
    fork: TwinForkNote,
}

/// Forks the twin checkpoint at `req.checkpoint` (its header `meta`),
/// made by `command`; returns the finished folder and the arm.
pub fn run(
    req: &ForkRequest,
    meta: &TwinMeta,
    command: TwinCommand,
    obs: &mut dyn Observer,
) -> Result<(PathBuf, String), ForkError> {
    let started = crate::drivers::manifest::now();
    let path = req.checkpoint.as_path();
    let src = source(path, meta, command)?;
    let setup = &src.setup;
    let (_, saved) = crate::drivers::checkpoint_twin::read_unchecked(path, setup)?;
    let arm = req.arm.clone().unwrap_or_else(|| setup.arm.clone());
    let arm_plan = setup.plan_for(&arm, None).map_err(|e| {
        ForkError::Invalid(format!("{}: --arm {arm}: {}", path.display(), e.message))
    })?;
    let (check, named) = apply_sets(arm_plan.clone(), &req.set, |s, e| state_kept(path, s, e))?;
    let mut set = Vec::new();
    for (name, value) in &named {
        let j = check
            .block
            .index_of(name)
            .ok_or_else(|| ForkError::Invalid("a parameter set is in the block".to_string()))?;
        set.push((j, *value));
    }
    let notes = set_notes(&named);
    let horizon = setup.horizon_step.unwrap_or(setup.plan.steps);
    let backend = open_backend(req, &meta.identity.backend, obs)?;
    let fmt = super::cohort::table_format(req.format, &setup.scene);
    let mut inputs = vec![src.scene_path.as_path(), path];
    if let Some(o) = &src.obs {
        inputs.push(o);
    }
    let dir = job::create_run_dir(&req.out, req.force, &inputs, obs)?;
    let model = &setup.plan.model;
    obs.note(&format!(
        "vtwin fork: {} after analysis {} (t = {}) under arm `{arm}`{}, {} members to t = {}, \
         backend {}",
        path.display(),
        meta.analyses,
        model.time_at(saved.ens.step),
        req.set.iter().map(|s| format!(", {s}")).collect::<String>(),
        setup.members,
        model.time_at(horizon),
        backend.name()
    ));
    let what_if = WhatIf {
        arms: Some(vec![arm.clone()]),
        set,
    };
    let fc = crate::methods::twin::run::forecast_from(
        setup,
        &backend,
        req.batch_size,
        &saved,
        horizon,
        &what_if,
    )
    .map_err(|e| ForkError::from(e).context("forecast failed"))?;
    let names: Vec<String> = setup
        .plan
        .observables
        .ops
        .iter()
        .map(|o| o.name.clone())
        .collect();
    dir.write_table(&tables::forecast_table(&fc, &names), fmt)?;
    if !setup.events.is_empty() {
        dir.write_table(&tables::events_table(&fc, &setup.events), fmt)?;
    }
    dir.write_table(&tables::decision_table(&fc, &setup.events, &names), fmt)?;
    let mut forecast_summary = None;
    if let Some((t, summary)) = tables::predictability(&fc, &names) {
        dir.write_table(&t, fmt)?;
        forecast_summary = Some(summary);
    }
    let keys = TwinForkKeys {
        command_kind: "fork",
        format: fmt.extension(),
        time_unit: model.info().time_unit.clone(),
        forecast: forecast_summary,
        fork: TwinForkNote {
            checkpoint: path.display().to_string(),
            checkpoint_sha256: crate::output::io::sha256_file(path)?,
            of: if src.twin { "twin" } else { "assimilate" },
            scene_sha256: meta.identity.scene_sha256.clone(),
            from_plan_sha256: meta.identity.plan_sha256.clone(),
            from_analysis: meta.analyses,
            from_step: saved.ens.step,
            from_time: model.time_at(saved.ens.step),
            horizon_step: horizon,
            arm: arm.clone(),
            set: notes,
        },
    };
    let manifest = PlanManifest::new(&arm_plan, &backend, started, 0, keys);
    let value = serde_json::to_value(&manifest).map_err(job::Error::from)?;
    Ok((dir.finish(value)?, arm))
}
