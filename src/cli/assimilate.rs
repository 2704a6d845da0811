//! `vtwin assimilate SCENE --obs OBS.csv`: the arguments, then
//! `drivers::assimilate` (single-ensemble runs are written by the twin's
//! writer, `twin::execute`; patient runs by the driver; docs/patients.md).

use super::EngineArgs;
use super::twin::{FilterArgs, OutArgs, Resumable, execute};
use crate::drivers::assimilate::{self as driver, Hooks, Prepared, Request};
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct AssimilateArgs {
    /// Scene file (TOML).
    pub scene: PathBuf,
    /// Observation file: CSV with columns time, observable, location, value,
    /// sd and optionally patient (sd may then be empty).
    #[arg(long)]
    pub obs: PathBuf,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Assimilate only the first K observation times.
    #[arg(long)]
    pub cycles: Option<u64>,
    /// Forecast requests: CSV with columns patient, time[, observable];
    /// writes the wide predictive table `forecast` (docs/patients.md).
    #[arg(long)]
    pub forecast_at: Option<PathBuf>,
    /// Extra quantile levels of the forecast table, e.g. 0.025,0.975.
    #[arg(long, value_delimiter = ',')]
    pub quantiles: Vec<f64>,
    /// Also write every member's forecast (`forecast_members`).
    #[arg(long)]
    pub members_out: bool,
    /// Prior of each patient's estimated parameters: the scene's (`none`),
    /// or learned from a first pass over every patient (`pooled`) or over
    /// every other patient (`leave-one-out`); docs/patients.md.
    #[arg(long, default_value = "none", value_parser = ["none", "pooled", "leave-one-out"])]
    pub population_prior: String,
    /// Treatment events of patient runs: CSV with columns patient, time,
    /// species, amount (docs/patients.md).
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Patient runs: assimilate only shard I of K (counted from 0) of the
    /// patients, in the order they first appear in the observation file
    /// (patients ⌊N·I/K⌋ .. ⌊N·(I+1)/K⌋); join shard folders with
    /// `vtwin merge`. A patient's results never depend on the shard.
    #[arg(long)]
    pub shard: Option<crate::drivers::shard::Shard>,
    /// Save a checkpoint every N analyses (single-ensemble runs) or every
    /// N stops (patient runs with --population-prior none) into the run's
    /// temporary folder; an interrupted run continues with
    /// `vtwin resume OUT`.
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    #[command(flatten)]
    pub output: OutArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: &AssimilateArgs) -> Result<i32> {
    run_with(args, None)
}

/// The driver's request: the parsed arguments (the output folder
/// defaulted).
pub fn request(args: &AssimilateArgs) -> Request {
    Request {
        scene: args.scene.clone(),
        obs: args.obs.clone(),
        filter: args.filter.options(None),
        cycles: args.cycles,
        forecast_at: args.forecast_at.clone(),
        quantiles: args.quantiles.clone(),
        members_out: args.members_out,
        population_prior: args.population_prior.clone(),
        events: args.events.clone(),
        shard: args.shard,
        checkpoint_every: args.checkpoint_every,
        out: args
            .output
            .out
            .clone()
            .unwrap_or_else(|| super::run::default_out(&args.scene, "assimilate")),
        force: args.output.force,
        format: args.output.format,
        batch_size: args.engine.batch_size,
    }
}

/// `assimilate`, or with `resume` the continuation of an interrupted run
/// (single-ensemble or patient) in its kept temporary folder
/// (`vtwin resume`).
pub fn run_with(args: &AssimilateArgs, resume: Option<&super::resume::Resume>) -> Result<i32> {
    let req = request(args);
    let prepared = driver::prepare(&req, &mut |m| eprintln!("{m}"))?;
    let backend = args.engine.open()?;
    match prepared {
        Prepared::Single(single) => execute(
            &single.setup,
            &backend,
            &args.engine,
            &args.output,
            &[&args.scene, &args.obs],
            false,
            single.extra,
            Resumable {
                every: single.checkpoint_every,
                resume,
            },
        ),
        Prepared::Patients(job) => {
            let bar = super::progress_bar(0, "stops");
            let dir = driver::run_patients(
                &job,
                &backend,
                Hooks {
                    progress: &mut |done, total| {
                        bar.set_length(total as u64);
                        bar.set_position(done as u64)
                    },
                    finished: &mut || bar.finish_and_clear(),
                    log: &mut |m| eprintln!("{m}"),
                },
                resume
                    .map(|r| driver::ResumeFrom {
                        temp: r.temp.clone(),
                        invocation: r.invocation.clone(),
                    })
                    .as_ref(),
            )?;
            println!("{}", dir.display());
            Ok(0)
        }
    }
}
