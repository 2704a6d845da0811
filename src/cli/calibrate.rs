//! `vtwin calibrate SCENE --data DATA.csv --method abc-smc|tempered-smc|history-matching`
//! (or `--models A.toml,B.toml` for model choice): the flags, handed to
//! [`drivers::calibrate::run`](crate::drivers::calibrate::run), which
//! writes the run folder.

use super::EngineArgs;
use crate::drivers::calibrate::CalibrateRequest;
use crate::methods::calibrate::{AbcMode, Method};
use anyhow::Result;
use std::path::PathBuf;

/// Fit a scene's varying parameters to data (ABC-SMC, tempered SMC or
/// history matching), or choose between models (--models).
///
/// DATA.csv has the columns time, observable, location, value, sd (any
/// order, header required; `#` lines skipped). An empty location compares
/// a scene observable by name; `x;y` probes the named field at (x, y);
/// `x0;y0;x1;y1` averages the named field over the sites centred in that
/// block. Simulated values are read at the data times (interpolated
/// linearly between steps when a time is not a whole number of steps);
/// sd is the observation error (the scene's [calibrate.error] table picks
/// gaussian, relative or lognormal errors). Settings come from the
/// scene's [calibrate] table (see docs/exploration.md); the flags below
/// override it. The posterior is written so that `vtwin run SCENE
/// --posterior OUT` draws new ensembles from it.
#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// Scene file (TOML); its [parameters] are the prior.
    #[arg(required_unless_present = "models", conflicts_with = "models")]
    pub scene: Option<PathBuf>,
    /// Model choice: calibrate each scene against the same data and write
    /// posterior model probabilities (tempered-smc, or abc-smc in kernel mode).
    #[arg(long, value_delimiter = ',', value_name = "A.toml,B.toml", num_args = 1..)]
    pub models: Vec<PathBuf>,
    /// Observed data: time, observable, location, value, sd.
    #[arg(long, value_name = "DATA.csv")]
    pub data: PathBuf,
    /// Calibration method (default: the scene's `calibrate.method`).
    #[arg(long, value_enum)]
    pub method: Option<Method>,
    /// abc-smc: how simulations are compared with the data (default: the
    /// scene's `calibrate.abc.mode`, else kernel).
    #[arg(long, value_enum)]
    pub mode: Option<AbcMode>,
    /// Output folder (default: runs/<scene>-<timestamp>). Refused if it exists, unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Treatment arm to simulate (default: the first).
    #[arg(long)]
    pub arm: Option<String>,
    /// Seed of the method (overrides the scene's `calibrate.*.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// abc-smc, tempered-smc: particles per population.
    #[arg(long)]
    pub population: Option<usize>,
    /// abc-smc: most generations, counting the prior sample.
    #[arg(long)]
    pub generations: Option<usize>,
    /// abc-smc, tempered-smc: most simulations in all.
    #[arg(long)]
    pub max_simulations: Option<usize>,
    /// abc-smc: the last tolerance. Modes noisy and deterministic: stop
    /// once a generation is accepted at this distance (the Euclidean norm
    /// of (simulated − value)/sd over the data rows). Mode kernel: the last
    /// kernel bandwidth in units of the error model (default 1, the exact
    /// posterior).
    #[arg(long)]
    pub final_epsilon: Option<f64>,
    /// tempered-smc: Metropolis moves per temperature step.
    #[arg(long)]
    pub moves: Option<usize>,
    /// history-matching: number of waves.
    #[arg(long)]
    pub waves: Option<usize>,
    /// history-matching: simulator runs per wave.
    #[arg(long)]
    pub runs_per_wave: Option<usize>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: &CalibrateArgs) -> Result<()> {
    let req = CalibrateRequest {
        scene: args.scene.clone(),
        models: args.models.clone(),
        data: args.data.clone(),
        method: args.method,
        mode: args.mode,
        out: args.out.clone(),
        force: args.force,
        arm: args.arm.clone(),
        seed: args.seed,
        population: args.population,
        generations: args.generations,
        max_simulations: args.max_simulations,
        final_epsilon: args.final_epsilon,
        moves: args.moves,
        waves: args.waves,
        runs_per_wave: args.runs_per_wave,
        backend: args.engine.backend,
        adapter: args.engine.adapter.clone(),
        batch_size: args.engine.batch_size,
    };
    let done = crate::drivers::calibrate::run(&req, &mut super::Printer::new())?;
    println!("{}", done.dir.display());
    if let (true, Some(scene)) = (args.models.is_empty(), &args.scene) {
        eprintln!(
            "vtwin calibrate: posterior in {0}; draw a new ensemble with `vtwin run {1} --posterior {0}`",
            done.dir.display(),
            scene.display()
        );
    }
    super::report::print_summary("calibrate", &done.dir);
    Ok(())
}
