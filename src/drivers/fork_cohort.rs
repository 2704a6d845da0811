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

use super::cohort::{CohortManifest, CohortRequest, adapter_text, crate_parameters};
use super::fork::{
    ForkError, ForkRequest, SetNote, apply_sets, open_for_fork, restore_with_set, set_notes,
    set_text, state_kept,
};
use super::job::{self, Observer};
use crate::drivers::checkpoint::Checkpoint;
use crate::drivers::cohort_sim::{self, CohortSetup};
use crate::engine::record;
use crate::methods::cohort::crate_meta::{self, CrateInfo, Property};
use crate::methods::cohort::dictionary::{self, ColumnDocs};
use crate::methods::cohort::{Patient, assemble};
use crate::methods::cohort_files;
use serde::Serialize;
use std::path::PathBuf;

/// The `fork` key of a cohort fork's manifest.
#[derive(Serialize)]
struct CohortForkNote<'a> {
    of: &'static str,
    checkpoint: String,
    checkpoint_sha256: String,
    cohort_command: &'a [String],
    from_plan_sha256: &'a str,
    from_arm: &'a str,
    first_patient: u64,
    end_patient: u64,
    from_step: u64,
    from_time: f64,
    arm: &'a str,
    set: Vec<SetNote>,
}

/// A cohort fork's own manifest keys.
#[derive(Serialize)]
struct CohortForkKeys<'a> {
    command_kind: &'static str,
    patients: usize,
    first_patient: u64,
    end_patient: u64,
    arms: &'a [String],
    simulations_failed: usize,
    fork: CohortForkNote<'a>,
}

/// What a finished fork of a cohort task reports.
pub struct CohortForkOutcome {
    pub dir: PathBuf,
    pub arm: String,
    pub patients: usize,
    pub failed: usize,
}

/// Forks the cohort checkpoint `ck` at `req.checkpoint`, made by the
/// cohort `cohort` asked for.
pub fn run(
    req: &ForkRequest,
    ck: &Checkpoint,
    cohort: &CohortRequest,
    obs: &mut dyn Observer,
) -> Result<CohortForkOutcome, ForkError> {
    let started = crate::drivers::manifest::now();
    let path = req.checkpoint.as_path();
    let m = &ck.meta;
    let invalid = |msg: String| Err(ForkError::Invalid(msg));
    if m.state_len == 0 {
        return invalid(format!(
            "{}: the record of a finished cohort task (statuses and observations, no state); \
             fork the running task's checkpoint, .vtwin-resume/checkpoint.vtc",
            path.display()
        ));
    }
    let scene = crate::drivers::scenes::load(&cohort.scene)?;
    if scene.sha256 != m.identity.scene_sha256 {
        return invalid(format!(
            "{}: the checkpoint was made from another version of {} (scene sha256 {}, now {}); \
             it cannot be forked under this scene",
            path.display(),
            cohort.scene.display(),
            m.identity.scene_sha256,
            scene.sha256
        ));
    }
    let cerr =
        |e: cohort_sim::CohortSimError| ForkError::from(super::cohort::CohortRunError::from(e));
    let kerr = |e: crate::methods::cohort::CohortError| {
        ForkError::from(super::cohort::CohortRunError::from(e))
    };
    let setup = CohortSetup::new(&scene, cohort.seed).map_err(cerr)?;
    let sampler = setup.sampler().map_err(kerr)?;
    let shard = cohort
        .shard
        .unwrap_or(crate::methods::cohort::merge::Shard { index: 0, count: 1 });
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
                let patients = sampler.patients(first..end).map_err(kerr)?;
                let plan =
                    cohort_sim::task_plan(&scene, setup.seed, &patients, arm).map_err(cerr)?;
                if plan.sha256 == m.identity.plan_sha256 {
                    task = Some((arm.clone(), patients));
                    break 'arms;
                }
            }
            first = end;
        }
    }
    let Some((from_arm, patients)) = task else {
        return invalid(format!(
            "{}: the checkpoint (plan sha256 {}, {} patients) matches no task (arm × chunk of \
             patients) of `vtwin {}`; was it made by another vtwin build?",
            path.display(),
            m.identity.plan_sha256,
            m.members,
            m.invocation.argv.join(" ")
        ));
    };
    let arm = req.arm.clone().unwrap_or_else(|| from_arm.clone());
    if !setup.arms.contains(&arm) {
        return invalid(format!(
            "{}: --arm {arm}: the scene has no arm `{arm}`; its arms are: {}",
            path.display(),
            setup.arms.join(", ")
        ));
    }
    let (plan, set) = apply_sets(
        cohort_sim::task_plan(&scene, setup.seed, &patients, &arm).map_err(cerr)?,
        &req.set,
        |s, e| state_kept(path, s, e),
    )?;
    let (backend, fmt) = open_for_fork(req, m, &plan, &scene, obs)?;
    let inputs = [cohort.scene.as_path(), path];
    let dir = job::create_run_dir(&req.out, req.force, &inputs, obs)?;
    let (first, end) = (patients[0].id, patients[0].id + patients.len() as u64);
    let from_time = plan.model.time_at(m.step);
    obs.note(&format!(
        "vtwin fork: {} (cohort task: patients {first}..{end} under arm `{from_arm}`) from step \
         {} (t = {from_time}) under arm `{arm}`{}, backend {}",
        path.display(),
        m.step,
        set_text(&set),
        backend.name()
    ));
    let mut engine = restore_with_set(&backend, req.batch_size, ck, &plan, &set)?;
    let rec = record::record_from::<job::Error>(
        engine.as_mut(),
        ck.steps.clone(),
        ck.frames.clone(),
        None,
        &mut |_| {},
        &mut |_, _, _| Ok(()),
    )
    .map_err(|e| ForkError::from(e).context("simulation failed"))?;
    drop(engine);
    let trajs = cohort_sim::trajectories(&plan, &rec, &patients, &arm);
    let arms = [arm.clone()];
    let (mut tables, _) = assemble(&sampler, &patients, &arms, &[trajs], false)
        .map_err(|e| cerr(cohort_sim::locate(&scene, e)))?;
    let failed: Vec<u64> = rec
        .status
        .iter()
        .zip(&patients)
        .filter(|(s, _)| !s.is_ok())
        .map(|(_, p)| p.id)
        .collect();
    cohort_sim::mark_failed(&mut tables, &failed).map_err(kerr)?;

    let docs = ColumnDocs::for_cohort(&setup.spec, &setup.block, &setup.param_units);
    let dict = dictionary::to_json(&dictionary::build(&tables.tables(), &docs).map_err(kerr)?);
    let (results, scene_entry) =
        cohort_files::write_data(dir.path(), &tables, fmt, &dict, scene.source.as_bytes())
            .map_err(|e| ForkError::from(super::cohort::CohortRunError::from(e)))?;
    let adapter = adapter_text(&backend);
    let set_text = set_text(&set);
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
        parameters: crate_parameters(&setup),
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
        end: crate::drivers::manifest::now(),
    });
    cohort_files::write_crate(dir.path(), &meta)
        .map_err(|e| ForkError::from(super::cohort::CohortRunError::from(e)))?;
    let keys = CohortForkKeys {
        command_kind: "fork",
        patients: patients.len(),
        first_patient: first,
        end_patient: end,
        arms: &arms,
        simulations_failed: failed.len(),
        fork: CohortForkNote {
            of: "cohort",
            checkpoint: path.display().to_string(),
            checkpoint_sha256: crate::output::io::sha256_file(path)?,
            cohort_command: &m.invocation.argv,
            from_plan_sha256: &m.identity.plan_sha256,
            from_arm: &from_arm,
            first_patient: first,
            end_patient: end,
            from_step: m.step,
            from_time,
            arm: &arm,
            set: set_notes(&set),
        },
    };
    let manifest = CohortManifest::new(&scene, setup.seed, &backend, fmt, started, keys);
    let value = serde_json::to_value(&manifest).map_err(job::Error::from)?;
    let dir = dir.finish(value)?;
    Ok(CohortForkOutcome {
        dir,
        arm,
        patients: patients.len(),
        failed: failed.len(),
    })
}
