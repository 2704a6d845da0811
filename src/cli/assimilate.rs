//! `vtwin assimilate SCENE --obs OBS.csv`: assimilates real observations
//! (no truth known) and forecasts every arm; writes `analysis`, `cycles`,
//! `posterior` (with summaries), `forecast`, `events`, `decision` and a
//! manifest (which carries the observation file's SHA-256).

use super::EngineArgs;
use super::twin::{FilterArgs, OutArgs, execute};
use crate::assim::obs_file::read_obs_file;
use crate::scene::Scene;
use crate::twin::Setup;
use crate::twin::setup::ObsSource;
use anyhow::Result;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct AssimilateArgs {
    /// Scene file (TOML).
    pub scene: PathBuf,
    /// Observation file: CSV with columns time, observable, location, value, sd.
    #[arg(long)]
    pub obs: PathBuf,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Assimilate only the first K observation times.
    #[arg(long)]
    pub cycles: Option<u64>,
    #[command(flatten)]
    pub output: OutArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: &AssimilateArgs) -> Result<i32> {
    let scene = Scene::load(&args.scene)?;
    let records = read_obs_file(&args.obs)?;
    let setup = Setup::new(
        &scene,
        &args.filter.options(args.cycles),
        ObsSource::File(&args.obs, &records),
    )?;
    let backend = args.engine.open()?;
    let extra = json!({
        "command_kind": "assimilate",
        "observations": {
            "path": args.obs.display().to_string(),
            "sha256": crate::io::sha256_file(&args.obs)?,
            "records": records.len(),
        },
    });
    execute(
        &setup,
        &backend,
        &args.engine,
        &args.output,
        &[&args.scene, &args.obs],
        false,
        extra,
    )
}
