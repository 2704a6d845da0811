//! `vtwin score FORECAST_DIR --truth TRUTH.csv [--obs OBS.csv] [--json FILE]`:
//! scores the wide forecast table of `vtwin assimilate --forecast-at`
//! against held-out outcomes (MAE/RMSE of `mean` and `q50`, CRPS, 50 %/90 %
//! coverage, PIT histogram, per patient and overall) with the
//! last-value-carried-forward baseline from the observation file. Prints a
//! short table; `--json` writes everything. Methods: docs/scoring.md.

use crate::methods::score;
use anyhow::Result;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// Folder holding forecast.parquet or forecast.csv (or that file itself).
    pub forecast_dir: PathBuf,
    /// Outcomes: CSV (or .parquet) with columns patient, time, observable, value.
    #[arg(long)]
    pub truth: PathBuf,
    /// The patients' observation file (patient, time, observable, location,
    /// value, sd) for the last-value-carried-forward baseline.
    #[arg(long)]
    pub obs: Option<PathBuf>,
    /// Also write the full report (per patient, PIT, counts) as JSON; `-` for stdout.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Replace an existing --json file (never one of the inputs).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &ScoreArgs) -> Result<()> {
    let forecast_path = score::forecast_path(&args.forecast_dir)?;
    if let Some(path) = args.json.as_deref().filter(|p| *p != Path::new("-")) {
        let mut inputs: Vec<&Path> = vec![forecast_path.as_path(), args.truth.as_path()];
        inputs.extend(args.obs.as_deref());
        super::check_output_file(path, args.force, &inputs)?;
    }
    let forecast = score::read_forecast(&forecast_path)?;
    let truth = score::read_truth(&args.truth)?;
    let obs = args.obs.as_deref().map(score::read_obs).transpose()?;
    let obs_name = args.obs.as_ref().map(|p| p.display().to_string());
    let report = score::score(
        &forecast,
        &args.truth.display().to_string(),
        &truth,
        obs_name.as_deref().zip(obs.as_ref()),
    );
    if report.counts.unscorable > 0 {
        eprintln!(
            "vtwin score: warning: {} matched rows have an empty or non-finite mean, sd or quantile and are not scored (e.g. {})",
            report.counts.unscorable,
            report.counts.examples_unscorable.join("; ")
        );
    }
    if report.counts.forecast_without_truth > 0 || report.counts.truth_without_forecast > 0 {
        eprintln!(
            "vtwin score: warning: {} forecasts have no outcome, {} outcomes have no forecast (listed in --json)",
            report.counts.forecast_without_truth, report.counts.truth_without_forecast
        );
    }
    if args.json.as_deref() != Some(Path::new("-")) {
        println!("vtwin score: {}", forecast_path.display());
        print!("{}", score::render_text(&report));
    }
    if let Some(path) = &args.json {
        super::write_json_out(path, &serde_json::to_value(&report)?)?;
        if path != Path::new("-") {
            eprintln!("vtwin score: report written to {}", path.display());
        }
    }
    Ok(())
}
