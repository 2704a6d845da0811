//! `vtwin run SCENE`: one plan, advanced to the end, written as a run
//! directory (params, observables, status, optional fields, agents and
//! montage, manifest), atomically.

use super::{EngineArgs, progress_bar};
use crate::io::montage::{MontageStyle, Panel};
use crate::io::{Disc, RunDir, TableFormat};
use crate::model::{AGENT_STATES, AGENT_TYPES};
use crate::plan::Plan;
use crate::record::{self, params_table};
use crate::scene::{FormatName, Scene};
use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnMemberError {
    /// Finish the other members and exit 0, reporting how many failed.
    Continue,
    /// Exit non-zero when any member failed (outputs are still written).
    Fail,
}

/// How the panels of `montage.png` are coloured.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MontageScale {
    /// One colour scale for every panel: equal colours are equal values.
    Shared,
    /// Each panel on its own range (printed under its label).
    PerPanel,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scene file (TOML).
    pub scene: PathBuf,
    /// Ensemble size (default: the scene's `ensemble.members`).
    #[arg(long)]
    pub members: Option<u32>,
    /// Seed (default: the scene's `ensemble.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder (default: runs/<scene>-<timestamp>). Refused if it exists, unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Table format (default: the scene's `output.format`, else parquet).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
    /// Also write the final fields (fields.npy) and montage.png.
    #[arg(long)]
    pub save_fields: bool,
    /// With --save-fields: also save the fields at every K-th observation
    /// (the first, every K-th after it and the last) as fields_t<step>.npy
    /// and montage_t<step>.png, a time-lapse.
    #[arg(long, value_name = "K")]
    pub every: Option<u32>,
    /// The field montage.png shows (default: the model's first field).
    #[arg(long, value_name = "NAME")]
    pub montage_field: Option<String>,
    /// One colour scale for all montage panels, or one per panel.
    #[arg(long, value_enum, default_value = "shared")]
    pub montage_scale: MontageScale,
    /// Treatment arm to simulate (default: the first); `all` runs every arm
    /// of the scene, the tables gaining a first column `arm`.
    #[arg(long)]
    pub arm: Option<String>,
    /// Draw members' parameters from a posterior directory (written by
    /// `vtwin calibrate`) instead of the scene's distributions.
    #[arg(long, value_name = "DIR")]
    pub posterior: Option<PathBuf>,
    /// What a diverged or saturated member means for the exit code.
    #[arg(long, value_enum, default_value = "continue")]
    pub on_member_error: OnMemberError,
    /// Take up to K steps per dispatch with the fused multi-step kernel
    /// (GPU backend; reaction-diffusion models whose kinetics read neither
    /// step nor time). Default: the single-step kernel.
    #[arg(long, value_name = "K")]
    pub fused: Option<u32>,
    /// Run only shard I of K (counted from 0) of the ensemble: members
    /// ⌊N·I/K⌋ .. ⌊N·(I+1)/K⌋, with their global indices (member m's results
    /// depend only on seed and m). Join the K shard folders with `vtwin merge`.
    #[arg(long, value_name = "I/K")]
    pub shard: Option<crate::shard::Shard>,
    /// Save a checkpoint (member states, parameters, statuses, step and the
    /// observations so far) every N steps into the run's temporary folder;
    /// an interrupted run continues with `vtwin resume OUT`, and the last
    /// checkpoint stays in the finished folder as checkpoint.vtc (for
    /// `vtwin fork`).
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn default_out(scene: &std::path::Path, what: &str) -> PathBuf {
    let stem = scene
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| what.into());
    PathBuf::from("runs").join(format!(
        "{stem}-{}",
        chrono::Local::now().format("%Y%m%d-%H%M%S")
    ))
}

/// What the montages of `--save-fields` show.
#[derive(Clone, Debug)]
pub struct MontageOptions {
    /// Index of the field shown.
    pub field: usize,
    pub scale: MontageScale,
    /// Members shown (the first ones).
    pub members: u32,
    /// Whether montages are drawn at all: a shard other than 0 writes only
    /// the arrays (shard 0's montage is the whole run's).
    pub draw: bool,
}

/// The index of the field called `name` among the model's fields, or an
/// error listing them; None gives the first field.
pub fn montage_field(plan: &Plan, name: Option<&str>) -> Result<usize> {
    let info = plan.model.info();
    let Some(name) = name else {
        return Ok(0);
    };
    info.fields
        .iter()
        .position(|f| f.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = info.fields.iter().map(|f| f.name.as_str()).collect();
            anyhow::anyhow!(
                "--montage-field `{name}`: model `{}` has no such field; its fields are: {}",
                info.kind,
                names.join(", ")
            )
        })
}

/// A snapshot's step as written in file names: zero-padded to the width of
/// the last step, so that names sort in time order.
pub fn step_tag(step: u64, last: u64) -> String {
    let width = last.to_string().len();
    format!("t{step:0width$}")
}

/// The snapshots of `--save-fields`: `fields<tag>.npy` (members × fields ×
/// ny × nx, only the field words of each member's state) and
/// `montage<tag>.png` of the first `opts.members` members, where `tag` is
/// empty for the final state and `_t<step>` for a time-lapse snapshot;
/// for the final state of a model with agents, also the `agents` table
/// (one row per agent of every member). Without `opts.draw` (a shard other
/// than 0) only the arrays and the agents table are written.
///
/// The montage (`io::annotated_montage`) labels each panel with its member
/// id and arm and has a colour bar naming the field and its unit. Grid
/// models show the chosen field in viridis; agent models show it in grey
/// with the agents drawn over it as discs coloured by `io::agent_colour`,
/// and a legend of those colours.
#[allow(clippy::too_many_arguments)] // the run's options, one snapshot
pub fn save_fields(
    dir: &RunDir,
    plan: &Plan,
    state: &[f32],
    opts: &MontageOptions,
    fmt: TableFormat,
    step: u64,
    tag: &str,
) -> Result<()> {
    let g = plan.model.grid();
    let (nx, ny) = (g.nx as usize, g.ny as usize);
    let fields = record::member_fields(plan, state);
    crate::io::write_npy_f32(
        &dir.file(&format!("fields{tag}.npy")),
        &[plan.members as usize, g.fields as usize, ny, nx],
        &fields,
    )?;
    let agents = record::member_agents(plan, state);
    if let Some(agents) = &agents
        && tag.is_empty()
    {
        dir.write_table(&record::agents_table(plan, agents), fmt)?;
    }
    if !opts.draw {
        return Ok(());
    }
    let shown = (opts.members.max(1) as usize).min(plan.members as usize);
    let (n, len) = (g.sites(), g.len());
    let at = opts.field * n;
    let cols = (shown as f64).sqrt().ceil() as usize;
    // About 256 pixels per panel (whole pixels per site).
    let scale = (256 / nx.max(ny)).max(1);
    let (discs, agents): (Vec<Vec<Disc>>, bool) = match agents {
        None => (vec![Vec::new(); shown], false),
        Some(agents) => {
            let inv_dx = 1.0 / g.dx as f32;
            let discs = agents[..shown]
                .iter()
                .map(|list| {
                    let mut drawn: Vec<(u8, Disc)> = list
                        .iter()
                        .map(|a| {
                            let (colour, layer) = crate::io::agent_colour(
                                record::code_name(&AGENT_TYPES, a.kind).unwrap_or(""),
                                record::code_name(&AGENT_STATES, a.state).unwrap_or(""),
                            );
                            let disc = Disc {
                                x: a.x * inv_dx,
                                y: a.y * inv_dx,
                                r: a.radius * inv_dx,
                                colour,
                            };
                            (layer, disc)
                        })
                        .collect();
                    // Stable: within a layer, pool order.
                    drawn.sort_by_key(|&(layer, _)| layer);
                    drawn.into_iter().map(|(_, d)| d).collect()
                })
                .collect();
            (discs, true)
        }
    };
    let panels: Vec<Panel> = (0..shown)
        .map(|m| Panel {
            field: &fields[m * len + at..m * len + at + n],
            label: format!("member {m} {}", plan.arm.name),
            discs: &discs[m],
        })
        .collect();
    let info = plan.model.info();
    let f = &info.fields[opts.field];
    let unit = if f.unit.is_empty() || f.unit == "1" {
        "dimensionless".to_string()
    } else {
        f.unit.clone()
    };
    let title = format!(
        "{} at step {step} (t = {} {}), {} colour scale",
        f.name,
        crate::io::montage::format_value(plan.model.time_at(step) as f32),
        info.time_unit,
        match opts.scale {
            MontageScale::Shared => "one",
            MontageScale::PerPanel => "per-panel",
        }
    );
    let bar_label = format!("{} ({unit})", f.name);
    let legend = [
        (crate::io::montage::LIVE_TUMOUR, "live tumour"),
        (crate::io::montage::LIVE_IMMUNE, "live immune"),
        (crate::io::montage::APOPTOTIC, "apoptotic"),
        (crate::io::montage::NECROTIC, "necrotic"),
    ];
    let ramp: fn(f32) -> [u8; 3] = if agents {
        crate::io::montage::grey
    } else {
        crate::io::colormap
    };
    let style = MontageStyle {
        nx,
        ny,
        cols,
        scale,
        shared: opts.scale == MontageScale::Shared,
        ramp,
        title: &title,
        bar_label: &bar_label,
        legend: if agents { &legend[..] } else { &[] },
    };
    let (lay, rgba) = crate::io::annotated_montage(&panels, &style);
    crate::io::write_png_rgba(
        &dir.file(&format!("montage{tag}.png")),
        lay.width as u32,
        lay.height as u32,
        &rgba,
    )?;
    Ok(())
}

/// One arm's simulation: its plan, recording and kernel note.
struct ArmRun {
    plan: Plan,
    rec: record::Recording,
    kernel: Option<serde_json::Value>,
}

fn simulate(
    args: &RunArgs,
    plan: Plan,
    backend: &crate::backend::Backend,
    dir: &RunDir,
    fields: Option<(&MontageOptions, TableFormat)>,
    ckpt: Option<&super::resume::Checkpoints>,
) -> Result<ArmRun> {
    let mut engine = backend.engine_with(
        &plan,
        &crate::backend::EngineOptions {
            batch_size: args.engine.batch_size,
            fused: args.fused,
            ..Default::default()
        },
    )?;
    let obs_steps = plan.observation_steps();
    let last = plan.steps;
    let snaps = match (fields, args.every) {
        (Some(_), Some(k)) => record::snapshot_indices(obs_steps.len(), k as usize),
        _ => Vec::new(),
    };
    let bar = progress_bar(plan.steps, "steps");
    let rec = super::resume::record_checkpointed(
        engine.as_mut(),
        ckpt,
        dir,
        &mut |s| bar.set_position(s),
        &mut |engine, k, step| -> Result<()> {
            if let Some((opts, fmt)) = fields
                && snaps.contains(&k)
            {
                let state = engine.read_state()?;
                save_fields(
                    dir,
                    &plan,
                    &state,
                    opts,
                    fmt,
                    step,
                    &format!("_{}", step_tag(step, last)),
                )?;
            }
            Ok(())
        },
    )
    .context("simulation failed")?;
    bar.finish_and_clear();
    if let Some((opts, fmt)) = fields {
        let state = engine.read_state()?;
        save_fields(dir, &plan, &state, opts, fmt, plan.steps, "")?;
    }
    let kernel = engine.kernel_note();
    drop(engine);
    Ok(ArmRun { plan, rec, kernel })
}

/// Adds `offset` to a table's `member` column: a shard's tables carry
/// global member indices, so the merged tables equal the unsharded ones.
pub fn shift_members(mut t: crate::table::Table, offset: i64) -> crate::table::Table {
    if offset != 0 {
        for c in t.columns.iter_mut().filter(|c| c.name == "member") {
            if let crate::table::Values::I64(v) = &mut c.values {
                for x in v.iter_mut().flatten() {
                    *x += offset;
                }
            }
        }
    }
    t
}

/// The plan of one arm of a run, or of shard I/K of it (members
/// ⌊N·I/K⌋..⌊N·(I+1)/K⌋ with `member_offset` = the first).
pub(crate) fn freeze_shard(scene: &Scene, args: &RunArgs, arm: Option<&str>) -> Result<Plan> {
    let Some(shard) = args.shard else {
        return super::freeze_plan(
            scene,
            args.members,
            args.seed,
            arm,
            args.posterior.as_deref(),
        );
    };
    let n = args.members.unwrap_or(scene.file.ensemble.members);
    if n == 0 {
        anyhow::bail!("--members must be at least 1");
    }
    crate::limits::check_members("--members", n as u64).map_err(anyhow::Error::msg)?;
    let range = shard.range(n as u64);
    if range.is_empty() {
        anyhow::bail!(
            "--shard {}/{}: this shard holds none of the {n} members; use at most {n} shards",
            shard.index,
            shard.count
        );
    }
    let save = args.save_fields || scene.file.output.save_fields;
    let shown = (scene.file.output.montage_members.max(1) as u64).min(n as u64);
    let first = shard_zero_end(shard, n as u64);
    if save && first < shown {
        anyhow::bail!(
            "--shard {}/{} with --save-fields: shard 0 would hold {first} members but the \
             montage shows the first {shown}; use at most {} shards or lower output.montage_members",
            shard.index,
            shard.count,
            (n as u64 / shown).max(1)
        );
    }
    let member_params = match args.posterior.as_deref() {
        Some(dir) => {
            let (_, post) = super::scene_posterior(dir, scene)?;
            let seed = args.seed.unwrap_or(scene.file.ensemble.seed);
            Some(
                range
                    .clone()
                    .map(|m| post.draw_member(seed, m as u32))
                    .collect(),
            )
        }
        None => None,
    };
    Ok(Plan::freeze(
        scene,
        &crate::plan::PlanOptions {
            members: Some((range.end - range.start) as u32),
            seed: args.seed,
            arm: arm.map(str::to_string),
            member_params,
            member_offset: range.start as u32,
        },
    )?)
}

/// End of shard 0's block of `n` members when split into `shard.count`.
fn shard_zero_end(shard: crate::shard::Shard, n: u64) -> u64 {
    crate::shard::Shard {
        index: 0,
        count: shard.count,
    }
    .range(n)
    .end
}

/// Returns the process exit code.
pub fn run(args: &RunArgs) -> Result<i32> {
    run_with(args, None)
}

/// `run`, or with `resume` the continuation of an interrupted run in its
/// kept temporary folder (`vtwin resume`). Returns the process exit code.
pub fn run_with(args: &RunArgs, resume: Option<&super::resume::Resume>) -> Result<i32> {
    let started = crate::manifest::now();
    let scene = Scene::load(&args.scene)?;
    // `--arm all`: every arm of the scene (an arm itself named `all` wins).
    let all = args.arm.as_deref() == Some("all") && scene.file.arms.iter().all(|a| a.name != "all");
    let arms: Vec<Option<&str>> = if all {
        let names: Vec<Option<&str>> = scene
            .file
            .arms
            .iter()
            .map(|a| Some(a.name.as_str()))
            .collect();
        if names.is_empty() { vec![None] } else { names }
    } else {
        vec![args.arm.as_deref()]
    };
    if all && args.shard.is_some() {
        anyhow::bail!(
            "--shard with --arm all is not supported: shard each arm with --arm NAME --shard I/K"
        );
    }
    let plans = arms
        .iter()
        .map(|arm| freeze_shard(&scene, args, *arm))
        .collect::<Result<Vec<Plan>>>()?;
    if !all {
        super::note_default_arm("run", &scene, args.arm.as_deref());
    }
    let save = args.save_fields || scene.file.output.save_fields;
    if args.every == Some(0) {
        anyhow::bail!("--every must be at least 1 (observations between snapshots)");
    }
    if args.every.is_some() && !save {
        anyhow::bail!("--every K saves fields every K observations: add --save-fields");
    }
    if all && save {
        anyhow::bail!(
            "--save-fields with --arm all is not supported yet: run each arm with --arm NAME --save-fields"
        );
    }
    let montage = MontageOptions {
        field: montage_field(&plans[0], args.montage_field.as_deref())?,
        scale: args.montage_scale,
        members: scene.file.output.montage_members,
        // A shard's montage would show its own first members: only shard 0
        // (which `freeze_shard` checked holds every member the whole run's
        // montage shows) draws it, so the merge can take it as it is.
        draw: args.shard.is_none_or(|s| s.index == 0),
    };
    if args.checkpoint_every == Some(0) {
        anyhow::bail!("--checkpoint-every must be at least 1 (steps between checkpoints)");
    }
    if all && args.checkpoint_every.is_some() {
        anyhow::bail!(
            "--checkpoint-every with --arm all is not supported yet: run each arm with --arm NAME"
        );
    }
    let backend = args.engine.open()?;
    let out = match (&args.out, resume) {
        (Some(o), _) => o.clone(),
        (None, Some(r)) => r.out.clone(),
        (None, None) => default_out(&args.scene, "run"),
    };
    let mut inputs = vec![args.scene.as_path()];
    inputs.extend(args.posterior.as_deref());
    let (dir, ckpt) = super::resume::checkpointed_dir(
        &out,
        args.force,
        &inputs,
        args.checkpoint_every,
        &plans[0],
        &backend,
        resume,
    )?;
    let fmt = args.format.unwrap_or(match scene.file.output.format {
        Some(FormatName::Csv) => TableFormat::Csv,
        _ => TableFormat::Parquet,
    });
    let plan = &plans[0];
    let arm_names: Vec<String> = plans.iter().map(|p| p.arm.name.clone()).collect();
    eprintln!(
        "vtwin run: {} ({}), {} members × {} steps, arm{} `{}`, backend {}{}",
        args.scene.display(),
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
    );
    if args.fused.is_some() && backend.name() == "cpu" {
        eprintln!("vtwin run: --fused applies to the GPU backend; the CPU backend ignores it");
    }
    let mut runs = Vec::new();
    for p in plans {
        if all {
            eprintln!("vtwin run: arm `{}`", p.arm.name);
        }
        runs.push(simulate(
            args,
            p,
            &backend,
            &dir,
            save.then_some((&montage, fmt)),
            ckpt.as_ref(),
        )?);
    }
    let first = &runs[0];
    if all {
        let stack = |name: &str, f: &dyn Fn(&ArmRun) -> crate::table::Table| {
            crate::table::Table::stack(
                name,
                "arm",
                runs.iter()
                    .map(|r| (r.plan.arm.name.clone(), f(r)))
                    .collect(),
            )
            .map_err(anyhow::Error::msg)
        };
        dir.write_table(&stack("params", &|r| params_table(&r.plan))?, fmt)?;
        dir.write_table(
            &stack("observables", &|r| r.rec.observables_table(&r.plan))?,
            fmt,
        )?;
        dir.write_table(&stack("status", &|r| r.rec.status_table())?, fmt)?;
    } else {
        let offset = i64::from(first.plan.member_offset);
        dir.write_table(&shift_members(params_table(&first.plan), offset), fmt)?;
        dir.write_table(
            &shift_members(first.rec.observables_table(&first.plan), offset),
            fmt,
        )?;
        dir.write_table(&shift_members(first.rec.status_table(), offset), fmt)?;
    }
    let failed: usize = runs.iter().map(|r| r.rec.failed()).sum();
    let descr: Vec<serde_json::Value> = first
        .plan
        .observables
        .describe()
        .into_iter()
        .map(|(n, u, d)| serde_json::json!({"name": n, "unit": u, "description": d}))
        .collect();
    let mut extra = serde_json::json!({
        "steps": first.plan.steps,
        "dt": first.plan.model.dt(),
        "time_unit": first.plan.model.info().time_unit,
        "format": fmt.extension(),
        "observables": descr,
        "posterior": args.posterior.as_ref().map(|p| p.display().to_string()),
        "kernel": first.kernel,
    });
    if all {
        extra["arms"] = serde_json::json!(arm_names);
    }
    extra["shard"] = serde_json::Value::Null;
    if let Some(s) = args.shard {
        let total = args.members.unwrap_or(scene.file.ensemble.members) as u64;
        let start = first.plan.member_offset as u64;
        extra["shard"] = crate::shard::manifest_json(
            crate::shard::ShardKind::Run,
            s,
            &(start..start + first.plan.members as u64),
            total,
        );
    }
    if save {
        let info = first.plan.model.info();
        extra["montage"] = serde_json::json!({
            "field": info.fields[montage.field].name,
            "scale": match montage.scale {
                MontageScale::Shared => "shared",
                MontageScale::PerPanel => "per-panel",
            },
            "every": args.every,
        });
    }
    if let Some(n) = args.checkpoint_every {
        extra["checkpoint_every"] = serde_json::json!(n);
    }
    crate::checkpoint::finalize(dir.path())?;
    let manifest = crate::manifest::for_plan(&first.plan, &backend, started, failed, extra);
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    let members = first.plan.members as usize * runs.len();
    if failed > 0 {
        let count = |name: &str| {
            runs.iter()
                .flat_map(|r| r.rec.status.iter())
                .filter(|s| s.name() == name)
                .count()
        };
        eprintln!(
            "vtwin run: {failed} of {members} members failed ({} diverged, {} saturated)",
            count("diverged"),
            count("saturated")
        );
        if args.on_member_error == OnMemberError::Fail {
            super::report::print_summary("run", &final_dir);
            return Ok(3);
        }
    } else {
        eprintln!(
            "vtwin run: all {members} members ok; outputs in {}",
            final_dir.display()
        );
    }
    super::report::print_summary("run", &final_dir);
    Ok(0)
}
