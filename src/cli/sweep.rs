//! `vtwin sweep SCENE --method M -n N`: a design over the scene's
//! parameter block run as one ensemble (member i = design row i), its
//! observables reduced to summaries and, for Saltelli and Morris designs,
//! analysed into sensitivity indices. Writes a run directory atomically:
//! `design.csv`, `outputs.csv`, `params.toml`, `indices.csv` (+
//! `indices_s2.csv`) or `morris.csv`, `manifest.json`.
//!
//! Owns: the command's arguments, the failure policy and the files. The
//! summaries and group dropping live in [`crate::sweep`], designs in
//! [`crate::design`], estimators in [`crate::sensitivity`].

use super::{EngineArgs, progress_bar};
use crate::design::{self, DesignMethod, DesignOptions};
use crate::io::TableFormat;
use crate::plan::{Plan, PlanOptions};
use crate::record;
use crate::scene::Scene;
use crate::sensitivity::Bootstrap;
use crate::sweep::{self, analysis};
use crate::table::{Table, Values};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;

/// Run a design over a scene's parameters as one ensemble and analyse it.
///
/// Member i runs design row i. Each observable OBS (all of them, or those
/// named with --outputs) gives the outputs OBS_final (value at the last
/// recorded step) and OBS_max (largest recorded value), plus OBS_t<THR>
/// for each --threshold OBS=THR: the time of the first upward crossing of
/// THR, linearly interpolated between recorded steps, empty when never
/// reached (such an output is left out of the indices, with a notice).
/// Saltelli designs give indices.csv (Sobol S1/ST per output and
/// parameter; indices_s2.csv with --second-order), Morris designs
/// morris.csv. A failed (diverged) member is an error unless --drop-failed,
/// which drops the failed members' whole base rows (Saltelli) or
/// trajectories (Morris) and analyses the rest.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// Scene file (TOML); its [parameters] (plus model defaults) span the design.
    pub scene: PathBuf,
    /// Design method.
    #[arg(long, value_enum)]
    pub method: DesignMethod,
    /// Rows (random, lhs, sobol), levels (grid), base size (saltelli) or trajectories (morris).
    #[arg(short = 'n', value_name = "N")]
    pub n: usize,
    /// Observables to summarise, comma-separated (default: every observable).
    #[arg(long, value_delimiter = ',', value_name = "OBS,...")]
    pub outputs: Vec<String>,
    /// Add the output OBS_t<VALUE>: time OBS first rises above VALUE (repeatable).
    #[arg(long = "threshold", value_name = "OBS=VALUE")]
    pub thresholds: Vec<String>,
    /// Output folder (default: runs/<scene>-<timestamp>). Refused if it exists, unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Seed of the design, the ensemble and the bootstrap (default: the scene's `ensemble.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Treatment arm to simulate (default: the first).
    #[arg(long)]
    pub arm: Option<String>,
    /// Span the design over a posterior's fitted parameter block (from
    /// `vtwin calibrate`) instead of the scene's distributions.
    #[arg(long, value_name = "DIR")]
    pub posterior: Option<PathBuf>,
    /// Analyse the members that ran, dropping failed members' design groups.
    #[arg(long)]
    pub drop_failed: bool,
    /// lhs: keep the most spread-out of 32 Latin hypercubes.
    #[arg(long)]
    pub maximin: bool,
    /// sobol, saltelli: Owen scrambling.
    #[arg(long)]
    pub scramble: bool,
    /// saltelli: add the rows for second-order indices.
    #[arg(long)]
    pub second_order: bool,
    /// morris: grid levels p, even (default 4).
    #[arg(long)]
    pub levels: Option<u32>,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = 1000)]
    pub resamples: usize,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95)]
    pub conf_level: f64,
    /// Run only shard I of K (counted from 0) of the design rows: rows
    /// ⌊R·I/K⌋ .. ⌊R·(I+1)/K⌋ as members with their global indices. A shard
    /// writes design.csv, outputs.csv and params.toml for its rows, no
    /// indices: `vtwin merge` joins the K shards and computes the indices
    /// from all rows.
    #[arg(long, value_name = "I/K")]
    pub shard: Option<crate::shard::Shard>,
    /// Save a checkpoint every N steps into the sweep's temporary folder;
    /// an interrupted sweep continues with `vtwin resume OUT`.
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: &SweepArgs) -> Result<()> {
    run_with(args, None)
}

/// `sweep`, or with `resume` the continuation of an interrupted one in
/// its kept temporary folder (`vtwin resume`).
pub fn run_with(args: &SweepArgs, resume: Option<&super::resume::Resume>) -> Result<()> {
    let started = crate::manifest::now();
    super::design::check_method_flags(
        args.method,
        args.maximin,
        args.scramble,
        args.second_order,
        args.levels,
    )?;
    let thresholds = args
        .thresholds
        .iter()
        .map(|t| sweep::parse_threshold(t))
        .collect::<Result<Vec<_>, _>>()?;
    let scene = Scene::load(&args.scene)?;
    let info = crate::models::info_for(&scene)?;
    let block = match &args.posterior {
        Some(dir) => super::scene_posterior(dir, &scene)?.1.block,
        None => crate::models::resolve_params(&scene, &info)?,
    };
    let seed = args.seed.unwrap_or(scene.file.ensemble.seed);
    let levels = args.levels.unwrap_or(DesignOptions::default().levels);
    let opts = DesignOptions {
        seed,
        maximin: args.maximin,
        scramble: args.scramble,
        second_order: args.second_order,
        levels,
    };
    let design = design::generate(&block, args.method, args.n, &opts).map_err(|e| {
        let from = match &args.posterior {
            Some(p) => format!("the posterior in {}", p.display()),
            None => format!("{} [parameters]", args.scene.display()),
        };
        anyhow::anyhow!("{from}: {e}")
    })?;
    super::note_default_arm("sweep", &scene, args.arm.as_deref());
    let rows = design.values.len() as u64;
    let range = match args.shard {
        Some(s) => s.range(rows),
        None => 0..rows,
    };
    if range.is_empty() {
        bail!(
            "--shard: this shard holds none of the design's {rows} rows; use at most {rows} shards"
        );
    }
    let (lo, hi) = (range.start as usize, range.end as usize);
    let plan = Plan::freeze(
        &scene,
        &PlanOptions {
            members: None,
            seed: Some(seed),
            arm: args.arm.clone(),
            member_params: Some(design.values[lo..hi].to_vec()),
            member_offset: lo as u32,
        },
    )?;
    let varied: Vec<String> = block
        .varying()
        .iter()
        .map(|&i| block.params[i].name.clone())
        .collect();
    super::warn_inert_params("sweep", &scene, &plan, &varied);
    let specs = sweep::summary_specs(&plan, &args.outputs, &thresholds)?;
    let backend = args.engine.open()?;
    let out = match (&args.out, resume) {
        (Some(o), _) => o.clone(),
        (None, Some(r)) => r.out.clone(),
        (None, None) => super::run::default_out(&args.scene, "sweep"),
    };
    let mut inputs = vec![args.scene.as_path()];
    inputs.extend(args.posterior.as_deref());
    let (dir, ckpt) = super::resume::checkpointed_dir(
        &out,
        args.force,
        &inputs,
        args.checkpoint_every,
        &plan,
        &backend,
        resume,
    )?;
    eprintln!(
        "vtwin sweep: {} ({}), --method {} -n {} → {} members over {} varying parameters, {} outputs, backend {}",
        args.scene.display(),
        info.kind,
        args.method.name(),
        args.n,
        plan.members,
        block.varying().len(),
        specs.len(),
        backend.name()
    );
    let mut engine = backend.engine(&plan, args.engine.batch_size)?;
    let bar = progress_bar(plan.steps, "steps");
    let rec = super::resume::record_checkpointed(
        engine.as_mut(),
        ckpt.as_ref(),
        &dir,
        &mut |s| bar.set_position(s),
        &mut |_, _, _| Ok(()),
    )
    .context("simulation failed")?;
    bar.finish_and_clear();

    let failed: Vec<bool> = rec.status.iter().map(|s| !s.is_ok()).collect();
    let n_failed = rec.failed();
    if n_failed > 0 {
        let first: Vec<String> = failed
            .iter()
            .enumerate()
            .filter(|(_, f)| **f)
            .take(5)
            .map(|(m, _)| m.to_string())
            .collect();
        let div = rec.status.iter().filter(|s| s.name() == "diverged").count();
        let what = format!(
            "{n_failed} of {} members failed ({div} diverged, {} saturated; members {}{})",
            plan.members,
            n_failed - div,
            first.join(", "),
            if n_failed > first.len() { ", …" } else { "" }
        );
        if !args.drop_failed {
            bail!(
                "{what}; nothing was written. Rerun with --drop-failed to analyse the members that ran, \
                 or narrow the parameter ranges (or reduce time.dt)"
            );
        }
        eprintln!("vtwin sweep: {what}; --drop-failed: analysing the rest");
    }

    let summaries = sweep::summarise(&rec, &plan, &specs);
    let out_names: Vec<String> = specs.iter().map(|s| s.name()).collect();
    let varying = block.varying();
    let param_names: Vec<String> = varying
        .iter()
        .map(|&i| block.params[i].name.clone())
        .collect();
    let bootstrap = Bootstrap {
        resamples: args.resamples,
        seed,
        conf_level: args.conf_level,
    };
    let offset = lo as i64;
    let mut part =
        Table::new("design").with_i64("member", (lo as i64..hi as i64).collect::<Vec<_>>());
    let shard_design = design::Design {
        unit: Vec::new(),
        values: design.values[lo..hi].to_vec(),
        method: design.method,
        base_n: design.base_n,
        second_order: design.second_order,
    };
    part.columns.extend(shard_design.to_table(&block).columns);
    dir.write_table(&part, TableFormat::Csv)?;
    dir.write_table(
        &super::run::shift_members(outputs_table(&rec, &out_names, &summaries), offset),
        TableFormat::Csv,
    )?;
    dir.write_bytes(
        "params.toml",
        crate::params_file::write_param_file(&block).as_bytes(),
    )?;
    let (skipped, groups) = match args.shard {
        // A shard analyses nothing: indices need every row (`vtwin merge`).
        Some(_) => (vec![], serde_json::Value::Null),
        None => write_analysis(
            &dir,
            &design,
            &param_names,
            &out_names,
            &summaries,
            &failed,
            levels,
            &bootstrap,
        )?,
    };
    let outputs: Vec<serde_json::Value> = specs
        .iter()
        .map(|s| {
            serde_json::json!({"name": s.name(), "unit": s.unit, "description": s.description()})
        })
        .collect();
    let manifest = crate::manifest::for_plan(
        &plan,
        &backend,
        started,
        n_failed,
        serde_json::json!({
            "command_kind": "sweep",
            "design": {
                "method": args.method.name(),
                "n": args.n,
                "rows": design.values.len(),
                "varying": param_names,
                "second_order": design.second_order,
                "levels": (args.method == DesignMethod::Morris).then_some(levels),
                "scramble": args.scramble,
                "maximin": args.maximin,
                "posterior": args.posterior.as_ref().map(|p| p.display().to_string()),
            },
            "steps": plan.steps,
            "dt": plan.model.dt(),
            "time_unit": plan.model.info().time_unit,
            "outputs_described": outputs,
            "drop_failed": args.drop_failed,
            "analysis": {
                "groups": groups,
                "skipped_outputs": skipped,
                "bootstrap": {"resamples": args.resamples, "conf_level": args.conf_level, "seed": seed},
            },
            "shard": args.shard.map(|s| crate::shard::manifest_json(
                crate::shard::ShardKind::Sweep, s, &range, rows,
            )),
        }),
    );
    crate::checkpoint::finalize(dir.path())?;
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    eprintln!(
        "vtwin sweep: {} members, {} failed; outputs in {}",
        plan.members,
        n_failed,
        final_dir.display()
    );
    if args.shard.is_none() {
        super::report::print_summary("sweep", &final_dir);
    }
    Ok(())
}

/// Sensitivity indices of a whole design (Saltelli: `indices.csv`, and
/// `indices_s2.csv` with second-order rows; Morris: `morris.csv`; nothing
/// for other designs) written into `dir`, with the notices a user owes.
/// Returns the manifest's `skipped_outputs` and `groups` records. Shared by
/// `vtwin sweep` and `vtwin merge` of sweep shards, so both write the same
/// bytes.
#[allow(clippy::too_many_arguments)]
pub fn write_analysis(
    dir: &crate::io::RunDir,
    design: &design::Design,
    param_names: &[String],
    out_names: &[String],
    summaries: &[Vec<Option<f64>>],
    failed: &[bool],
    levels: u32,
    bootstrap: &Bootstrap,
) -> Result<(Vec<serde_json::Value>, serde_json::Value)> {
    let analysis = analysis::analyse(
        design,
        param_names,
        out_names,
        summaries,
        failed,
        levels,
        bootstrap,
    )?;
    let mut skipped = vec![];
    let mut groups = serde_json::Value::Null;
    if let Some(a) = &analysis {
        dir.write_table(&a.table, TableFormat::Csv)?;
        if let Some(s2) = &a.s2 {
            dir.write_table(s2, TableFormat::Csv)?;
        }
        for (o, why) in &a.skipped {
            eprintln!(
                "vtwin sweep: output {o} left out of {}.csv: {why}",
                a.table.name
            );
        }
        if a.groups_dropped > 0 {
            eprintln!(
                "vtwin sweep: indices use {} of {} {} (dropped {} holding failed members)",
                a.groups_used,
                a.groups_used + a.groups_dropped,
                if design.method == DesignMethod::Morris {
                    "trajectories"
                } else {
                    "base rows"
                },
                a.groups_dropped
            );
        }
        skipped = a
            .skipped
            .iter()
            .map(|(o, r)| serde_json::json!({"output": o, "reason": r}))
            .collect();
        groups = serde_json::json!({"used": a.groups_used, "dropped": a.groups_dropped});
    }
    Ok((skipped, groups))
}

/// member, status, then one column per summary.
fn outputs_table(rec: &record::Recording, names: &[String], rows: &[Vec<Option<f64>>]) -> Table {
    let mut t = Table::new("outputs")
        .with_i64("member", (0..rec.members() as i64).collect::<Vec<_>>())
        .with_str(
            "status",
            rec.status
                .iter()
                .map(|s| s.name().to_string())
                .collect::<Vec<_>>(),
        );
    for (k, n) in names.iter().enumerate() {
        t.push_column(n.clone(), Values::F64(rows.iter().map(|r| r[k]).collect()));
    }
    t
}
