//! `vtwin calibrate SCENE --data DATA.csv --method abc-smc|history-matching`:
//! fits the scene's varying parameters to data on the engine and writes a
//! run directory atomically: the method's tables, `targets.csv`, the
//! posterior (`posterior.csv` + `posterior.toml`, readable by every
//! `--posterior DIR`) and `manifest.json`.
//!
//! Owns: arguments, settings (the scene's `[calibrate]` table with
//! command-line overrides), progress and files. The drivers live in
//! [`crate::calibrate`], the engine bridge in [`crate::fit`].

use super::{EngineArgs, progress_bar};
use crate::calibrate::summary::summary_table;
use crate::calibrate::{
    self, CalibrateConfig, CalibrateError, Method, ProgressEvent, data, run_abc_smc,
    run_history_matching, write_posterior,
};
use crate::fit::{EngineSimulator, Target, attach_targets};
use crate::io::TableFormat;
use crate::plan::{Plan, PlanOptions};
use crate::scene::Scene;
use crate::table::Table;
use anyhow::{Result, bail};
use std::path::PathBuf;

/// A calibration method.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodArg {
    /// ABC-SMC: sequential Monte Carlo approximate Bayesian computation
    /// with adaptive tolerances; writes every generation's particles and
    /// weights and the weighted posterior.
    AbcSmc,
    /// History matching: waves of Gaussian-process emulators ruling out
    /// implausible parameter space; writes the fraction ruled out per wave
    /// and the non-implausible sample.
    HistoryMatching,
}

impl MethodArg {
    fn method(self) -> Method {
        match self {
            MethodArg::AbcSmc => Method::AbcSmc,
            MethodArg::HistoryMatching => Method::HistoryMatching,
        }
    }
}

/// Fit a scene's varying parameters to data (ABC-SMC or history matching).
///
/// DATA.csv has the columns time, observable, location, value, sd (any
/// order, header required; `#` lines skipped). An empty location compares
/// a scene observable by name; `x;y` probes the named field at (x, y);
/// `x0;y0;x1;y1` averages the named field over the sites centred in that
/// block. Simulated values are read at the data times (interpolated
/// linearly between steps when a time is not a whole number of steps);
/// sd is the observation error. Settings come from the scene's
/// [calibrate] table (see docs/exploration.md); the flags below override
/// it. The posterior is written so that `vtwin run SCENE --posterior OUT`
/// draws new ensembles from it.
#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// Scene file (TOML); its [parameters] are the prior.
    pub scene: PathBuf,
    /// Observed data: time, observable, location, value, sd.
    #[arg(long, value_name = "DATA.csv")]
    pub data: PathBuf,
    /// Calibration method (default: the scene's `calibrate.method`).
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// Output folder (default: runs/<scene>-<timestamp>). Refused if it exists, unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Treatment arm to simulate (default: the first).
    #[arg(long)]
    pub arm: Option<String>,
    /// Seed of the method (overrides `calibrate.abc.seed` / `calibrate.history_matching.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// abc-smc: particles per generation.
    #[arg(long)]
    pub population: Option<usize>,
    /// abc-smc: most generations, counting the prior sample.
    #[arg(long)]
    pub generations: Option<usize>,
    /// abc-smc: most simulations in all.
    #[arg(long)]
    pub max_simulations: Option<usize>,
    /// abc-smc: stop once a generation is accepted at this tolerance (the
    /// distance is the Euclidean norm of (simulated − value)/sd over the
    /// data rows; the truth stays within √(χ²_rows 95 % quantile) with
    /// probability 95 %, e.g. 5.128 for 16 rows).
    #[arg(long)]
    pub final_epsilon: Option<f64>,
    /// history-matching: number of waves.
    #[arg(long)]
    pub waves: Option<usize>,
    /// history-matching: simulator runs per wave.
    #[arg(long)]
    pub runs_per_wave: Option<usize>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// The settings in force: the scene's table (errors located in the scene),
/// then the flags.
fn settings(args: &CalibrateArgs, scene: &Scene) -> Result<(Method, CalibrateConfig)> {
    let mut cfg = scene.file.calibrate.clone().unwrap_or_default();
    cfg.validate().map_err(|e| match e {
        CalibrateError::Config { key, message } => {
            anyhow::Error::new(scene.error_at(&format!("calibrate.{key}"), message))
        }
        other => other.into(),
    })?;
    let Some(method) = args.method.map(MethodArg::method).or(cfg.method) else {
        bail!(
            "no calibration method: pass --method {} or set `method` in the scene's [calibrate] table",
            Method::NAMES.join("|")
        );
    };
    let abc_only = [
        ("--population", args.population.is_some()),
        ("--generations", args.generations.is_some()),
        ("--max-simulations", args.max_simulations.is_some()),
        ("--final-epsilon", args.final_epsilon.is_some()),
    ];
    let hm_only = [
        ("--waves", args.waves.is_some()),
        ("--runs-per-wave", args.runs_per_wave.is_some()),
    ];
    let (wrong, other) = match method {
        Method::AbcSmc => (&hm_only[..], "history-matching"),
        Method::HistoryMatching => (&abc_only[..], "abc-smc"),
    };
    if let Some((flag, _)) = wrong.iter().find(|(_, set)| *set) {
        bail!("{flag} applies only to --method {other}, not --method {method}");
    }
    let a = &mut cfg.abc;
    a.population = args.population.unwrap_or(a.population);
    a.max_generations = args.generations.unwrap_or(a.max_generations);
    a.max_simulations = args.max_simulations.unwrap_or(a.max_simulations);
    a.final_epsilon = args.final_epsilon.unwrap_or(a.final_epsilon);
    a.seed = args.seed.unwrap_or(a.seed);
    let h = &mut cfg.history_matching;
    h.waves = args.waves.unwrap_or(h.waves);
    h.runs_per_wave = args.runs_per_wave.unwrap_or(h.runs_per_wave);
    h.seed = args.seed.unwrap_or(h.seed);
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("after the command-line overrides: {e}"))?;
    Ok((method, cfg))
}

/// line, time, observable, location, value, sd: how each data row was read.
fn targets_table(targets: &[Target]) -> Table {
    Table::new("targets")
        .with_i64("line", targets.iter().map(|t| t.line as i64))
        .with_f64("time", targets.iter().map(|t| t.time))
        .with_str("observable", targets.iter().map(|t| t.observable.clone()))
        .with_str(
            "location",
            targets.iter().map(|t| data::location_field(&t.location)),
        )
        .with_f64("value", targets.iter().map(|t| t.value))
        .with_f64("sd", targets.iter().map(|t| t.sd))
}

pub fn run(args: &CalibrateArgs) -> Result<()> {
    let started = crate::manifest::now();
    let scene = Scene::load(&args.scene)?;
    let (method, cfg) = settings(args, &scene)?;
    let records = data::read_data(&args.data)?;
    let mut plan = Plan::freeze(
        &scene,
        &PlanOptions {
            members: Some(1),
            seed: None,
            arm: args.arm.clone(),
            member_params: None,
            ..Default::default()
        },
    )?;
    let targets = attach_targets(&mut plan, &records, &args.data)?;
    let prior = plan.block.clone();
    let backend = args.engine.open()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| super::run::default_out(&args.scene, "calibrate"));
    let dir = super::create_run_dir(&out, args.force, &[&args.scene, &args.data])?;
    eprintln!(
        "vtwin calibrate: {} ({}), {method} on {} data rows from {} over {} varying parameters, \
         observed every {} steps, backend {}",
        args.scene.display(),
        plan.model.info().kind,
        targets.len(),
        args.data.display(),
        prior.varying().len(),
        plan.every,
        backend.name()
    );
    dir.write_table(&targets_table(&targets), TableFormat::Csv)?;
    let manifest_plan = plan.clone();
    let mut sim = EngineSimulator::new(&backend, plan, targets, args.engine.batch_size);
    let (observed, sd) = sim.observed();
    let output_names: Vec<String> = sim
        .targets()
        .iter()
        .map(|t| format!("{}@t{}", t.observable, t.time))
        .collect();
    let (tables, posterior, method_json) = match method {
        Method::AbcSmc => {
            let c = &cfg.abc;
            let bar = progress_bar(c.max_generations as u64, "generations");
            let res = run_abc_smc(&prior, &mut sim, &observed, &sd, c, &mut |e| {
                if let ProgressEvent::AbcGeneration {
                    generation,
                    epsilon,
                    simulated_total,
                    acceptance_rate,
                    ess,
                } = e
                {
                    bar.set_position(generation as u64 + 1);
                    bar.suspend(|| {
                        eprintln!(
                            "  generation {generation}: ε = {epsilon:.4}, acceptance {:.1} %, ESS {ess:.0}, {simulated_total} simulations",
                            100.0 * acceptance_rate
                        )
                    });
                }
            })?;
            bar.finish_and_clear();
            eprintln!(
                "vtwin calibrate: stopped after {} generations ({}), {} simulations",
                res.generations.len(),
                res.stop.name(),
                res.simulations
            );
            let noise_level = noise_epsilon(observed.len());
            if res.last().epsilon < noise_level {
                eprintln!(
                    "vtwin calibrate: note: the final tolerance ε = {:.3} is below {noise_level:.3}, the distance the \
                     true parameters stay within with 95 % probability for {} rows with the stated sd's (√ of the \
                     χ² 95 % quantile); the simulator adds no observation noise, so the sample is narrower than the \
                     set consistent with the data and may exclude the truth. Set --final-epsilon {noise_level:.3} \
                     (or calibrate.abc.final_epsilon) to stop at the noise level",
                    res.last().epsilon,
                    observed.len()
                );
            }
            let json = serde_json::json!({
                "generations": res.generations.len(),
                "stop": res.stop.name(),
                "simulations": res.simulations,
                "final_epsilon": res.last().epsilon,
                "settings": {
                    "population": c.population, "batch_size": c.effective_batch(), "alpha": c.alpha,
                    "final_epsilon": c.final_epsilon, "max_generations": c.max_generations,
                    "max_simulations": c.max_simulations, "kernel_scale": c.kernel_scale,
                    "min_acceptance_rate": c.min_acceptance_rate, "seed": c.seed,
                },
            });
            (res.tables(), res.posterior()?, json)
        }
        Method::HistoryMatching => {
            let c = &cfg.history_matching;
            let bar = progress_bar(c.waves as u64, "waves");
            let mut res = run_history_matching(&prior, &mut sim, &observed, &sd, c, &mut |e| {
                if let ProgressEvent::HmWave {
                    wave,
                    runs,
                    failed,
                    fraction_ruled_out,
                } = e
                {
                    bar.set_position(wave as u64);
                    bar.suspend(|| {
                        eprintln!(
                            "  wave {wave}: {runs} runs ({failed} failed), {:.2} % of the prior ruled out",
                            100.0 * fraction_ruled_out
                        )
                    });
                }
            })?;
            bar.finish_and_clear();
            res.output_names = output_names.clone();
            let post = res.posterior()?;
            let json = serde_json::json!({
                "waves": res.waves.len(),
                "fraction_ruled_out": res.waves.iter().map(|w| w.fraction_ruled_out).collect::<Vec<_>>(),
                "non_implausible_samples": res.nroy.len(),
                "settings": {
                    "waves": c.waves, "runs_per_wave": c.effective_runs(prior.varying().len()),
                    "cutoff": c.cutoff, "second_max": c.second_max,
                    "discrepancy_fraction": c.discrepancy_fraction, "mc_samples": c.mc_samples,
                    "nroy_samples": c.nroy_samples, "seed": c.seed,
                },
            });
            let mut t = res.tables();
            t.push(summary_table(&post.summary()));
            (t, post, json)
        }
    };
    for t in &tables {
        dir.write_table(t, TableFormat::Csv)?;
    }
    write_posterior(dir.path(), &posterior)?;
    let stats = sim.stats;
    print_summary(&prior, &posterior);
    if stats.unstable + stats.failed > 0 {
        eprintln!(
            "vtwin calibrate: {} of {} parameter vectors failed ({} unstable for dt, {} diverged); they count as rejected",
            stats.unstable + stats.failed,
            stats.rows,
            stats.unstable,
            stats.failed
        );
    }
    let manifest = crate::manifest::for_plan(
        &manifest_plan,
        &backend,
        started,
        stats.failed + stats.unstable,
        serde_json::json!({
            "command_kind": "calibrate",
            "method": method.name(),
            "data": {"path": args.data.display().to_string(), "rows": records.len()},
            "members": stats.rows,
            "ensemble_runs": stats.batches,
            "unstable": stats.unstable,
            "observe_every": manifest_plan.every,
            "calibration": method_json,
            "posterior": {"draws": posterior.draws.len(), "ess": posterior.ess()},
        }),
    );
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    eprintln!(
        "vtwin calibrate: posterior in {0}; draw a new ensemble with `vtwin run {1} --posterior {0}`",
        final_dir.display(),
        args.scene.display()
    );
    Ok(())
}

/// √ of the χ² 95 % quantile with `rows` degrees of freedom: with
/// independent Gaussian errors of the stated sd's, the distance of the
/// true parameters' simulation from the data stays below this with
/// probability 95 % (the distance² is χ²-distributed with `rows` degrees of
/// freedom).
pub fn noise_epsilon(rows: usize) -> f64 {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    ChiSquared::new(rows.max(1) as f64)
        .map(|c| c.inverse_cdf(0.95).sqrt())
        .unwrap_or((rows as f64).sqrt())
}

/// Prior vs posterior, per varying parameter, on stderr.
fn print_summary(prior: &crate::params::ParamBlock, post: &calibrate::Posterior) {
    let varying = prior.varying();
    eprintln!(
        "  {:<12} {:>12} {:>12} {:>12} {:>12}",
        "parameter", "mean", "sd", "q05", "q95"
    );
    for s in post.summary() {
        if varying.iter().any(|&i| prior.params[i].name == s.name) {
            eprintln!(
                "  {:<12} {:>12.5e} {:>12.5e} {:>12.5e} {:>12.5e}",
                s.name, s.mean, s.sd, s.q05, s.q95
            );
        }
    }
}

#[cfg(test)]
mod tests {
    /// χ² 95 % quantiles from tables: 16 dof 26.296, 1 dof 3.841.
    #[test]
    fn noise_epsilon_is_the_chi2_quantile() {
        assert!((super::noise_epsilon(16) - 26.296f64.sqrt()).abs() < 1e-3);
        assert!((super::noise_epsilon(1) - 3.841f64.sqrt()).abs() < 1e-3);
    }
}
