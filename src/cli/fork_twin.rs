//! `vtwin fork` of a `twin` or single-ensemble `assimilate` checkpoint
//! (`crate::checkpoint_twin`): the what-if from a twin's saved state. The
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

use super::fork::{ForkArgs, parse_set};
use super::resume::{SavedCommand, parse_saved};
use crate::assim::obs_file::{read_obs_file, read_patient_obs};
use crate::io::TableFormat;
use crate::scene::{FormatName, Scene};
use crate::twin::forecast::WhatIf;
use crate::twin::setup::ObsSource;
use crate::twin::{Setup, tables};
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The run a checkpoint came from, set up again from its command line.
struct Source {
    scene_path: PathBuf,
    /// `assimilate`: its observation file.
    obs: Option<PathBuf>,
    setup: Setup,
    twin: bool,
}

fn source(path: &Path, meta: &crate::checkpoint_twin::TwinMeta) -> Result<Source> {
    let inv = &meta.invocation;
    let cwd = &inv.cwd;
    let load = |scene: &Path| -> Result<(PathBuf, Scene)> {
        let scene_path = cwd.join(scene);
        let scene = Scene::load(&scene_path)?;
        if scene.sha256 != meta.identity.scene_sha256 {
            bail!(
                "{}: the checkpoint was made from another version of {} (scene sha256 {}, now \
                 {}): the scene changed, so it cannot be forked",
                path.display(),
                scene_path.display(),
                meta.identity.scene_sha256,
                scene.sha256
            );
        }
        Ok((scene_path, scene))
    };
    let src = match parse_saved(inv, path)? {
        SavedCommand::Twin(a) => {
            let (scene_path, scene) = load(&a.scene)?;
            let setup = Setup::new(&scene, &a.filter.options(a.cycles), ObsSource::Twin)
                .with_context(|| format!("{}: setting up its twin again", path.display()))?;
            Source {
                scene_path,
                obs: None,
                setup,
                twin: true,
            }
        }
        SavedCommand::Assimilate(a) => {
            let (scene_path, scene) = load(&a.scene)?;
            let obs = cwd.join(&a.obs);
            let (patient, has_patient) = read_patient_obs(&obs)?;
            if has_patient || patient.iter().any(|r| r.sd.is_none()) {
                bail!(
                    "{}: its observation file {} is a patient file, whose runs keep no \
                     checkpoint",
                    path.display(),
                    obs.display()
                );
            }
            let records = read_obs_file(&obs)?;
            let setup = Setup::new(
                &scene,
                &a.filter.options(a.cycles),
                ObsSource::File(&obs, &records),
            )
            .with_context(|| format!("{}: setting up its assimilation again", path.display()))?;
            Source {
                scene_path,
                obs: Some(obs),
                setup,
                twin: false,
            }
        }
        _ => bail!(
            "{}: a twin checkpoint of `vtwin {}`, which is neither `twin` nor `assimilate`",
            path.display(),
            inv.argv.join(" ")
        ),
    };
    if src.setup.plan.sha256 != meta.identity.plan_sha256 {
        bail!(
            "{}: the checkpoint was made for plan sha256 {}, but its command now freezes plan \
             {} (another vtwin build, or a changed input)",
            path.display(),
            meta.identity.plan_sha256,
            src.setup.plan.sha256
        );
    }
    Ok(src)
}

/// Forks the twin checkpoint at `path`; returns the process exit code.
pub fn run(args: &ForkArgs, path: &Path) -> Result<i32> {
    let started = crate::manifest::now();
    let (meta, _) = crate::checkpoint_twin::read_meta(path)?;
    let src = source(path, &meta)?;
    let setup = &src.setup;
    let (_, saved) = crate::checkpoint_twin::read_unchecked(path, setup)?;
    let arm = args.arm.clone().unwrap_or_else(|| setup.arm.clone());
    let arm_plan = setup
        .plan_for(&arm, None)
        .map_err(|e| anyhow::anyhow!("{}: --arm {arm}: {}", path.display(), e.message))?;
    let mut check = arm_plan.clone();
    let mut set = Vec::new();
    let mut set_json = Vec::new();
    for s in &args.set {
        let (name, value) = parse_set(s)?;
        check = check.with_param(&name, value).map_err(|e| {
            anyhow::anyhow!(
                "{}: --set {s}: {e} (a fork changes parameters only; the grid and other \
                 settings that shape the state stay as saved)",
                path.display()
            )
        })?;
        let j = check
            .block
            .index_of(&name)
            .context("a parameter set is in the block")?;
        set.push((j, value));
        set_json.push(json!({"param": name, "value": value}));
    }
    let horizon = setup.horizon_step.unwrap_or(setup.plan.steps);
    let backend = args.engine.open()?;
    if backend.name() != meta.identity.backend {
        eprintln!(
            "vtwin fork: the checkpoint was written on the {} backend and continues on {}; \
             results agree within the backends' tolerance, not bit for bit",
            meta.identity.backend,
            backend.name()
        );
    }
    let fmt = args.format.unwrap_or(match setup.scene.file.output.format {
        Some(FormatName::Csv) => TableFormat::Csv,
        _ => TableFormat::Parquet,
    });
    let mut inputs = vec![src.scene_path.as_path(), path];
    if let Some(o) = &src.obs {
        inputs.push(o);
    }
    let dir = super::create_run_dir(&args.out, args.force, &inputs)?;
    let model = &setup.plan.model;
    eprintln!(
        "vtwin fork: {} after analysis {} (t = {}) under arm `{arm}`{}, {} members to t = {}, \
         backend {}",
        path.display(),
        meta.analyses,
        model.time_at(saved.ens.step),
        args.set
            .iter()
            .map(|s| format!(", {s}"))
            .collect::<String>(),
        setup.members,
        model.time_at(horizon),
        backend.name()
    );
    let what_if = WhatIf {
        arms: Some(vec![arm.clone()]),
        set,
    };
    let fc = crate::twin::run::forecast_from(
        setup,
        &backend,
        args.engine.batch_size,
        &saved,
        horizon,
        &what_if,
    )
    .context("forecast failed")?;
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
    let extra = json!({
        "command_kind": "fork",
        "format": fmt.extension(),
        "time_unit": model.info().time_unit,
        "forecast": forecast_summary,
        "fork": {
            "checkpoint": path.display().to_string(),
            "checkpoint_sha256": crate::io::sha256_file(path)?,
            "of": if src.twin { "twin" } else { "assimilate" },
            "scene_sha256": meta.identity.scene_sha256,
            "from_plan_sha256": meta.identity.plan_sha256,
            "from_analysis": meta.analyses,
            "from_step": saved.ens.step,
            "from_time": model.time_at(saved.ens.step),
            "horizon_step": horizon,
            "arm": arm,
            "set": set_json,
        },
    });
    let manifest = crate::manifest::for_plan(&arm_plan, &backend, started, 0, extra);
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    eprintln!(
        "vtwin fork: forecast of arm `{arm}` in {}",
        final_dir.display()
    );
    Ok(0)
}
