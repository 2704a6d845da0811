//! `vtwin cohort SCENE --patients N --out DIR`: a synthetic cohort (or one
//! shard of it) simulated under every arm and written as a cohort folder
//! (tables, data dictionary, scene copy, RO-Crate, manifest), atomically:
//! the flags, then [`drivers::cohort`](crate::drivers::cohort).

use super::EngineArgs;
use crate::drivers::cohort::CohortRequest;
use crate::methods::cohort::merge::Shard;
use crate::output::io::TableFormat;
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct CohortArgs {
    /// Scene file (TOML) with a [cohort] section (docs/cohort.md).
    pub scene: PathBuf,
    /// Virtual patients in the whole cohort (all shards together), 1 to 2³².
    #[arg(long)]
    pub patients: u64,
    /// Output folder. Refused if it exists, unless --force.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Seed (default: the scene's `ensemble.seed`). Everything about patient
    /// i depends only on (scene, seed, i).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write only shard I of K (counted from 0: `0/2` and `1/2` make a
    /// whole); the shard holds patients ⌊N·I/K⌋ .. ⌊N·(I+1)/K⌋. Join shard
    /// folders with `vtwin merge`.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Table format (default: the scene's `output.format`, else parquet).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
    /// Patients per engine plan: bounds memory and sets how often progress
    /// moves; never changes results.
    #[arg(long, default_value_t = 2048)]
    pub chunk: usize,
    /// Also write each patient's observed visits (assigned arm) as a long
    /// observation file, the noiseless values and a fit/held-out split
    /// (`[cohort.export]`, docs/cohort.md). Not with --shard.
    #[arg(long)]
    pub export_obs: bool,
    /// Save a checkpoint every N steps of each simulation (one per arm and
    /// chunk of patients) into the cohort's temporary folder; an
    /// interrupted cohort continues with `vtwin resume OUT`.
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Returns the process exit code.
pub fn run(args: &CohortArgs) -> Result<i32> {
    run_with(args, None)
}

impl CohortArgs {
    /// The driver's request for these flags.
    pub fn request(&self) -> CohortRequest {
        CohortRequest {
            scene: self.scene.clone(),
            patients: self.patients,
            out: self.out.clone(),
            force: self.force,
            seed: self.seed,
            shard: self.shard,
            format: self.format,
            chunk: self.chunk,
            export_obs: self.export_obs,
            checkpoint_every: self.checkpoint_every,
            backend: self.engine.backend,
            adapter: self.engine.adapter.clone(),
            batch_size: self.engine.batch_size,
        }
    }
}

/// `cohort`, or with `resume` the continuation of an interrupted one in
/// its kept temporary folder (`vtwin resume`).
pub fn run_with(args: &CohortArgs, resume: Option<&super::resume::Resume>) -> Result<i32> {
    let done = crate::drivers::cohort::run(&args.request(), resume, &mut super::Printer::new())?;
    let dir = &done.dir;
    println!("{}", dir.display());
    eprintln!(
        "vtwin cohort: {} patients ({} plausible) written to {}",
        done.count,
        done.plausible,
        dir.display()
    );
    if let Some(c) = &done.exported {
        eprintln!(
            "vtwin cohort: exported {} observed visits of {} series ({} missing, {} censored); \
             fit {} / held out {} rows ({} series too short to split)",
            c.visits,
            c.series,
            c.missing,
            c.censored,
            c.fit_rows,
            c.heldout_rows,
            c.series_too_short
        );
    }
    if done.failed_sims > 0 {
        eprintln!(
            "vtwin cohort: {} simulations of {} patients diverged or saturated; \
             those patients are marked implausible and their outputs are NaN from the failure on",
            done.failed_sims, done.failed_patients
        );
    }
    super::report::print_summary("cohort", dir);
    Ok(0)
}
