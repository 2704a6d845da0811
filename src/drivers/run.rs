//! `vtwin run`: one plan per arm, advanced to the end, written as a run
//! folder (params, observables, status, optional fields, agents and
//! montage, manifest), atomically; also the continuation of an
//! interrupted run (`vtwin resume`).
//!
//! Owns: the run's checks of its options, its tables and its manifest
//! keys, and the recording of one arm ([`record_arm`]), which the Python
//! package's in-memory `Scene.run` shares. The folder's life is
//! [`super::job::Job`].

use super::job::{Error, Job, MemberFailure, Observer, Output, Result, Resume};
use super::members::{Members, freeze_shard};
use super::snapshots::{MontageOptions, MontageScale, montage_field, save_fields, step_tag};
use crate::core::plan::Plan;
use crate::drivers::manifest::PlanManifest;
use crate::drivers::shard::Shard;
use crate::engine::backend::Backend;
use crate::engine::record::{self, AtObservation, Recording, params_table};
use crate::engine::{Engine, EngineError};
use crate::input::scene::{FormatName, Scene};
use crate::output::io::{RunDir, TableFormat};
use crate::output::table::Table;
use serde::Serialize;
use std::path::PathBuf;

/// Everything a run is asked to do (the flags of `vtwin run`).
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub scene: PathBuf,
    pub members: Option<u32>,
    pub seed: Option<u64>,
    /// The final folder.
    pub out: PathBuf,
    pub force: bool,
    /// Table format (default: the scene's `output.format`, else Parquet).
    pub format: Option<TableFormat>,
    /// Also write the final fields and montage.
    pub save_fields: bool,
    /// Snapshot every K-th observation too.
    pub every: Option<u32>,
    pub montage_field: Option<String>,
    pub montage_scale: MontageScale,
    /// An arm, or `all` for every arm of the scene.
    pub arm: Option<String>,
    pub posterior: Option<PathBuf>,
    pub fused: Option<u32>,
    pub shard: Option<Shard>,
    pub checkpoint_every: Option<u64>,
    /// Which backend, and the adapter whose name contains this.
    pub backend: crate::engine::BackendChoice,
    pub adapter: Option<String>,
    pub batch_size: Option<u32>,
    pub on_member_error: MemberFailure,
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The finished folder.
    pub dir: PathBuf,
    /// Members simulated (over all arms).
    pub members: usize,
    /// Members that diverged or saturated.
    pub members_failed: usize,
    pub diverged: usize,
    pub saturated: usize,
    /// Whether the member-failure policy calls the run failed.
    pub failed: bool,
}

/// One arm's simulation: its plan, recording and kernel note.
pub struct ArmRun {
    pub plan: Plan,
    pub rec: Recording,
    /// The engine's kernel note (`Engine::kernel_note`).
    pub kernel: Option<serde_json::Value>,
}

/// An observable as the manifest describes it.
#[derive(Serialize)]
struct ObservableNote {
    name: String,
    unit: String,
    description: String,
}

/// The montage keys of the manifest.
#[derive(Serialize)]
struct MontageNote {
    field: String,
    scale: &'static str,
    every: Option<u32>,
}

/// The run's own manifest keys (over [`PlanManifest`]'s).
#[derive(Serialize)]
pub struct RunKeys {
    steps: u64,
    dt: f64,
    time_unit: String,
    format: &'static str,
    observables: Vec<ObservableNote>,
    pub posterior: Option<String>,
    kernel: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arms: Option<Vec<String>>,
    pub shard: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    montage: Option<MontageNote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<u64>,
}

impl RunKeys {
    /// The keys of `runs` (the first arm's plan and kernel; with `all`,
    /// every arm's name) written as `fmt`, with `montage` and its `every`
    /// when fields are kept; no posterior, shard or checkpoints.
    pub fn new(
        runs: &[ArmRun],
        all: bool,
        fmt: TableFormat,
        montage: Option<(&MontageOptions, Option<u32>)>,
    ) -> RunKeys {
        let first = &runs[0];
        let info = first.plan.model.info();
        RunKeys {
            steps: first.plan.steps,
            dt: first.plan.model.dt(),
            time_unit: info.time_unit.clone(),
            format: fmt.extension(),
            observables: first
                .plan
                .observables
                .describe()
                .into_iter()
                .map(|(name, unit, description)| ObservableNote {
                    name,
                    unit,
                    description,
                })
                .collect(),
            posterior: None,
            kernel: first.kernel.clone(),
            arms: all.then(|| runs.iter().map(|r| r.plan.arm.name.clone()).collect()),
            shard: None,
            montage: montage.map(|(m, every)| MontageNote {
                field: info.fields[m.field].name.clone(),
                scale: m.scale.name(),
                every,
            }),
            checkpoint_every: None,
        }
    }
}

/// The caller's recording loop for [`record_arm`]: records the engine to
/// the end, calling the hook it is given after each observation.
pub type RecordLoop<'a, E> =
    dyn FnMut(&mut dyn Engine, &mut AtObservation<'_, E>) -> Result<Recording, E> + 'a;

/// Where [`record_arm`] hands a snapshot: the plan, the step, the state.
pub type SnapshotSink<'a, E> = dyn FnMut(&Plan, u64, Vec<f32>) -> Result<(), E> + 'a;

/// Records one arm's `plan` on `engine` to the end through `record` (a
/// job's checkpointed loop, or a plain `record::record_with`, given the
/// hook to call after each observation). With `every`, the state at the
/// observations `record::snapshot_indices` picks goes to `snapshot` (plan,
/// step, state); with `keep_final`, the final state is returned.
pub fn record_arm<E: From<EngineError>>(
    mut engine: Box<dyn Engine>,
    plan: Plan,
    every: Option<u32>,
    keep_final: bool,
    record: &mut RecordLoop<'_, E>,
    snapshot: &mut SnapshotSink<'_, E>,
) -> Result<(ArmRun, Option<Vec<f32>>), E> {
    let snaps = match every {
        Some(k) => record::snapshot_indices(plan.observation_steps().len(), k as usize),
        None => Vec::new(),
    };
    let rec = record(engine.as_mut(), &mut |engine, k, step| {
        if snaps.contains(&k) {
            snapshot(&plan, step, engine.read_state()?)?;
        }
        Ok(())
    })?;
    let state = match keep_final {
        true => Some(engine.read_state()?),
        false => None,
    };
    let kernel = engine.kernel_note();
    drop(engine);
    Ok((ArmRun { plan, rec, kernel }, state))
}

/// One arm of a run in `job`'s folder, with its snapshots and final
/// fields when `fields` are kept.
fn simulate(
    req: &RunRequest,
    plan: Plan,
    backend: &Backend,
    job: &Job,
    fields: Option<(&MontageOptions, TableFormat)>,
    obs: &mut dyn Observer,
) -> Result<ArmRun> {
    let engine = backend.engine_with(
        &plan,
        &crate::engine::backend::EngineOptions {
            batch_size: req.batch_size,
            fused: req.fused,
            ..Default::default()
        },
    )?;
    let last = plan.steps;
    let dir: &RunDir = &job.dir;
    obs.start(plan.steps, "steps");
    let (arm, state) = record_arm::<Error>(
        engine,
        plan,
        fields.and(req.every),
        fields.is_some(),
        &mut |engine, at_observation| {
            job.record(engine, &mut |s| obs.advance(s), at_observation)
                .map_err(|e| e.context("simulation failed"))
        },
        &mut |plan, step, state| match fields {
            Some((opts, fmt)) => {
                let tag = format!("_{}", step_tag(step, last));
                save_fields(dir, plan, &state, opts, fmt, step, &tag)
            }
            None => Ok(()),
        },
    )?;
    obs.finish();
    if let (Some((opts, fmt)), Some(state)) = (fields, state) {
        save_fields(dir, &arm.plan, &state, opts, fmt, last, "")?;
    }
    Ok(arm)
}

/// Adds `offset` to a table's `member` column: a shard's tables carry
/// global member indices, so the merged tables equal the unsharded ones.
pub fn shift_members(mut t: Table, offset: i64) -> Table {
    if offset != 0 {
        for c in t.columns.iter_mut().filter(|c| c.name == "member") {
            if let crate::output::table::Values::I64(v) = &mut c.values {
                for x in v.iter_mut().flatten() {
                    *x += offset;
                }
            }
        }
    }
    t
}

/// The plan options of `req` for one arm.
pub fn members<'a>(req: &'a RunRequest, arm: Option<&'a str>) -> Members<'a> {
    Members {
        members: req.members,
        seed: req.seed,
        arm,
        posterior: req.posterior.as_deref(),
        shard: req.shard,
    }
}

/// The plan of one arm of `req`, or of its shard.
pub fn freeze_arm(scene: &Scene, req: &RunRequest, arm: Option<&str>) -> Result<Plan> {
    let save = req.save_fields || scene.file.output.save_fields;
    let montage = save.then_some(scene.file.output.montage_members as u64);
    freeze_shard(scene, &members(req, arm), montage)
}

/// The arms a run of `arm` simulates, and whether it is `--arm all`: every
/// arm of the scene (an arm itself named `all` wins; a scene without arms
/// runs its one default arm).
pub fn arms_of<'s>(scene: &'s Scene, arm: Option<&'s str>) -> (Vec<Option<&'s str>>, bool) {
    let all = arm == Some("all") && scene.file.arms.iter().all(|a| a.name != "all");
    if !all {
        return (vec![arm], false);
    }
    let names: Vec<Option<&str>> = scene
        .file
        .arms
        .iter()
        .map(|a| Some(a.name.as_str()))
        .collect();
    if names.is_empty() {
        (vec![None], true)
    } else {
        (names, true)
    }
}

/// The table format of a run: `format`, else the scene's `output.format`,
/// else Parquet.
pub fn table_format(scene: &Scene, format: Option<TableFormat>) -> TableFormat {
    format.unwrap_or(match scene.file.output.format {
        Some(FormatName::Csv) => TableFormat::Csv,
        _ => TableFormat::Parquet,
    })
}

fn invalid(msg: &str) -> Error {
    Error::Invalid(msg.to_string())
}

/// Runs `req`, or with `resume` continues it in its kept temporary folder.
pub fn run(
    req: &RunRequest,
    resume: Option<&Resume>,
    obs: &mut dyn Observer,
) -> Result<RunOutcome> {
    let started = crate::drivers::manifest::now();
    let scene = crate::drivers::scenes::load(&req.scene)?;
    let (arms, all) = arms_of(&scene, req.arm.as_deref());
    if all && req.shard.is_some() {
        return Err(invalid(
            "--shard with --arm all is not supported: shard each arm with --arm NAME --shard I/K",
        ));
    }
    let plans = arms
        .iter()
        .map(|arm| freeze_arm(&scene, req, *arm))
        .collect::<Result<Vec<Plan>>>()?;
    if !all && let Some(note) = super::members::default_arm_note("run", &scene, req.arm.as_deref())
    {
        obs.note(&note);
    }
    let save = req.save_fields || scene.file.output.save_fields;
    if req.every == Some(0) {
        return Err(invalid(
            "--every must be at least 1 (observations between snapshots)",
        ));
    }
    if req.every.is_some() && !save {
        return Err(invalid(
            "--every K saves fields every K observations: add --save-fields",
        ));
    }
    if all && save {
        return Err(invalid(
            "--save-fields with --arm all is not supported yet: run each arm with --arm NAME --save-fields",
        ));
    }
    let montage = MontageOptions {
        field: montage_field(&plans[0], req.montage_field.as_deref())?,
        scale: req.montage_scale,
        members: scene.file.output.montage_members,
        // A shard's montage would show its own first members: only shard 0
        // (which `freeze_shard` checked holds every member the whole run's
        // montage shows) draws it, so the merge can take it as it is.
        draw: req.shard.is_none_or(|s| s.index == 0),
    };
    if req.checkpoint_every == Some(0) {
        return Err(invalid(
            "--checkpoint-every must be at least 1 (steps between checkpoints)",
        ));
    }
    if all && req.checkpoint_every.is_some() {
        return Err(invalid(
            "--checkpoint-every with --arm all is not supported yet: run each arm with --arm NAME",
        ));
    }
    let backend = &Backend::open(req.backend, req.adapter.as_deref(), &mut |m| obs.note(&m))?;
    let mut inputs = vec![req.scene.as_path()];
    inputs.extend(req.posterior.as_deref());
    let output = Output {
        out: req.out.clone(),
        force: req.force,
        inputs,
        checkpoint_every: req.checkpoint_every,
    };
    let job = Job::open(started, &output, &plans[0], backend, resume, obs)?;
    let fmt = table_format(&scene, req.format);
    let plan = &plans[0];
    let arm_names: Vec<String> = plans.iter().map(|p| p.arm.name.clone()).collect();
    obs.note(&format!(
        "vtwin run: {} ({}), {} members × {} steps, arm{} `{}`, backend {}{}",
        req.scene.display(),
        plan.model.info().kind,
        plan.members,
        plan.steps,
        if all { "s" } else { "" },
        arm_names.join("`, `"),
        backend.name(),
        backend
            .adapter()
            .map(|a| format!(" on {} ({})", a.name, a.backend))
            .unwrap_or_default()
    ));
    if req.fused.is_some() && backend.name() == "cpu" {
        obs.note("vtwin run: --fused applies to the GPU backend; the CPU backend ignores it");
    }
    let mut runs = Vec::new();
    for p in plans {
        if all {
            obs.note(&format!("vtwin run: arm `{}`", p.arm.name));
        }
        runs.push(simulate(
            req,
            p,
            backend,
            &job,
            save.then_some((&montage, fmt)),
            obs,
        )?);
    }
    write_tables(&job.dir, &runs, all, fmt)?;
    let first = &runs[0];
    let failed: usize = runs.iter().map(|r| r.rec.failed()).sum();
    let mut keys = RunKeys::new(&runs, all, fmt, save.then_some((&montage, req.every)));
    keys.posterior = req.posterior.as_ref().map(|p| p.display().to_string());
    keys.shard = req.shard.map(|s| {
        let total = req.members.unwrap_or(scene.file.ensemble.members) as u64;
        let start = first.plan.member_offset as u64;
        crate::drivers::shard::manifest_json(
            crate::drivers::shard::ShardKind::Run,
            s,
            &(start..start + first.plan.members as u64),
            total,
        )
    });
    keys.checkpoint_every = req.checkpoint_every;
    let manifest = PlanManifest::new(&first.plan, backend, started, failed, keys);
    let dir = job.finish(&manifest)?;
    let count = |name: &str| {
        runs.iter()
            .flat_map(|r| r.rec.status.iter())
            .filter(|s| s.name() == name)
            .count()
    };
    Ok(RunOutcome {
        dir,
        members: first.plan.members as usize * runs.len(),
        members_failed: failed,
        diverged: count("diverged"),
        saturated: count("saturated"),
        failed: failed > 0 && req.on_member_error == MemberFailure::Fail,
    })
}

/// The params, observables and status tables: one arm's with global member
/// indices, or every arm's stacked under a first column `arm`.
pub fn run_tables(runs: &[ArmRun], all: bool) -> Result<Vec<Table>> {
    if all {
        let stack = |name: &str, f: &dyn Fn(&ArmRun) -> Table| {
            Table::stack(
                name,
                "arm",
                runs.iter()
                    .map(|r| (r.plan.arm.name.clone(), f(r)))
                    .collect(),
            )
            .map_err(|e| Error::Invalid(e.to_string()))
        };
        Ok(vec![
            stack("params", &|r| params_table(&r.plan))?,
            stack("observables", &|r| r.rec.observables_table(&r.plan))?,
            stack("status", &|r| r.rec.status_table())?,
        ])
    } else {
        let first = &runs[0];
        let offset = i64::from(first.plan.member_offset);
        Ok(vec![
            shift_members(params_table(&first.plan), offset),
            shift_members(first.rec.observables_table(&first.plan), offset),
            shift_members(first.rec.status_table(), offset),
        ])
    }
}

/// Writes [`run_tables`] into `dir` as `fmt`.
pub fn write_tables(dir: &RunDir, runs: &[ArmRun], all: bool, fmt: TableFormat) -> Result<()> {
    for t in run_tables(runs, all)? {
        dir.write_table(&t, fmt)?;
    }
    Ok(())
}
