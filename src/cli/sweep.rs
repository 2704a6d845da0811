//! `vtwin sweep SCENE --method M -n N`: the command's arguments, handed to
//! [`drivers::sweep::run`](crate::drivers::sweep::run), which runs the
//! design as one ensemble and writes the run directory.

use super::EngineArgs;
use crate::drivers::sweep::SweepRequest;
use crate::methods::design::DesignMethod;
use crate::methods::sweep::parse_threshold;
use anyhow::Result;
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
    pub shard: Option<crate::drivers::shard::Shard>,
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
    super::design::check_method_flags(
        args.method,
        args.maximin,
        args.scramble,
        args.second_order,
        args.levels,
    )?;
    let thresholds = args.thresholds.iter().map(|t| parse_threshold(t));
    let thresholds = thresholds.collect::<Result<Vec<_>, _>>()?;
    let out = super::out_dir(&args.out, resume, &args.scene, "sweep");
    let req = SweepRequest {
        scene: args.scene.clone(),
        method: args.method,
        n: args.n,
        outputs: args.outputs.clone(),
        thresholds,
        out,
        force: args.force,
        seed: args.seed,
        arm: args.arm.clone(),
        posterior: args.posterior.clone(),
        drop_failed: args.drop_failed,
        maximin: args.maximin,
        scramble: args.scramble,
        second_order: args.second_order,
        levels: args.levels,
        resamples: args.resamples,
        conf_level: args.conf_level,
        shard: args.shard,
        checkpoint_every: args.checkpoint_every,
        backend: args.engine.backend,
        adapter: args.engine.adapter.clone(),
        batch_size: args.engine.batch_size,
    };
    let done = crate::drivers::sweep::run(&req, resume, &mut super::Printer::new())?;
    println!("{}", done.dir.display());
    eprintln!(
        "vtwin sweep: {} members, {} failed; outputs in {}",
        done.members,
        done.failed,
        done.dir.display()
    );
    if args.shard.is_none() {
        super::report::print_summary("sweep", &done.dir);
    }
    Ok(())
}
