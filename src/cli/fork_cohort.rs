//! `vtwin fork` of a `cohort --checkpoint-every` checkpoint: the what-if
//! from a cohort's saved state.
//!
//! A cohort runs its simulations as tasks, one per arm and chunk of
//! `--chunk` patients, arm-major (`cohort_sim::EngineSource`); its
//! checkpoint (`.vtwin-resume/checkpoint.vtc` in the kept temporary folder
//! of an interrupted cohort) holds the running task only: the patients of
//! one chunk under one arm, at one step. A fork continues exactly those
//! patients from that step under another arm (or the same), with `--set`
//! parameters replaced for every one of them, and writes a cohort folder
//! for them under that one arm: `patients`, `observations` and `outcomes`
//! (observation model, outcomes and plausibility as `vtwin cohort` applies
//! them, on the trajectory that followed the task's arm up to the
//! checkpoint's step and the fork's arm after it), the data dictionary, the
//! scene copy, the RO-Crate metadata and a manifest whose `fork` record
//! names the checkpoint, its SHA-256, the task (arm, patients), the step
//! and time, the arm and the values set. The `patients` table keeps each
//! patient's drawn parameters (who the patient is); `--set` values act from
//! the checkpoint's step on and are recorded in the manifest.
//!
//! The task is identified by its plan's SHA-256 among the tasks the saved
//! command line makes; refused, naming the checkpoint: another version of
//! the scene, no matching task (another build or changed inputs), a
//! finished task's record (`done/…vtc`, which holds no state), an arm the
//! scene lacks, and a `--set` of anything but a parameter of the scene's
//! block.

use super::cohort::CohortArgs;
use super::fork::{ForkArgs, parse_set};
use crate::checkpoint::Checkpoint;
use crate::cohort::crate_meta::{self, CrateInfo, Property};
use crate::cohort::dictionary::{self, ColumnDocs};
use crate::cohort::{Patient, assemble};
use crate::cohort_files;
use crate::cohort_sim::{self, CohortSetup};
use crate::record;
use crate::scene::Scene;
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::Path;

/// Forks the cohort checkpoint `ck` at `path`, made by `cohort`; returns
/// the process exit code.
pub fn run(args: &ForkArgs, path: &Path, ck: Checkpoint, cohort: CohortArgs) -> Result<i32> {
    let started = crate::manifest::now();
    let m = &ck.meta;
    if m.state_len == 0 {
        bail!(
            "{}: the record of a finished cohort task (statuses and observations, no state); \
             fork the running task's checkpoint, .vtwin-resume/checkpoint.vtc",
            path.display()
        );
    }
    let scene = Scene::load(&cohort.scene)?;
    if scene.sha256 != m.identity.scene_sha256 {
        bail!(
            "{}: the checkpoint was made from another version of {} (scene sha256 {}, now {}); \
             it cannot be forked under this scene",
            path.display(),
            cohort.scene.display(),
            m.identity.scene_sha256,
            scene.sha256
        );
    }
    let setup = CohortSetup::new(&scene, cohort.seed)?;
    let sampler = setup.sampler()?;
    let shard = cohort
        .shard
        .unwrap_or(crate::cohort::merge::Shard { index: 0, count: 1 });
    let range = shard.range(cohort.patients);
    let chunk = cohort.chunk.max(1) as u64;
    // The task whose plan the checkpoint was saved for (arm-major, as the
    // cohort runs them); only chunks of the checkpoint's size can match.
    let mut task: Option<(String, Vec<Patient>)> = None;
    'arms: for arm in &setup.arms {
        let mut first = range.start;
        while first < range.end {
            let end = (first + chunk).min(range.end);
            if (end - first) as usize == m.members {
                let patients = sampler.patients(first..end)?;
                let plan = cohort_sim::task_plan(&scene, setup.seed, &patients, arm)?;
                if plan.sha256 == m.identity.plan_sha256 {
                    task = Some((arm.clone(), patients));
                    break 'arms;
                }
            }
            first = end;
        }
    }
    let Some((from_arm, patients)) = task else {
        bail!(
            "{}: the checkpoint (plan sha256 {}, {} patients) matches no task (arm × chunk of \
             patients) of `vtwin {}`; was it made by another vtwin build?",
            path.display(),
            m.identity.plan_sha256,
            m.members,
            m.invocation.argv.join(" ")
        );
    };
    let arm = args.arm.clone().unwrap_or_else(|| from_arm.clone());
    if !setup.arms.contains(&arm) {
        bail!(
            "{}: --arm {arm}: the scene has no arm `{arm}`; its arms are: {}",
            path.display(),
            setup.arms.join(", ")
        );
    }
    let mut plan = cohort_sim::task_plan(&scene, setup.seed, &patients, &arm)?;
    let mut set = Vec::new();
    for s in &args.set {
        let (name, value) = parse_set(s)?;
        plan = plan.with_param(&name, value).map_err(|e| {
            anyhow::anyhow!(
                "{}: --set {s}: {e} (a fork changes parameters only; the grid and other \
                 settings that shape the state stay as saved)",
                path.display()
            )
        })?;
        set.push((name, value));
    }
    let (backend, fmt) = super::fork::open_for_fork(args, path, m, &plan, &scene)?;
    let inputs = [cohort.scene.as_path(), path];
    let dir = super::create_run_dir(&args.out, args.force, &inputs)?;
    let (first, end) = (patients[0].id, patients[0].id + patients.len() as u64);
    let from_time = plan.model.time_at(m.step);
    eprintln!(
        "vtwin fork: {} (cohort task: patients {first}..{end} under arm `{from_arm}`) from step \
         {} (t = {from_time}) under arm `{arm}`{}, backend {}",
        path.display(),
        m.step,
        set.iter()
            .map(|(k, v)| format!(", {k} = {v}"))
            .collect::<String>(),
        backend.name()
    );
    let mut engine = super::fork::restore_with_set(&backend, args, &ck, &plan, &set)?;
    let rec = record::record_from::<anyhow::Error>(
        engine.as_mut(),
        ck.steps.clone(),
        ck.frames.clone(),
        None,
        &mut |_| {},
        &mut |_, _, _| Ok(()),
    )
    .context("simulation failed")?;
    drop(engine);
    let trajs = cohort_sim::trajectories(&plan, &rec, &patients, &arm);
    let arms = [arm.clone()];
    let (mut tables, _) = assemble(&sampler, &patients, &arms, &[trajs], false)
        .map_err(|e| cohort_sim::locate(&scene, e))?;
    let failed: Vec<u64> = rec
        .status
        .iter()
        .zip(&patients)
        .filter(|(s, _)| !s.is_ok())
        .map(|(_, p)| p.id)
        .collect();
    cohort_sim::mark_failed(&mut tables, &failed)?;

    let docs = ColumnDocs::for_cohort(&setup.spec, &setup.block, &setup.param_units);
    let dict = dictionary::to_json(&dictionary::build(&tables.tables(), &docs)?);
    let (results, scene_entry) =
        cohort_files::write_data(dir.path(), &tables, fmt, &dict, scene.source.as_bytes())?;
    let adapter = backend
        .adapter()
        .map(|a| format!("{} ({})", a.name, a.backend))
        .unwrap_or_else(|| "cpu".into());
    let set_text = set
        .iter()
        .map(|(k, v)| format!(", {k} = {v}"))
        .collect::<String>();
    let meta = crate_meta::build(&CrateInfo {
        name: format!("vtwin cohort fork (arm `{arm}`)"),
        description: format!(
            "Virtual patients {first}..{end} of a cohort, continued from the checkpoint of \
             their simulation under arm `{from_arm}` at t = {from_time} under arm \
             `{arm}`{set_text} with vtwin"
        ),
        license: None,
        software_version: env!("CARGO_PKG_VERSION").into(),
        action_name: "vtwin fork".into(),
        scene: scene_entry,
        parameters: setup
            .block
            .params
            .iter()
            .map(|p| Property::new(&p.name, cohort_files::describe_distribution(&p.dist)))
            .collect(),
        results,
        seed: setup.seed,
        adapter,
        properties: vec![
            Property::new("arms", arm.clone()),
            Property::new("forked_from_arm", from_arm.clone()),
            Property::new("forked_at_step", m.step.to_string()),
            Property::new("backend", backend.name()),
        ],
        start: started,
        end: crate::manifest::now(),
    });
    cohort_files::write_crate(dir.path(), &meta)?;
    let manifest = json!({
        "schema_version": crate::manifest::SCHEMA_VERSION,
        "engine": crate::manifest::engine_json(),
        "command": crate::checkpoint::Invocation::command_line(),
        "command_kind": "fork",
        "scene": { "path": scene.path.display().to_string(), "sha256": scene.sha256 },
        "seed": setup.seed,
        "backend": backend.name(),
        "adapter": backend.adapter(),
        "patients": patients.len(),
        "first_patient": first,
        "end_patient": end,
        "arms": arms,
        "format": fmt.extension(),
        "simulations_failed": failed.len(),
        "fork": {
            "of": "cohort",
            "checkpoint": path.display().to_string(),
            "checkpoint_sha256": crate::io::sha256_file(path)?,
            "cohort_command": m.invocation.argv,
            "from_plan_sha256": m.identity.plan_sha256,
            "from_arm": from_arm,
            "first_patient": first,
            "end_patient": end,
            "from_step": m.step,
            "from_time": from_time,
            "arm": arm,
            "set": set.iter().map(|(k, v)| json!({"param": k, "value": v})).collect::<Vec<_>>(),
        },
        "started": crate::manifest::rfc3339(started),
        "finished": crate::manifest::rfc3339(crate::manifest::now()),
    });
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    eprintln!(
        "vtwin fork: {} patients under arm `{arm}` ({} failed) in {}",
        patients.len(),
        failed.len(),
        final_dir.display()
    );
    Ok(0)
}
