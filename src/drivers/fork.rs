//! `vtwin fork CHECKPOINT --arm NAME [--set PARAM=VALUE …] --out DIR`:
//! continues a saved ensemble from its step under another treatment arm or
//! with parameters changed for every member — the what-if from a saved
//! state, without running the past again.
//!
//! [`open`] finds and reads the checkpoint; the CLI parses the command line
//! it records and hands the saved command's request to [`run`] (a
//! `vtwin run` checkpoint: the outputs of a run, the observations so far
//! from the checkpoint and from its step on under the new arm, statuses
//! and the parameters used), [`super::fork_twin::run`] (a twin's or an
//! assimilation's) or [`super::fork_cohort::run`] (a cohort's running
//! task).
//!
//! Parameters may change only where the state layout stays (any parameter
//! of the scene's block; the grid, agents' capacity and the like are not
//! parameters), and the scene must be the one the checkpoint was made
//! from (its hash is checked).

use super::job::{self, Observer};
use super::run::{RunRequest, freeze_arm, shift_members};
use crate::core::plan::{Plan, PlanError};
use crate::drivers::checkpoint::{Checkpoint, CheckpointError, Invocation, Meta};
use crate::drivers::checkpoint_twin::TwinMeta;
use crate::drivers::manifest::PlanManifest;
use crate::engine::backend::Backend;
use crate::engine::record::{self, params_table};
use crate::engine::{BackendChoice, Engine, EngineError};
use crate::input::scene::{Scene, SceneError};
use crate::output::io::{IoError, TableFormat};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Why a fork stopped.
#[derive(Debug, thiserror::Error)]
pub enum ForkError {
    #[error(transparent)]
    Job(#[from] job::Error),
    #[error(transparent)]
    Scene(#[from] SceneError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Twin(#[from] crate::methods::twin::TwinError),
    #[error(transparent)]
    Obs(#[from] crate::methods::assim::obs_file::ObsFileError),
    #[error(transparent)]
    Cohort(#[from] super::cohort::CohortRunError),
    /// Bad options or a checkpoint that does not fit, said in full.
    #[error("{0}")]
    Invalid(String),
    /// A step of the fork (`what`) that failed because of `source`.
    #[error("{what}")]
    Context {
        what: String,
        #[source]
        source: Box<ForkError>,
    },
}

impl ForkError {
    /// `self` as the cause of `what` failing.
    pub fn context(self, what: impl Into<String>) -> ForkError {
        ForkError::Context {
            what: what.into(),
            source: Box::new(self),
        }
    }
}

/// What every fork is asked (the flags of `vtwin fork`).
#[derive(Clone, Debug)]
pub struct ForkRequest {
    /// The checkpoint file ([`open`] resolved it).
    pub checkpoint: PathBuf,
    /// The arm to continue under (default: the checkpoint's).
    pub arm: Option<String>,
    /// `PARAM=VALUE` texts, as given.
    pub set: Vec<String>,
    pub out: PathBuf,
    pub force: bool,
    pub format: Option<TableFormat>,
    pub backend: BackendChoice,
    pub adapter: Option<String>,
    pub batch_size: Option<u32>,
}

/// A checkpoint [`open`] read.
pub enum Saved {
    /// A twin's or single-ensemble assimilation's (`checkpoint_twin`).
    Twin(TwinMeta),
    /// A run's or a cohort task's (`checkpoint`).
    Ensemble(Checkpoint),
}

impl Saved {
    /// The command line the checkpoint records.
    pub fn invocation(&self) -> &Invocation {
        match self {
            Saved::Twin(m) => &m.invocation,
            Saved::Ensemble(c) => &c.meta.invocation,
        }
    }
}

/// The checkpoint `arg` names, and what it holds: the file itself; a
/// finished folder's `checkpoint.vtc`; a kept temporary folder's
/// `.vtwin-resume/checkpoint.vtc`; or, when `arg` does not exist, the
/// checkpoint of the interrupted run whose `--out` it was.
pub fn open(arg: &Path) -> Result<(PathBuf, Saved), ForkError> {
    let path = checkpoint_file(arg)?;
    if crate::drivers::checkpoint_twin::is_twin_checkpoint(&path) {
        let (meta, _) = crate::drivers::checkpoint_twin::read_meta(&path)?;
        return Ok((path, Saved::Twin(meta)));
    }
    let ck = Checkpoint::read(&path)?;
    Ok((path, Saved::Ensemble(ck)))
}

fn checkpoint_file(arg: &Path) -> Result<PathBuf, ForkError> {
    use crate::output::io::stale::{CHECKPOINT, RESUME_DIR};
    if arg.is_dir() {
        let top = arg.join(CHECKPOINT);
        let kept = arg.join(RESUME_DIR).join(CHECKPOINT);
        return Ok(if !top.exists() && kept.is_file() {
            kept
        } else {
            top
        });
    }
    if !arg.exists()
        && let Some(temp) = crate::drivers::checkpoint::find_kept(arg)?
    {
        let kept = crate::drivers::checkpoint::checkpoint_path(&temp);
        if kept.is_file() {
            return Ok(kept);
        }
        return Err(ForkError::Invalid(format!(
            "{}: the interrupted run kept in {} has no checkpoint yet (it was stopped before \
             its first one); nothing to fork",
            arg.display(),
            temp.display()
        )));
    }
    Ok(arg.to_path_buf())
}

/// Parses `PARAM=VALUE`.
pub fn parse_set(s: &str) -> Result<(String, f64), ForkError> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| ForkError::Invalid(format!("--set {s}: expected PARAM=VALUE")))?;
    let v: f64 = v
        .trim()
        .parse()
        .map_err(|_| ForkError::Invalid(format!("--set {s}: `{}` is not a number", v.trim())))?;
    Ok((k.trim().to_string(), v))
}

/// `plan` with every `--set PARAM=VALUE` of `sets` applied in order, and
/// the settings as (name, value); `refused(s, e)` words the error for a
/// setting `s` the plan refuses with `e`.
pub fn apply_sets(
    mut plan: Plan,
    sets: &[String],
    refused: impl Fn(&str, PlanError) -> String,
) -> Result<(Plan, Vec<(String, f64)>), ForkError> {
    let mut set = Vec::new();
    for s in sets {
        let (name, value) = parse_set(s)?;
        plan = plan
            .with_param(&name, value)
            .map_err(|e| ForkError::Invalid(refused(s, e)))?;
        set.push((name, value));
    }
    Ok((plan, set))
}

/// The error for a `--set` a saved state refuses (checkpoint forks of
/// twins and cohorts): parameters may change, the state's shape may not.
pub fn state_kept(path: &Path, s: &str, e: PlanError) -> String {
    format!(
        "{}: --set {s}: {e} (a fork changes parameters only; the grid and other settings that \
         shape the state stay as saved)",
        path.display()
    )
}

/// One `--set` as the manifest records it.
#[derive(Serialize)]
pub struct SetNote {
    pub param: String,
    pub value: f64,
}

/// The `set` list of a fork's manifest.
pub fn set_notes(set: &[(String, f64)]) -> Vec<SetNote> {
    set.iter()
        .map(|(k, v)| SetNote {
            param: k.clone(),
            value: *v,
        })
        .collect()
}

/// `, k = v` for each value set, as the notes print them.
pub fn set_text(set: &[(String, f64)]) -> String {
    set.iter().map(|(k, v)| format!(", {k} = {v}")).collect()
}

/// The `fork` key of a run fork's manifest.
#[derive(Serialize)]
struct RunForkNote {
    checkpoint: String,
    checkpoint_sha256: String,
    from_step: u64,
    from_plan_sha256: String,
    set: Vec<SetNote>,
}

/// A run fork's own manifest keys.
#[derive(Serialize)]
struct RunForkKeys {
    steps: u64,
    dt: f64,
    time_unit: String,
    format: &'static str,
    fork: RunForkNote,
}

/// What a finished fork of a run reports.
pub struct ForkOutcome {
    pub dir: PathBuf,
    pub members: u32,
    pub failed: usize,
}

/// Forks the run checkpoint `ck` at `req.checkpoint`; `run` is the saved
/// `vtwin run` command's request.
pub fn run(
    req: &ForkRequest,
    ck: &Checkpoint,
    mut run: RunRequest,
    obs: &mut dyn Observer,
) -> Result<ForkOutcome, ForkError> {
    let started = crate::drivers::manifest::now();
    let path = &req.checkpoint;
    let cwd = &ck.meta.invocation.cwd;
    run.scene = cwd.join(&run.scene);
    run.posterior = run.posterior.map(|p| cwd.join(p));
    let scene = crate::drivers::scenes::load(&run.scene)?;
    if scene.sha256 != ck.meta.identity.scene_sha256 {
        return Err(ForkError::Invalid(format!(
            "{}: the checkpoint was made from another version of {} (scene sha256 {}, now {}); \
             it cannot be forked under this scene",
            path.display(),
            run.scene.display(),
            ck.meta.identity.scene_sha256,
            scene.sha256
        )));
    }
    let arm = req.arm.clone().or(run.arm.clone());
    let (plan, set) = apply_sets(
        freeze_arm(&scene, &run, arm.as_deref())?,
        &req.set,
        |s, e| format!("--set {s}: {e}"),
    )?;
    let m = &ck.meta;
    let (backend, fmt) = open_for_fork(req, m, &plan, &scene, obs)?;
    let output = job::Output {
        out: req.out.clone(),
        force: req.force,
        inputs: vec![run.scene.as_path(), path.as_path()],
        checkpoint_every: None,
    };
    let dir = job::create_run_dir(&output.out, output.force, &output.inputs, obs)?;
    obs.note(&format!(
        "vtwin fork: {} from step {} under arm `{}`{}, {} members, backend {}",
        path.display(),
        m.step,
        plan.arm.name,
        set_text(&set),
        plan.members,
        backend.name()
    ));
    let mut engine = restore_with_set(&backend, req.batch_size, ck, &plan, &set)?;
    obs.start(plan.steps, "steps");
    obs.advance(m.step);
    let rec = record::record_from::<job::Error>(
        engine.as_mut(),
        ck.steps.clone(),
        ck.frames.clone(),
        None,
        &mut |s| obs.advance(s),
        &mut |_, _, _| Ok(()),
    )
    .map_err(|e| ForkError::from(e).context("simulation failed"))?;
    obs.finish();
    drop(engine);
    let offset = i64::from(plan.member_offset);
    dir.write_table(&shift_members(params_table(&plan), offset), fmt)?;
    dir.write_table(&shift_members(rec.observables_table(&plan), offset), fmt)?;
    dir.write_table(&shift_members(rec.status_table(), offset), fmt)?;
    let keys = RunForkKeys {
        steps: plan.steps,
        dt: plan.model.dt(),
        time_unit: plan.model.info().time_unit.clone(),
        format: fmt.extension(),
        fork: RunForkNote {
            checkpoint: path.display().to_string(),
            checkpoint_sha256: crate::output::io::sha256_file(path)?,
            from_step: m.step,
            from_plan_sha256: m.identity.plan_sha256.clone(),
            set: set_notes(&set),
        },
    };
    let failed = rec.failed();
    let manifest = PlanManifest::new(&plan, &backend, started, failed, keys);
    let value = serde_json::to_value(&manifest).map_err(job::Error::from)?;
    let dir = dir.finish(value)?;
    Ok(ForkOutcome {
        dir,
        members: plan.members,
        failed,
    })
}

/// Refuses a forked plan whose shape differs from the checkpoint's, opens
/// the backend (saying when it is not the one the checkpoint was written
/// on) and picks the table format (`--format`, else the scene's).
pub fn open_for_fork(
    req: &ForkRequest,
    m: &Meta,
    plan: &Plan,
    scene: &Scene,
    obs: &mut dyn Observer,
) -> Result<(Backend, TableFormat), ForkError> {
    let shape = (
        plan.members as usize,
        plan.model.state_len(),
        plan.n_params(),
        plan.observables.ops.len() + 1,
    );
    if shape != (m.members, m.state_len, m.n_params, m.frame_stride) {
        return Err(ForkError::Invalid(format!(
            "{}: the checkpoint holds {} members × {} state words, {} parameters, {} values per \
             observation, but the forked plan has {} × {}, {}, {}",
            req.checkpoint.display(),
            m.members,
            m.state_len,
            m.n_params,
            m.frame_stride,
            shape.0,
            shape.1,
            shape.2,
            shape.3
        )));
    }
    let backend = open_backend(req, &m.identity.backend, obs)?;
    Ok((backend, super::cohort::table_format(req.format, scene)))
}

/// Opens the fork's backend, noting when the checkpoint was written on
/// another (`saved_on`).
pub fn open_backend(
    req: &ForkRequest,
    saved_on: &str,
    obs: &mut dyn Observer,
) -> Result<Backend, ForkError> {
    let backend = Backend::open(req.backend, req.adapter.as_deref(), &mut |m| obs.note(&m))?;
    if backend.name() != saved_on {
        obs.note(&format!(
            "vtwin fork: the checkpoint was written on the {} backend and continues on {}; \
             results agree within the backends' tolerance, not bit for bit",
            saved_on,
            backend.name()
        ));
    }
    Ok(backend)
}

/// An engine for `plan` holding the checkpoint's state, with the columns
/// of the parameters `set` replaced by the plan's values (the other
/// parameters stay as saved).
pub fn restore_with_set(
    backend: &Backend,
    batch_size: Option<u32>,
    ck: &Checkpoint,
    plan: &Plan,
    set: &[(String, f64)],
) -> Result<Box<dyn Engine>, ForkError> {
    let mut engine = backend.engine(plan, batch_size)?;
    ck.restore(engine.as_mut())?;
    if !set.is_empty() {
        let np = plan.n_params();
        let fresh = plan.params_f32();
        let mut p = ck.params.clone();
        for (name, _) in set {
            let j = plan
                .block
                .index_of(name)
                .ok_or_else(|| ForkError::Invalid("a parameter set is in the block".to_string()))?;
            for i in 0..plan.members as usize {
                p[i * np + j] = fresh[i * np + j];
            }
        }
        engine.write_params(&p)?;
    }
    Ok(engine)
}
