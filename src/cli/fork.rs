//! `vtwin fork CHECKPOINT --arm NAME [--set PARAM=VALUE …] --out DIR`:
//! continues a saved ensemble (a `vtwin run --checkpoint-every` checkpoint;
//! a twin's or an assimilation's is forecast by `fork_twin`, a cohort's
//! running task is continued by `fork_cohort`)
//! from its step under another treatment arm or with parameters changed
//! for every member — the what-if from a saved state, without running the
//! past again. The outputs are those of a run: the observations so far
//! (from the checkpoint) and from the checkpoint's step on (under the new
//! arm), statuses and the parameters used.
//!
//! Parameters may change only where the state layout stays (any parameter
//! of the scene's block; the grid, agents' capacity and the like are not
//! parameters), and the scene must be the one the checkpoint was made
//! from (its hash is checked).

use super::resume::{SavedCommand, parse_saved};
use super::run::shift_members;
use super::{EngineArgs, progress_bar};
use crate::checkpoint::Checkpoint;
use crate::io::TableFormat;
use crate::record::{self, params_table};
use crate::scene::Scene;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ForkArgs {
    /// A checkpoint file (checkpoint.vtc of a finished run, twin or
    /// assimilation with --checkpoint-every, or of an interrupted one's
    /// kept folder — a cohort's only there), a folder holding one, or the
    /// --out of an interrupted run (its kept folder's checkpoint).
    pub checkpoint: PathBuf,
    /// Treatment arm to continue under (default: the checkpoint's arm; a
    /// twin's: its assimilation arm; a cohort's: the arm of its running
    /// task).
    #[arg(long)]
    pub arm: Option<String>,
    /// Set a parameter for every member from the checkpoint's step on
    /// (repeatable).
    #[arg(long = "set", value_name = "PARAM=VALUE")]
    pub set: Vec<String>,
    /// Output folder. Refused if it exists, unless --force.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Table format (default: the scene's `output.format`, else parquet).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Parses `PARAM=VALUE`.
pub(crate) fn parse_set(s: &str) -> Result<(String, f64)> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("--set {s}: expected PARAM=VALUE"))?;
    let v: f64 = v
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--set {s}: `{}` is not a number", v.trim()))?;
    Ok((k.trim().to_string(), v))
}

/// The checkpoint file `arg` names: the file itself; a finished folder's
/// `checkpoint.vtc`; a kept temporary folder's `.vtwin-resume/checkpoint.vtc`;
/// or, when `arg` does not exist, the checkpoint of the interrupted run
/// whose `--out` it was (its newest kept temporary folder).
fn checkpoint_file(arg: &std::path::Path) -> Result<PathBuf> {
    use crate::io::stale::{CHECKPOINT, RESUME_DIR};
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
        && let Some(temp) = crate::checkpoint::find_kept(arg)?
    {
        let kept = crate::checkpoint::checkpoint_path(&temp);
        if kept.is_file() {
            return Ok(kept);
        }
        anyhow::bail!(
            "{}: the interrupted run kept in {} has no checkpoint yet (it was stopped before \
             its first one); nothing to fork",
            arg.display(),
            temp.display()
        );
    }
    Ok(arg.to_path_buf())
}

/// Returns the process exit code.
pub fn run(args: &ForkArgs) -> Result<i32> {
    let started = crate::manifest::now();
    let path = checkpoint_file(&args.checkpoint)?;
    if crate::checkpoint_twin::is_twin_checkpoint(&path) {
        return super::fork_twin::run(args, &path);
    }
    let ck = Checkpoint::read(&path)?;
    let mut run = match parse_saved(&ck.meta.invocation, &path)? {
        SavedCommand::Run(run) => run,
        SavedCommand::Cohort(c) => return super::fork_cohort::run(args, &path, ck, c),
        _ => anyhow::bail!(
            "{}: a checkpoint of `vtwin {}`; fork continues checkpoints of `vtwin run`, \
             `vtwin cohort`, `vtwin twin` and `vtwin assimilate`",
            path.display(),
            ck.meta.invocation.argv.join(" ")
        ),
    };
    let cwd = &ck.meta.invocation.cwd;
    run.scene = cwd.join(&run.scene);
    run.posterior = run.posterior.map(|p| cwd.join(p));
    let scene = Scene::load(&run.scene)?;
    if scene.sha256 != ck.meta.identity.scene_sha256 {
        anyhow::bail!(
            "{}: the checkpoint was made from another version of {} (scene sha256 {}, now {}); \
             it cannot be forked under this scene",
            path.display(),
            run.scene.display(),
            ck.meta.identity.scene_sha256,
            scene.sha256
        );
    }
    let arm = args.arm.clone().or(run.arm.clone());
    let mut plan = super::run::freeze_shard(&scene, &run, arm.as_deref())?;
    let mut set = Vec::new();
    for s in &args.set {
        let (name, value) = parse_set(s)?;
        plan = plan
            .with_param(&name, value)
            .map_err(|e| anyhow::anyhow!("--set {s}: {e}"))?;
        set.push((name, value));
    }
    let m = &ck.meta;
    let (backend, fmt) = open_for_fork(args, &path, m, &plan, &scene)?;
    let inputs = [run.scene.as_path(), path.as_path()];
    let dir = super::create_run_dir(&args.out, args.force, &inputs)?;
    eprintln!(
        "vtwin fork: {} from step {} under arm `{}`{}, {} members, backend {}",
        path.display(),
        m.step,
        plan.arm.name,
        set.iter()
            .map(|(k, v)| format!(", {k} = {v}"))
            .collect::<String>(),
        plan.members,
        backend.name()
    );
    let mut engine = restore_with_set(&backend, args, &ck, &plan, &set)?;
    let bar = progress_bar(plan.steps, "steps");
    bar.set_position(m.step);
    let rec = record::record_from::<anyhow::Error>(
        engine.as_mut(),
        ck.steps.clone(),
        ck.frames.clone(),
        None,
        &mut |s| bar.set_position(s),
        &mut |_, _, _| Ok(()),
    )
    .context("simulation failed")?;
    bar.finish_and_clear();
    drop(engine);
    let offset = i64::from(plan.member_offset);
    dir.write_table(&shift_members(params_table(&plan), offset), fmt)?;
    dir.write_table(&shift_members(rec.observables_table(&plan), offset), fmt)?;
    dir.write_table(&shift_members(rec.status_table(), offset), fmt)?;
    let extra = serde_json::json!({
        "steps": plan.steps,
        "dt": plan.model.dt(),
        "time_unit": plan.model.info().time_unit,
        "format": fmt.extension(),
        "fork": {
            "checkpoint": path.display().to_string(),
            "checkpoint_sha256": crate::io::sha256_file(&path)?,
            "from_step": m.step,
            "from_plan_sha256": m.identity.plan_sha256,
            "set": set.iter().map(|(k, v)| serde_json::json!({"param": k, "value": v})).collect::<Vec<_>>(),
        },
    });
    let failed = rec.failed();
    let manifest = crate::manifest::for_plan(&plan, &backend, started, failed, extra);
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    eprintln!(
        "vtwin fork: {} of {} members failed; outputs in {}",
        failed,
        plan.members,
        final_dir.display()
    );
    Ok(0)
}

/// Refuses a forked plan whose shape differs from the checkpoint's, opens
/// the backend (saying when it is not the one the checkpoint was written
/// on) and picks the table format (`--format`, else the scene's).
pub(super) fn open_for_fork(
    args: &ForkArgs,
    path: &Path,
    m: &crate::checkpoint::Meta,
    plan: &crate::plan::Plan,
    scene: &Scene,
) -> Result<(crate::backend::Backend, TableFormat)> {
    let shape = (
        plan.members as usize,
        plan.model.state_len(),
        plan.n_params(),
        plan.observables.ops.len() + 1,
    );
    if shape != (m.members, m.state_len, m.n_params, m.frame_stride) {
        anyhow::bail!(
            "{}: the checkpoint holds {} members × {} state words, {} parameters, {} values per \
             observation, but the forked plan has {} × {}, {}, {}",
            path.display(),
            m.members,
            m.state_len,
            m.n_params,
            m.frame_stride,
            shape.0,
            shape.1,
            shape.2,
            shape.3
        );
    }
    let backend = args.engine.open()?;
    if backend.name() != m.identity.backend {
        eprintln!(
            "vtwin fork: the checkpoint was written on the {} backend and continues on {}; \
             results agree within the backends' tolerance, not bit for bit",
            m.identity.backend,
            backend.name()
        );
    }
    let fmt = args.format.unwrap_or(match scene.file.output.format {
        Some(crate::scene::FormatName::Csv) => TableFormat::Csv,
        _ => TableFormat::Parquet,
    });
    Ok((backend, fmt))
}

/// An engine for `plan` holding the checkpoint's state, with the columns
/// of the parameters `set` replaced by the plan's values (the other
/// parameters stay as saved).
pub(super) fn restore_with_set(
    backend: &crate::backend::Backend,
    args: &ForkArgs,
    ck: &Checkpoint,
    plan: &crate::plan::Plan,
    set: &[(String, f64)],
) -> Result<Box<dyn crate::engine::Engine>> {
    let mut engine = backend.engine(plan, args.engine.batch_size)?;
    ck.restore(engine.as_mut())?;
    if !set.is_empty() {
        let np = plan.n_params();
        let fresh = plan.params_f32();
        let mut p = ck.params.clone();
        for (name, _) in set {
            let j = plan
                .block
                .index_of(name)
                .context("a parameter set is in the block")?;
            for i in 0..plan.members as usize {
                p[i * np + j] = fresh[i * np + j];
            }
        }
        engine.write_params(&p)?;
    }
    Ok(engine)
}
