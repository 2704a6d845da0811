//! The `vtwin` command: parses arguments and dispatches to `vtwin::cli`.

use clap::{Parser, Subcommand};
use vtwin::cli;

#[derive(Parser)]
#[command(
    name = "vtwin",
    version,
    about = "GPU ensemble engine for virtual-tissue digital twins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scene's ensemble to the end and write a run directory.
    Run(cli::run::RunArgs),
    /// Continue an interrupted `run --checkpoint-every` from its last checkpoint (DIR = its --out).
    Resume(cli::resume::ResumeArgs),
    /// Continue a checkpoint under another arm or with parameters set: a what-if from a saved state.
    Fork(cli::fork::ForkArgs),
    /// Run the verification suite (known answers, analytic solutions, GPU–CPU agreement).
    Verify(cli::verify::VerifyArgs),
    /// Validate a scene and print the resolved plan without running it.
    Check(cli::info::CheckArgs),
    /// List every model with its parameters and observables.
    Models,
    /// Generate a design (random, lhs, sobol, grid, saltelli, morris) over a parameter file.
    Design(cli::design::DesignArgs),
    /// Sensitivity indices (Sobol, Morris) from a design and outputs of any simulator.
    Analyze(cli::analyze::AnalyzeArgs),
    /// Twin experiment: truth run, synthetic observations, assimilation, free run, arm forecasts.
    Twin(cli::twin::TwinArgs),
    /// Assimilate an observation file into a scene's ensemble and forecast every arm.
    Assimilate(cli::assimilate::AssimilateArgs),
    /// Run a design over a scene's parameters as one ensemble; summaries and sensitivity indices.
    Sweep(cli::sweep::SweepArgs),
    /// Fit a scene's parameters to data (abc-smc or history-matching); writes a posterior.
    Calibrate(cli::calibrate::CalibrateArgs),
    /// List GPU adapters with the limits and features vtwin uses.
    Adapters,
    /// Simulate a synthetic cohort: virtual patients under every arm, with an
    /// observation model, outcomes and plausibility (scene `[cohort]`).
    Cohort(cli::cohort::CohortArgs),
    /// Join the shard folders of a run, sweep or cohort (`--shard I/K`) into the unsharded result.
    Merge(cli::merge::MergeArgs),
    /// Write (and with --submit, submit) a Slurm job array running shard I/K of a run, sweep or
    /// cohort per task, plus a merge job that depends on it.
    Slurm(cli::slurm::SlurmArgs),
    /// Drift and bias report between two cohorts or a cohort and a table.
    Compare(cli::compare::CompareArgs),
    /// Score forecasts (assimilate --forecast-at) against outcomes: MAE, RMSE, CRPS,
    /// coverage, PIT, per patient, with a last-value-carried-forward baseline.
    Score(cli::score::ScoreArgs),
    /// Pick a virtual population matching a target distribution.
    Select(cli::select::SelectArgs),
    /// Benchmarks: RD kernels, scaling over members, peers' problem (JSON with --json).
    Bench(cli::bench::BenchArgs),
    /// Memory, batches and projected run time of a scene, from a short probe.
    Estimate(cli::estimate::EstimateArgs),
    /// One self-contained HTML page of figures (and PNGs) for any output folder or bench report.
    Report(cli::report::ReportArgs),
}

/// Gives headless machines an `XDG_RUNTIME_DIR` (the Vulkan loader warns
/// without one). Runs first thing in `main`, while the process has a single
/// thread, which is what makes `set_var` sound; library code never sets
/// environment variables.
fn default_runtime_dir() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir();
        // SAFETY: no other thread exists yet (nothing has been spawned
        // before this first statement of `main`), so no one can read the
        // environment concurrently.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir) };
    }
}

fn main() {
    default_runtime_dir();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(a) => cli::run::run(a),
        Command::Resume(a) => cli::resume::run(a),
        Command::Fork(a) => cli::fork::run(a),
        Command::Verify(a) => cli::verify::run(a),
        Command::Check(a) => cli::info::check(a).map(|_| 0),
        Command::Models => {
            cli::info::models();
            Ok(0)
        }
        Command::Design(a) => cli::design::run(a).map(|_| 0),
        Command::Analyze(a) => cli::analyze::run(a).map(|_| 0),
        Command::Twin(a) => cli::twin::run(a),
        Command::Assimilate(a) => cli::assimilate::run(a),
        Command::Sweep(a) => cli::sweep::run(a).map(|_| 0),
        Command::Calibrate(a) => cli::calibrate::run(a).map(|_| 0),
        Command::Adapters => cli::info::adapters().map(|_| 0),
        Command::Cohort(a) => cli::cohort::run(a),
        Command::Merge(a) => cli::merge::run(a).map(|_| 0),
        Command::Slurm(a) => cli::slurm::run(a).map(|_| 0),
        Command::Compare(a) => cli::compare::run(a).map(|_| 0),
        Command::Score(a) => cli::score::run(a).map(|_| 0),
        Command::Select(a) => cli::select::run(a).map(|_| 0),
        Command::Bench(a) => cli::bench::run(a).map(|_| 0),
        Command::Estimate(a) => cli::estimate::run(a).map(|_| 0),
        Command::Report(a) => cli::report::run(a).map(|_| 0),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            let mut src = e.source();
            while let Some(s) = src {
                eprintln!("  caused by: {s}");
                src = s.source();
            }
            std::process::exit(2);
        }
    }
}
