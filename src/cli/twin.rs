//! `vtwin twin SCENE`: a twin experiment (truth run, synthetic
//! observations, assimilation, free run, arm forecasts) written as a run
//! directory with `metrics.json`, `cycles`, `analysis`, `observations.csv`,
//! posterior, forecast, events, decision and predictability tables, and a
//! manifest: the flags, then [`drivers::twin`](crate::drivers::twin),
//! whose writer `vtwin assimilate` shares.

use super::EngineArgs;
use crate::drivers::twin::{self as driver, TwinRequest, WriteOptions};
use crate::engine::backend::Backend;
use crate::input::scene::MethodName;
use crate::methods::twin::{Options, Setup};
use crate::output::io::TableFormat;
use anyhow::Result;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub use crate::drivers::twin::Resumable;

/// Filter options shared by `twin` and `assimilate` (defaults: the scene's
/// `[assimilation]` section, then docs/assimilation.md).
#[derive(clap::Args, Debug, Clone)]
pub struct FilterArgs {
    /// Analysis method.
    #[arg(long, value_enum)]
    pub method: Option<MethodName>,
    /// Ensemble size (default: the scene's `ensemble.members`).
    #[arg(long)]
    pub members: Option<u32>,
    /// Multiplicative inflation of the analysis anomalies (default 1).
    #[arg(long)]
    pub inflation: Option<f64>,
    /// LETKF: distance at which the Gaspari–Cohn taper equals e^(−1/2).
    #[arg(long)]
    pub loc_radius: Option<f64>,
    /// ETKF/LETKF: mean-preserving random rotation after each analysis.
    #[arg(long)]
    pub rotate: bool,
    /// PF: resample when the effective sample size drops below this fraction of N.
    #[arg(long)]
    pub resample_threshold: Option<f64>,
    /// PF: regularisation factor h of the jitter bandwidth h·N^(−1/(M+4)).
    #[arg(long)]
    pub jitter: Option<f64>,
    /// Seed (default: the scene's `ensemble.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl FilterArgs {
    pub fn options(&self, cycles: Option<u64>) -> Options {
        Options {
            method: self.method,
            members: self.members,
            inflation: self.inflation,
            loc_radius: self.loc_radius,
            rotate: self.rotate,
            resample_threshold: self.resample_threshold,
            jitter: self.jitter,
            cycles,
            seed: self.seed,
        }
    }
}

/// Output options shared by `twin` and `assimilate`.
#[derive(clap::Args, Debug, Clone)]
pub struct OutArgs {
    /// Output folder (default: runs/<scene>-<timestamp>). Refused if it exists, unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Table format (default: the scene's `output.format`, else parquet).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
}

#[derive(clap::Args, Debug)]
pub struct TwinArgs {
    /// Scene file (TOML) with an [assimilation] section.
    pub scene: PathBuf,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Analysis cycles, burn-in included (default: the scene's `assimilation.cycles`).
    #[arg(long)]
    pub cycles: Option<u64>,
    /// Save a checkpoint every N analyses into the run's temporary folder;
    /// an interrupted twin continues with `vtwin resume OUT`.
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    #[command(flatten)]
    pub output: OutArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

impl OutArgs {
    pub fn options(&self) -> WriteOptions {
        let (out, force, format) = (self.out.clone(), self.force, self.format);
        WriteOptions { out, force, format }
    }
}

pub fn run(args: &TwinArgs) -> Result<i32> {
    run_with(args, None)
}

/// `twin`, or with `resume` the continuation of an interrupted one in its
/// kept temporary folder (`vtwin resume`).
pub fn run_with(args: &TwinArgs, resume: Option<&super::resume::Resume>) -> Result<i32> {
    let req = TwinRequest {
        scene: args.scene.clone(),
        filter: args.filter.options(args.cycles),
        checkpoint_every: args.checkpoint_every,
        output: args.output.options(),
        backend: args.engine.backend,
        adapter: args.engine.adapter.clone(),
        batch_size: args.engine.batch_size,
    };
    let dir = driver::run(&req, resume, &mut super::Printer::new())?.dir;
    println!("{}", dir.display());
    super::report::print_summary("twin", &dir);
    Ok(0)
}

/// [`drivers::twin::execute`](crate::drivers::twin::execute), shared by `assimilate`.
#[allow(clippy::too_many_arguments)] // the command's parts, one call each from twin and assimilate
pub fn execute(
    setup: &Setup,
    backend: &Backend,
    engine: &EngineArgs,
    output: &OutArgs,
    inputs: &[&Path],
    twin: bool,
    extra: Value,
    resumable: Resumable<'_>,
) -> Result<i32> {
    let kind = extra["command_kind"].as_str().unwrap_or("twin").to_string();
    let (out, obs) = (output.options(), &mut super::Printer::new());
    let batch = engine.batch_size;
    let done = driver::execute(
        setup, backend, batch, &out, inputs, twin, extra, resumable, obs,
    )?;
    println!("{}", done.dir.display());
    super::report::print_summary(&kind, &done.dir);
    Ok(0)
}
