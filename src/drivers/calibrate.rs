//! `vtwin calibrate`: fits a scene's varying parameters to data on the
//! engine and writes a run folder atomically: the method's tables,
//! `targets.csv`, the posterior (`posterior.csv` + `posterior.toml`,
//! readable by every `--posterior DIR`), the posterior predictive check
//! (`predictive.csv`, `predictive_summary.csv`) and `manifest.json`. With
//! several models, each model's calibration goes to a subfolder named
//! after its scene and `model_choice.csv` holds the posterior model
//! probabilities.
//!
//! Owns: settings (the scene's `[calibrate]` table with the request's
//! overrides), warnings, progress and files. The methods live in
//! [`crate::methods::calibrate`], the engine bridge in [`crate::methods::fit`].

use super::calibrate_manifest::{
    AbcSmcNote, Calibration, ErrorModelNote, HistoryMatchingNote, HmSettings, MethodBlock,
    PredictiveNote, TemperedSettings, TemperedSmcNote,
};
use super::job::{Error, Observer, Result, create_run_dir, default_out};
use crate::core::plan::{Plan, PlanOptions};
use crate::drivers::manifest::PlanManifest;
use crate::engine::backend::Backend;
use crate::input::scene::Scene;
use crate::methods::calibrate::model_choice::{ModelEvidence, model_choice_table};
use crate::methods::calibrate::predictive::posterior_predictive;
use crate::methods::calibrate::sampling::sub_seed;
use crate::methods::calibrate::summary::summary_table;
use crate::methods::calibrate::{
    self, AbcMode, CalibrateConfig, CalibrateError, ErrorKind, Likelihood, Method, ProgressEvent,
    data, run_abc_smc_lik, run_history_matching, run_tempered_smc, write_posterior,
};
use crate::methods::fit::{EngineSimulator, attach_targets};
use crate::output::io::TableFormat;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Returns a [`Error::Invalid`] with a formatted message.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(Error::Invalid(format!($($t)*)))
    };
}

/// Observation-noise draws per posterior draw in the predictive check.
const PREDICTIVE_NOISE_DRAWS: usize = 20;

/// A calibration: scene (or models), data, method and the overrides of
/// the scene's `[calibrate]` table (the flags of `vtwin calibrate`).
#[derive(Clone, Debug)]
pub struct CalibrateRequest {
    pub scene: Option<PathBuf>,
    /// Two or more scenes for model choice (then `scene` is None).
    pub models: Vec<PathBuf>,
    pub data: PathBuf,
    pub method: Option<Method>,
    pub mode: Option<AbcMode>,
    /// The final folder (default: `runs/<scene>-<timestamp>`).
    pub out: Option<PathBuf>,
    pub force: bool,
    pub arm: Option<String>,
    pub seed: Option<u64>,
    pub population: Option<usize>,
    pub generations: Option<usize>,
    pub max_simulations: Option<usize>,
    pub final_epsilon: Option<f64>,
    pub moves: Option<usize>,
    pub waves: Option<usize>,
    pub runs_per_wave: Option<usize>,
    pub backend: crate::engine::BackendChoice,
    pub adapter: Option<String>,
    pub batch_size: Option<u32>,
}

/// What a finished calibration reports.
#[derive(Clone, Debug)]
pub struct CalibrateOutcome {
    pub dir: PathBuf,
}

/// Prints-free scene error at `calibrate.KEY`, or the error itself.
fn located(scene: &Scene, e: CalibrateError) -> Error {
    match e {
        CalibrateError::Config { key, message } => {
            Error::Scene(scene.error_at(&format!("calibrate.{key}"), message))
        }
        other => other.into(),
    }
}

/// The settings in force: the scene's table (errors located in the scene),
/// then the flags.
fn settings(args: &CalibrateRequest, scene: &Scene) -> Result<(Method, CalibrateConfig)> {
    let mut cfg = CalibrateConfig::from_scene(scene)?;
    cfg.validate().map_err(|e| located(scene, e))?;
    let Some(method) = args.method.or(cfg.method) else {
        bail!(
            "no calibration method: pass --method {} or set `method` in the scene's [calibrate] table",
            Method::NAMES.join("|")
        );
    };
    let flags = [
        (
            "--population",
            args.population.is_some(),
            "abc-smc, tempered-smc",
        ),
        ("--generations", args.generations.is_some(), "abc-smc"),
        (
            "--max-simulations",
            args.max_simulations.is_some(),
            "abc-smc, tempered-smc",
        ),
        ("--final-epsilon", args.final_epsilon.is_some(), "abc-smc"),
        ("--mode", args.mode.is_some(), "abc-smc"),
        ("--moves", args.moves.is_some(), "tempered-smc"),
        ("--waves", args.waves.is_some(), "history-matching"),
        (
            "--runs-per-wave",
            args.runs_per_wave.is_some(),
            "history-matching",
        ),
    ];
    if let Some((flag, _, methods)) = flags
        .iter()
        .find(|(_, set, methods)| *set && !methods.split(", ").any(|m| m == method.name()))
    {
        bail!(
            "{flag} applies only to --method {}, not --method {method}",
            methods.replace(", ", " or ")
        );
    }
    let a = &mut cfg.abc;
    a.population = args.population.unwrap_or(a.population);
    a.max_generations = args.generations.unwrap_or(a.max_generations);
    a.max_simulations = args.max_simulations.unwrap_or(a.max_simulations);
    a.final_epsilon = args.final_epsilon.unwrap_or(a.final_epsilon);
    a.mode = args.mode.unwrap_or(a.mode);
    a.seed = args.seed.unwrap_or(a.seed);
    let t = &mut cfg.tempered_smc;
    t.population = args.population.unwrap_or(t.population);
    t.max_simulations = args.max_simulations.unwrap_or(t.max_simulations);
    t.moves = args.moves.unwrap_or(t.moves);
    t.seed = args.seed.unwrap_or(t.seed);
    let h = &mut cfg.history_matching;
    h.waves = args.waves.unwrap_or(h.waves);
    h.runs_per_wave = args.runs_per_wave.unwrap_or(h.runs_per_wave);
    h.seed = args.seed.unwrap_or(h.seed);
    cfg.validate()
        .map_err(|e| Error::Invalid(format!("after the command-line overrides: {e}")))?;
    Ok((method, cfg))
}

/// What one calibration produced.
struct Outcome {
    plan: Plan,
    method: Method,
    records: usize,
    json: Calibration,
    stats: crate::methods::fit::SimStats,
    posterior_draws: usize,
    posterior_ess: f64,
    /// (ln Z, its standard error) where the method estimates the evidence.
    evidence: Option<(f64, f64)>,
}

/// Calibrates one scene and writes its files into `folder` (an existing,
/// empty folder inside a run directory).
fn calibrate_one(
    args: &CalibrateRequest,
    scene_path: &Path,
    backend: &Backend,
    folder: &Path,
    obs: &mut dyn Observer,
) -> Result<Outcome> {
    let scene = crate::drivers::scenes::load(scene_path)?;
    let (method, cfg) = settings(args, &scene)?;
    let records = data::read_data(&args.data)?;
    if let Some(note) = super::members::default_arm_note("calibrate", &scene, args.arm.as_deref()) {
        obs.note(&note);
    }
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
    let estimated: Vec<String> = prior
        .varying()
        .iter()
        .map(|&i| prior.params[i].name.clone())
        .collect();
    for w in super::members::inert_params(&scene, &plan, &estimated) {
        obs.note(&format!("vtwin calibrate: warning: {w}"));
    }
    if cfg.error.model == ErrorKind::Lognormal
        && let Some(t) = targets.iter().find(|t| t.value <= 0.0)
    {
        bail!(
            "{}, line {}: value {} is not positive, but the scene's [calibrate.error] model = \"lognormal\" needs positive data",
            args.data.display(),
            t.line,
            t.value
        );
    }
    obs.note(&format!(
        "vtwin calibrate: {} ({}), {method} on {} data rows from {} over {} varying parameters, \
         {} errors, observed every {} steps, backend {}",
        scene_path.display(),
        plan.model.info().kind,
        targets.len(),
        args.data.display(),
        prior.varying().len(),
        cfg.error.model.name(),
        plan.every,
        backend.name()
    ));
    crate::output::io::write_table(
        folder,
        &crate::methods::fit::tables::targets_table(&targets),
        TableFormat::Csv,
    )?;
    let manifest_plan = plan.clone();
    let mut sim = EngineSimulator::new(backend, plan, targets.clone(), args.batch_size);
    let (observed, sd) = sim.observed();
    let lik = Likelihood::new(&cfg.error, &observed, &sd, Some(&prior))
        .map_err(|e| located(&scene, e))?;
    let output_names: Vec<String> = sim
        .targets()
        .iter()
        .map(|t| format!("{}@t{}", t.observable, t.time))
        .collect();
    let error_model = ErrorModelNote::of(&cfg.error);
    let (tables, posterior, method_json, evidence, seed) = match method {
        Method::AbcSmc => {
            let c = &cfg.abc;
            obs.start(c.max_generations as u64, "generations");
            let res = run_abc_smc_lik(&prior, &mut sim.summaries(), &lik, c, &mut |e| {
                if let ProgressEvent::AbcGeneration {
                    generation,
                    epsilon,
                    simulated_total,
                    acceptance_rate,
                    ess,
                } = e
                {
                    obs.advance(generation as u64 + 1);
                    obs.note(&format!(
                            "  generation {generation}: ε = {epsilon:.4}, acceptance {:.1} %, ESS {ess:.0}, {simulated_total} simulations",
                            100.0 * acceptance_rate
                        ));
                }
            })?;
            obs.finish();
            obs.note(&format!(
                "vtwin calibrate: stopped after {} generations ({}), {} simulations",
                res.generations.len(),
                res.stop.name(),
                res.simulations
            ));
            let last = res.last();
            for m in calibrate::warnings::abc_warnings(&res, c, observed.len()) {
                obs.note(&format!("vtwin calibrate: {m}"));
            }
            let exact = c.mode == AbcMode::Kernel
                && res.stop == calibrate::AbcStop::FinalEpsilon
                && (c.final_epsilon == 0.0 || c.final_epsilon == 1.0);
            let evidence = (exact && last.log_evidence.is_finite())
                .then_some((last.log_evidence, last.log_evidence_se));
            let json = MethodBlock::AbcSmc(AbcSmcNote {
                mode: c.mode.name(),
                generations: res.generations.len(),
                stop: res.stop.name(),
                simulations: res.simulations,
                final_epsilon: last.epsilon,
                log_evidence: evidence.map(|e| e.0),
                log_evidence_se: evidence.map(|e| e.1),
                settings: c.resolved(),
            });
            (res.tables(), res.posterior()?, json, evidence, c.seed)
        }
        Method::TemperedSmc => {
            let c = &cfg.tempered_smc;
            obs.start(100, "% of β");
            let res = run_tempered_smc(&prior, &mut sim.summaries(), &lik, c, &mut |e| {
                if let ProgressEvent::SmcStage {
                    stage,
                    beta,
                    simulated_total,
                    acceptance_rate,
                    ess,
                } = e
                {
                    obs.advance((100.0 * beta) as u64);
                    obs.note(&format!(
                            "  stage {stage}: β = {beta:.5}, ESS {ess:.0}, acceptance {:.1} %, {simulated_total} simulations",
                            100.0 * acceptance_rate
                        ));
                }
            })?;
            obs.finish();
            obs.note(&format!(
                "vtwin calibrate: stopped after {} stages ({}), {} simulations, log evidence {:.4} ± {:.4}",
                res.stages.len(),
                res.stop.name(),
                res.simulations,
                res.log_evidence,
                res.log_evidence_se
            ));
            if res.stop != calibrate::TemperedStop::Complete {
                obs.note(&format!(
                    "vtwin calibrate: warning: stopped at {} with the temperature at β = {:.4} of 1: the sample is \
                     the posterior of a likelihood flattened to the power {:.4}, wider than the posterior. Raise \
                     calibrate.tempered_smc.max_stages / --max-simulations, or lower ess_fraction for larger steps",
                    res.stop.name(),
                    res.beta(),
                    res.beta()
                ));
            }
            let evidence = (res.stop == calibrate::TemperedStop::Complete)
                .then_some((res.log_evidence, res.log_evidence_se));
            let json = MethodBlock::TemperedSmc(TemperedSmcNote {
                stages: res.stages.len(),
                stop: res.stop.name(),
                simulations: res.simulations,
                beta: res.beta(),
                log_evidence: res.log_evidence,
                log_evidence_se: res.log_evidence_se,
                settings: TemperedSettings::of(c),
            });
            (res.tables(), res.posterior()?, json, evidence, c.seed)
        }
        Method::HistoryMatching => {
            let c = &cfg.history_matching;
            obs.start(c.waves as u64, "waves");
            let summaries = &mut sim.summaries();
            let mut res = run_history_matching(&prior, summaries, &observed, &sd, c, &mut |e| {
                if let ProgressEvent::HmWave {
                    wave,
                    runs,
                    failed,
                    fraction_ruled_out,
                } = e
                {
                    obs.advance(wave as u64);
                    obs.note(&format!(
                            "  wave {wave}: {runs} runs ({failed} failed), {:.2} % of the prior ruled out",
                            100.0 * fraction_ruled_out
                        ));
                }
            })?;
            obs.finish();
            res.output_names = output_names.clone();
            let post = res.posterior()?;
            let json = MethodBlock::HistoryMatching(HistoryMatchingNote {
                waves: res.waves.len(),
                fraction_ruled_out: res.waves.iter().map(|w| w.fraction_ruled_out).collect(),
                non_implausible_samples: res.nroy.len(),
                settings: HmSettings::of(c, prior.varying().len()),
            });
            let mut t = res.tables();
            t.push(summary_table(&post.summary()));
            (t, post, json, None, c.seed)
        }
    };
    for t in &tables {
        crate::output::io::write_table(folder, t, TableFormat::Csv)?;
    }
    write_posterior(folder, &posterior)?;
    for line in summary_lines(&prior, &posterior) {
        obs.note(&line);
    }
    for m in calibrate::warnings::prior_bound_warnings(&prior, &posterior) {
        obs.note(&format!("vtwin calibrate: {m}"));
    }
    let pred = posterior_predictive(
        &mut sim.summaries(),
        &lik,
        &posterior,
        PREDICTIVE_NOISE_DRAWS,
        sub_seed(seed, [u32::MAX, 0, 0]),
    )?;
    crate::output::io::write_table(
        folder,
        &crate::methods::fit::tables::predictive_table(&targets, &pred),
        TableFormat::Csv,
    )?;
    crate::output::io::write_table(
        folder,
        &crate::methods::fit::tables::predictive_summary_table(&observed, &pred),
        TableFormat::Csv,
    )?;
    let (pit_mean, pit_sd, pit_ks) = pred.pit_summary();
    obs.note(&format!(
        "vtwin calibrate: posterior predictive: {:.0} % of the data rows inside the 50 % band, {:.0} % inside \
         the 90 % band; PIT mean {pit_mean:.3}, sd {pit_sd:.3} (uniform: 0.5, 0.289)",
        100.0 * pred.coverage50(&observed),
        100.0 * pred.coverage90(&observed)
    ));
    let stats = sim.stats;
    if stats.unstable + stats.failed > 0 {
        obs.note(&format!(
            "vtwin calibrate: {} of {} parameter vectors failed ({} unstable for dt, {} diverged); they count as rejected",
            stats.unstable + stats.failed,
            stats.rows,
            stats.unstable,
            stats.failed
        ));
    }
    let json = Calibration {
        method: method_json,
        error_model,
        predictive: PredictiveNote {
            coverage50: pred.coverage50(&observed),
            coverage90: pred.coverage90(&observed),
            pit_mean,
            pit_sd,
            pit_ks,
            noise_draws: PREDICTIVE_NOISE_DRAWS,
        },
    };
    Ok(Outcome {
        plan: manifest_plan,
        method,
        records: records.len(),
        json,
        stats,
        posterior_draws: posterior.draws.len(),
        posterior_ess: posterior.ess(),
        evidence,
    })
}

/// The data file as the manifest records it.
#[derive(Serialize)]
struct DataNote {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<usize>,
}

/// The posterior's size as the manifest records it.
#[derive(Serialize)]
struct PosteriorNote {
    draws: usize,
    ess: f64,
}

/// The manifest keys of one calibration.
#[derive(Serialize)]
struct CalibrateKeys {
    command_kind: &'static str,
    method: &'static str,
    data: DataNote,
    members: usize,
    ensemble_runs: usize,
    unstable: usize,
    observe_every: u64,
    calibration: Calibration,
    posterior: PosteriorNote,
}

/// One model of a model choice as the manifest records it.
#[derive(Serialize)]
struct ModelNote {
    model: String,
    scene: String,
    method: &'static str,
    members: usize,
    calibration: Calibration,
}

#[derive(Serialize)]
struct ModelChoiceNote {
    models: Vec<ModelNote>,
    probabilities: Vec<f64>,
    probability_se: Vec<f64>,
}

/// The manifest keys of a model choice.
#[derive(Serialize)]
struct ModelChoiceKeys {
    command_kind: &'static str,
    model_choice: ModelChoiceNote,
    data: DataNote,
}

/// Runs the calibration `req` asks for (one scene, or model choice over
/// `req.models`); returns the finished folder.
pub fn run(req: &CalibrateRequest, obs: &mut dyn Observer) -> Result<CalibrateOutcome> {
    let started = crate::drivers::manifest::now();
    let backend = Backend::open(req.backend, req.adapter.as_deref(), &mut |m| obs.note(&m))?;
    if !req.models.is_empty() {
        return run_models(req, &backend, started, obs);
    }
    let Some(scene_path) = req.scene.as_deref() else {
        bail!("name a scene, or several with --models A.toml,B.toml");
    };
    let out = req
        .out
        .clone()
        .unwrap_or_else(|| default_out(scene_path, "calibrate"));
    let dir = create_run_dir(&out, req.force, &[scene_path, &req.data], obs)?;
    let o = calibrate_one(req, scene_path, &backend, dir.path(), obs)?;
    let keys = CalibrateKeys {
        command_kind: "calibrate",
        method: o.method.name(),
        data: DataNote {
            path: req.data.display().to_string(),
            rows: Some(o.records),
        },
        members: o.stats.rows,
        ensemble_runs: o.stats.batches,
        unstable: o.stats.unstable,
        observe_every: o.plan.every,
        calibration: o.json,
        posterior: PosteriorNote {
            draws: o.posterior_draws,
            ess: o.posterior_ess,
        },
    };
    let manifest = PlanManifest::new(
        &o.plan,
        &backend,
        started,
        o.stats.failed + o.stats.unstable,
        keys,
    );
    let dir = dir.finish(serde_json::to_value(&manifest)?)?;
    Ok(CalibrateOutcome { dir })
}

/// Model choice: each scene calibrated into its own subfolder, then
/// `model_choice.csv`.
fn run_models(
    args: &CalibrateRequest,
    backend: &Backend,
    started: chrono::DateTime<chrono::Utc>,
    obs: &mut dyn Observer,
) -> Result<CalibrateOutcome> {
    if args.models.len() < 2 {
        bail!("--models needs at least two scenes, separated by commas");
    }
    let first = &args.models[0];
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(first, "model-choice"));
    let mut inputs: Vec<&Path> = args.models.iter().map(|p| p.as_path()).collect();
    inputs.push(&args.data);
    let dir = create_run_dir(&out, args.force, &inputs, obs)?;
    let mut names: Vec<String> = Vec::new();
    let mut evidences = Vec::new();
    let mut entries = Vec::new();
    let mut first_plan = None;
    let mut failed = 0;
    for path in &args.models {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "model".into());
        let mut name = stem.clone();
        let mut k = 2;
        while names.contains(&name) {
            name = format!("{stem}-{k}");
            k += 1;
        }
        names.push(name.clone());
        let folder = dir.file(&name);
        std::fs::create_dir(&folder).map_err(|source| Error::CreateDir {
            path: folder.display().to_string(),
            source,
        })?;
        let o = calibrate_one(args, path, backend, &folder, obs)?;
        let Some((lz, se)) = o.evidence else {
            bail!(
                "{}: model choice needs an evidence estimate: use --method tempered-smc, or abc-smc in mode kernel \
                 that reaches ε = 1 (not {} with these settings)",
                path.display(),
                o.method
            );
        };
        evidences.push(ModelEvidence {
            model: name.clone(),
            log_evidence: lz,
            log_evidence_se: se,
        });
        failed += o.stats.failed + o.stats.unstable;
        entries.push(ModelNote {
            model: name.clone(),
            scene: path.display().to_string(),
            method: o.method.name(),
            members: o.stats.rows,
            calibration: o.json,
        });
        first_plan.get_or_insert(o.plan);
    }
    let table = model_choice_table(&evidences);
    dir.write_table(&table, TableFormat::Csv)?;
    let probs = calibrate::model_choice::model_probabilities(&evidences);
    obs.note(&format!(
        "  {:<20} {:>12} {:>12} {:>12}",
        "model", "ln Z", "P(model)", "± (MC)"
    ));
    for (e, (p, se)) in evidences.iter().zip(&probs) {
        obs.note(&format!(
            "  {:<20} {:>12.4} {:>12.4} {:>12.4}",
            e.model, e.log_evidence, p, se
        ));
    }
    let Some(plan) = first_plan else {
        bail!("no model was calibrated");
    };
    let keys = ModelChoiceKeys {
        command_kind: "calibrate",
        model_choice: ModelChoiceNote {
            models: entries,
            probabilities: probs.iter().map(|p| p.0).collect(),
            probability_se: probs.iter().map(|p| p.1).collect(),
        },
        data: DataNote {
            path: args.data.display().to_string(),
            rows: None,
        },
    };
    let manifest = PlanManifest::new(&plan, backend, started, failed, keys);
    let dir = dir.finish(serde_json::to_value(&manifest)?)?;
    Ok(CalibrateOutcome { dir })
}

/// Prior vs posterior, per varying parameter: a header and one line each.
fn summary_lines(
    prior: &crate::input::params::ParamBlock,
    post: &calibrate::Posterior,
) -> Vec<String> {
    let varying = prior.varying();
    let mut lines = vec![format!(
        "  {:<12} {:>12} {:>12} {:>12} {:>12}",
        "parameter", "mean", "sd", "q05", "q95"
    )];
    for s in post.summary() {
        if varying.iter().any(|&i| prior.params[i].name == s.name) {
            lines.push(format!(
                "  {:<12} {:>12.5e} {:>12.5e} {:>12.5e} {:>12.5e}",
                s.name, s.mean, s.sd, s.q05, s.q95
            ));
        }
    }
    lines
}
