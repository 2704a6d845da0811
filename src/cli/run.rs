//! `vtwin run SCENE`: one plan, advanced to the end, written as a run
//! directory (params, observables, status, optional fields, agents and
//! montage, manifest), atomically.

use super::{EngineArgs, progress_bar};
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
    /// Also write final fields (fields.npy) and montage.png.
    #[arg(long)]
    pub save_fields: bool,
    /// Treatment arm to simulate (default: the first).
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

/// The final-state snapshots of `--save-fields`: `fields.npy` (members ×
/// fields × ny × nx, only the field words of each member's state),
/// `montage.png` of the first `montage_members` members and, for a model
/// with agents, the `agents` table (one row per agent of every member).
/// Grid models get the viridis field montage of their first field; agent
/// models get agent panels (`io::montage`: field 0 in grey, agents as
/// discs coloured by `io::agent_colour`).
fn save_fields(
    dir: &RunDir,
    plan: &Plan,
    state: &[f32],
    montage_members: u32,
    fmt: TableFormat,
    montage: bool,
) -> Result<()> {
    let g = plan.model.grid();
    let (nx, ny) = (g.nx as usize, g.ny as usize);
    let fields = record::member_fields(plan, state);
    crate::io::write_npy_f32(
        &dir.file("fields.npy"),
        &[plan.members as usize, g.fields as usize, ny, nx],
        &fields,
    )?;
    let agents = record::member_agents(plan, state);
    if let Some(agents) = &agents {
        dir.write_table(&record::agents_table(plan, agents), fmt)?;
    }
    if !montage {
        return Ok(());
    }
    let shown = (montage_members.max(1) as usize).min(plan.members as usize);
    let (n, len) = (g.sites(), g.len());
    let firsts: Vec<&[f32]> = (0..shown).map(|m| &fields[m * len..m * len + n]).collect();
    let cols = (shown as f64).sqrt().ceil() as usize;
    // About 256 pixels per panel (whole pixels per site).
    let scale = (256 / nx.max(ny)).max(1);
    let (w, h, rgba) = match agents {
        None => crate::io::field_montage(&firsts, nx, ny, cols, scale),
        Some(agents) => {
            let inv_dx = 1.0 / g.dx as f32;
            let discs: Vec<Vec<Disc>> = agents[..shown]
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
            crate::io::agent_montage(&firsts, &discs, nx, ny, cols, scale)
        }
    };
    crate::io::write_png_rgba(&dir.file("montage.png"), w, h, &rgba)?;
    Ok(())
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

/// The plan of a run, or of shard I/K of it (members ⌊N·I/K⌋..⌊N·(I+1)/K⌋
/// with `member_offset` = the first), and (shard, N) when sharded.
fn freeze_shard(
    scene: &Scene,
    args: &RunArgs,
) -> Result<(Plan, Option<(crate::shard::Shard, u64)>)> {
    let Some(shard) = args.shard else {
        let plan = super::freeze_plan(
            scene,
            args.members,
            args.seed,
            args.arm.as_deref(),
            args.posterior.as_deref(),
        )?;
        return Ok((plan, None));
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
    let plan = Plan::freeze(
        scene,
        &crate::plan::PlanOptions {
            members: Some((range.end - range.start) as u32),
            seed: args.seed,
            arm: args.arm.clone(),
            member_params,
            member_offset: range.start as u32,
        },
    )?;
    Ok((plan, Some((shard, n as u64))))
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
    let started = crate::manifest::now();
    let scene = Scene::load(&args.scene)?;
    let (plan, shard) = freeze_shard(&scene, args)?;
    super::note_default_arm("run", &scene, args.arm.as_deref());
    let backend = args.engine.open()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.scene, "run"));
    let mut inputs = vec![args.scene.as_path()];
    inputs.extend(args.posterior.as_deref());
    let dir = super::create_run_dir(&out, args.force, &inputs)?;
    let fmt = args.format.unwrap_or(match scene.file.output.format {
        Some(FormatName::Csv) => TableFormat::Csv,
        _ => TableFormat::Parquet,
    });
    eprintln!(
        "vtwin run: {} ({}), {} members × {} steps, arm `{}`, backend {}{}",
        args.scene.display(),
        plan.model.info().kind,
        plan.members,
        plan.steps,
        plan.arm.name,
        backend.name(),
        backend
            .adapter()
            .map(|a| format!(" on {} ({})", a.name, a.backend))
            .unwrap_or_default()
    );
    if args.fused.is_some() && backend.name() == "cpu" {
        eprintln!("vtwin run: --fused applies to the GPU backend; the CPU backend ignores it");
    }
    let mut engine = backend.engine_with(
        &plan,
        &crate::gpu::engine::GpuOptions {
            batch_size: args.engine.batch_size,
            fused: args.fused,
            ..Default::default()
        },
    )?;
    let bar = progress_bar(plan.steps, "steps");
    let rec = record::record(engine.as_mut(), &mut |s| bar.set_position(s))
        .context("simulation failed")?;
    bar.finish_and_clear();
    let offset = i64::from(plan.member_offset);
    dir.write_table(&shift_members(params_table(&plan), offset), fmt)?;
    dir.write_table(&shift_members(rec.observables_table(&plan), offset), fmt)?;
    dir.write_table(&shift_members(rec.status_table(), offset), fmt)?;
    if args.save_fields || scene.file.output.save_fields {
        let state = engine.read_state()?;
        // A shard's montage would show its own first members: only shard 0
        // (which `freeze_shard` checked holds every member the whole run's
        // montage shows) draws it, so the merge can take it as it is.
        let montage = shard.as_ref().is_none_or(|(s, _)| s.index == 0);
        save_fields(
            &dir,
            &plan,
            &state,
            scene.file.output.montage_members,
            fmt,
            montage,
        )?;
    }
    let failed = rec.failed();
    let descr: Vec<serde_json::Value> = plan
        .observables
        .describe()
        .into_iter()
        .map(|(n, u, d)| serde_json::json!({"name": n, "unit": u, "description": d}))
        .collect();
    let manifest = crate::manifest::for_plan(
        &plan,
        &backend,
        started,
        failed,
        serde_json::json!({
            "steps": plan.steps,
            "dt": plan.model.dt(),
            "time_unit": plan.model.info().time_unit,
            "format": fmt.extension(),
            "observables": descr,
            "posterior": args.posterior.as_ref().map(|p| p.display().to_string()),
            "kernel": engine.kernel_note(),
            "shard": shard.as_ref().map(|(s, total)| crate::shard::manifest_json(
                crate::shard::ShardKind::Run,
                *s,
                &(plan.member_offset as u64..plan.member_offset as u64 + plan.members as u64),
                *total,
            )),
        }),
    );
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    if failed > 0 {
        let count = |name: &str| rec.status.iter().filter(|s| s.name() == name).count();
        eprintln!(
            "vtwin run: {failed} of {} members failed ({} diverged, {} saturated)",
            plan.members,
            count("diverged"),
            count("saturated")
        );
        if args.on_member_error == OnMemberError::Fail {
            super::report::print_summary("run", &final_dir);
            return Ok(3);
        }
    } else {
        eprintln!(
            "vtwin run: all {} members ok; outputs in {}",
            plan.members,
            final_dir.display()
        );
    }
    super::report::print_summary("run", &final_dir);
    Ok(0)
}
