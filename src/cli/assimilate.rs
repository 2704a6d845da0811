//! `vtwin assimilate SCENE --obs OBS.csv`: assimilates real observations
//! (no truth known) and forecasts every arm; writes `analysis`, `cycles`,
//! `posterior` (with summaries), `forecast`, `events`, `decision` and a
//! manifest (which carries the observation file's SHA-256).
//!
//! With a `patient` column, an empty `sd` or `--forecast-at`, the run is a
//! patient run instead (docs/patients.md): one block of members per
//! patient in one engine, tables `patients`, `analysis`, `posterior` and,
//! with `--forecast-at`, the wide `forecast` table.

use super::EngineArgs;
use super::twin::{FilterArgs, OutArgs, execute};
use crate::assim::obs_file::{ObsRecord, read_obs_file, read_patient_obs};
use crate::io::TableFormat;
use crate::scene::{FormatName, Scene};
use crate::twin::Setup;
use crate::twin::patients::{self, PopulationPrior, tables};
use crate::twin::setup::ObsSource;
use anyhow::{Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

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
    pub shard: Option<crate::shard::Shard>,
    /// Single-ensemble runs: save a checkpoint every N analyses into the
    /// run's temporary folder; an interrupted run continues with
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

/// `assimilate`, or with `resume` the continuation of an interrupted
/// single-ensemble run in its kept temporary folder (`vtwin resume`).
pub fn run_with(args: &AssimilateArgs, resume: Option<&super::resume::Resume>) -> Result<i32> {
    let scene = Scene::load(&args.scene)?;
    let (records, has_patient) = read_patient_obs(&args.obs)?;
    let any_empty_sd = records.iter().any(|r| r.sd.is_none());
    if has_patient || any_empty_sd || args.forecast_at.is_some() {
        if args.checkpoint_every.is_some() {
            anyhow::bail!(
                "--checkpoint-every applies to single-ensemble runs, not yet to patient runs \
                 (split a long patient run with --shard instead)"
            );
        }
        return run_patients(args, &scene, &records);
    }
    if args.shard.is_some() {
        anyhow::bail!(
            "--shard splits the patients of a patient run (docs/patients.md); {} has no \
             patient column, so this is one ensemble and cannot be sharded",
            args.obs.display()
        );
    }
    // The single-ensemble run, exactly as before patient files existed.
    let records = read_obs_file(&args.obs)?;
    let setup = Setup::new(
        &scene,
        &args.filter.options(args.cycles),
        ObsSource::File(&args.obs, &records),
    )?;
    if scene.file.assimilation.is_none() {
        eprintln!("{}", no_section_warning(&args.scene));
    }
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
        super::twin::Resumable {
            every: args.checkpoint_every,
            resume,
        },
    )
}

/// The `--forecast-at` file's SHA-256 (shards must share it).
fn requests_sha(args: &AssimilateArgs) -> Result<Option<String>> {
    args.forecast_at
        .as_deref()
        .map(crate::io::sha256_file)
        .transpose()
        .map_err(Into::into)
}

fn no_section_warning(scene: &Path) -> String {
    format!(
        "vtwin assimilate: warning: {} has no [assimilation] section: only the state is \
         analysed (no parameter is estimated) with the default filter; see docs/assimilation.md",
        scene.display()
    )
}

/// The default quantile levels of the forecast table.
pub const LEVELS: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

fn levels(extra: &[f64]) -> Result<Vec<f64>> {
    let mut out = LEVELS.to_vec();
    for &q in extra {
        if !(q > 0.0 && q < 1.0) {
            anyhow::bail!("--quantiles: levels must lie in (0, 1), got {q}");
        }
        if !out.iter().any(|l| (l - q).abs() < 1e-12) {
            out.push(q);
        }
    }
    Ok(out)
}

fn run_patients(
    args: &AssimilateArgs,
    scene: &Scene,
    records: &[crate::assim::obs_file::PatientRecord],
) -> Result<i32> {
    let levels = levels(&args.quantiles)?;
    let plain: Vec<ObsRecord> = records.iter().map(|r| r.record.clone()).collect();
    let mut opts = args.filter.options(None);
    opts.cycles = None;
    if args.cycles.is_some() {
        anyhow::bail!("--cycles applies to single-ensemble runs, not to patient runs");
    }
    let setup = Setup::new(scene, &opts, ObsSource::File(&args.obs, &plain))?;
    if scene.file.assimilation.is_none() {
        eprintln!("{}", no_section_warning(&args.scene));
    }
    let patients = patients::patients(&args.obs, records, &setup.plan, &setup.section)?;
    let requests = match &args.forecast_at {
        Some(f) => patients::read_requests(f, &setup.plan, &patients)?,
        None => Vec::new(),
    };
    let kind = PopulationPrior::parse(&args.population_prior)
        .context("--population-prior: expected none, pooled or leave-one-out")?;
    let events = match &args.events {
        Some(f) => Some(patients::read_patient_events(f, &patients)?),
        None => None,
    };
    let block = super::assimilate_shard::Block::new(args.shard, patients, requests)?;
    let (patients, requests) = (&block.patients, &block.requests);
    if args.shard.is_some() && kind != PopulationPrior::None {
        anyhow::bail!(
            "--shard cannot be combined with --population-prior {}: a learned prior needs every \
             patient's first pass; run the population prior unsharded",
            kind.name()
        );
    }
    let backend = args.engine.open()?;
    let started = crate::manifest::now();
    let mut inputs: Vec<&Path> = vec![&args.scene, &args.obs];
    inputs.extend(args.forecast_at.as_deref());
    inputs.extend(args.events.as_deref());
    let out_dir = args
        .output
        .out
        .clone()
        .unwrap_or_else(|| super::run::default_out(&args.scene, "assimilate"));
    let dir = super::create_run_dir(&out_dir, args.output.force, &inputs)?;
    let fmt = args
        .output
        .format
        .unwrap_or(match setup.scene.file.output.format {
            Some(FormatName::Csv) => TableFormat::Csv,
            _ => TableFormat::Parquet,
        });
    eprintln!(
        "vtwin assimilate: {} patients × {} members ({} {}), {} readings, {} forecast requests, backend {}",
        patients.len(),
        setup.members,
        setup.plan.model.info().kind,
        setup.filter.method.name(),
        records.len(),
        requests.len(),
        backend.name()
    );
    let bar = super::progress_bar(0, "stops");
    let opts = patients::RunOptions {
        levels: &levels,
        priors: None,
        events: events.as_ref(),
        first: block.first,
    };
    let out = patients::run_population(
        &setup,
        &backend,
        args.engine.batch_size,
        patients,
        requests,
        opts,
        kind,
        &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64)
        },
    )
    .context("assimilation failed")?;
    bar.finish_and_clear();
    dir.write_table(&tables::patients_table(&out), fmt)?;
    dir.write_table(&tables::analysis_table(&out), fmt)?;
    if !out.posterior.is_empty() {
        dir.write_table(&tables::posterior_table(&out), fmt)?;
    }
    if args.forecast_at.is_some() {
        dir.write_table(&tables::forecast_table(&out, &levels), fmt)?;
        if args.members_out {
            dir.write_table(&tables::members_table(&out), fmt)?;
        }
    }
    let failed: Vec<&str> = out
        .patients
        .iter()
        .filter(|p| p.failed.is_some())
        .map(|p| p.name.as_str())
        .collect();
    let replaced: usize = out.patients.iter().map(|p| p.replaced).sum();
    let censored: usize = out.patients.iter().map(|p| p.censored).sum();
    eprintln!(
        "vtwin assimilate: {} patients ok, {} failed{}; {replaced} members replaced; {censored} censored readings",
        out.patients.len() - failed.len(),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                failed
                    .iter()
                    .take(10)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    for p in out.patients.iter().filter(|p| p.failed.is_some()).take(10) {
        if let Some((t, why)) = &p.failed {
            eprintln!("  patient {:?} failed at time {t}: {why}", p.name);
        }
    }
    print_posterior(&out);
    let extra = json!({
        "command_kind": "assimilate",
        "observations": {
            "path": args.obs.display().to_string(),
            "sha256": crate::io::sha256_file(&args.obs)?,
            "records": records.len(),
        },
        "patients": {
            "count": out.patients.len(),
            "members_per_patient": setup.members,
            "failed": failed.len(),
            "replaced_members": replaced,
            "censored_readings": censored,
            "forecast_requests": requests.len(),
            "quantiles": levels,
            "population_prior": kind.name(),
            "learned_priors": out.prior_from.iter().filter(|p| p.is_some()).count(),
            "events": match &args.events {
                Some(f) => json!({
                    "path": f.display().to_string(),
                    "sha256": crate::io::sha256_file(f)?,
                }),
                None => serde_json::Value::Null,
            },
        },
        "format": fmt.extension(),
        "time_unit": setup.plan.model.info().time_unit,
    });
    let mut extra = extra;
    if let Some(shard) = args.shard {
        block.write_rows(&dir, &out, setup.plan.model.dt())?;
        extra["shard"] = block.manifest_json(shard, args, requests_sha(args)?);
    }
    let manifest = crate::manifest::for_plan(&out.plan, &backend, started, 0, extra);
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    Ok(0)
}

/// Prints, per estimated parameter, the prior and the spread of patients'
/// posterior medians, and warns when posteriors pile up at a bound.
fn print_posterior(out: &patients::PatientOutput) {
    let mut names: Vec<&str> = Vec::new();
    for r in &out.posterior {
        if !names.contains(&r.param.as_str()) {
            names.push(&r.param);
        }
    }
    for name in names {
        let rows: Vec<_> = out
            .posterior
            .iter()
            .filter(|r| r.param == name && out.patients[r.patient].failed.is_none())
            .collect();
        let Some(first) = out.posterior.iter().find(|r| r.param == name) else {
            continue;
        };
        let mut med: Vec<f64> = rows
            .iter()
            .map(|r| r.median)
            .filter(|v| v.is_finite())
            .collect();
        med.sort_by(f64::total_cmp);
        let q = |p: f64| {
            if med.is_empty() {
                f64::NAN
            } else {
                med[((med.len() - 1) as f64 * p).round() as usize]
            }
        };
        let (p, lo, hi) = first.prior;
        eprintln!(
            "  {name}: prior median {p:.4} [{lo:.4}, {hi:.4}]; posterior medians over {} patients: median {:.4} [5 %: {:.4}, 95 %: {:.4}]",
            rows.len(),
            q(0.5),
            q(0.05),
            q(0.95)
        );
        let (blo, bhi) = first.bounds;
        let width = if (bhi - blo).is_finite() {
            bhi - blo
        } else {
            f64::INFINITY
        };
        // Within 1 % of the bounds' range of a finite bound, measured on a
        // log scale when both bounds are positive (log-scale parameters span
        // decades); with one bound infinite, within 1 % of the finite bound's
        // magnitude (a log-scale parameter's bound 0 is never approached).
        let log = blo > 0.0 && bhi.is_finite();
        let near = |m: f64, b: f64| {
            b.is_finite()
                && if log {
                    m > 0.0 && (m.ln() - b.ln()).abs() <= 0.01 * (bhi / blo).ln()
                } else if width.is_finite() {
                    (m - b).abs() <= 0.01 * width
                } else {
                    b != 0.0 && (m - b).abs() <= 0.01 * b.abs()
                }
        };
        let at_bound = rows
            .iter()
            .filter(|r| near(r.median, blo) || near(r.median, bhi))
            .count();
        if at_bound > 0 {
            eprintln!(
                "  warning: {name}: the posterior median of {at_bound} patient(s) lies within 1 % of a bound [{blo}, {bhi}]: widen the prior or the bounds"
            );
        }
    }
}
