//! `vtwin assimilate SCENE --obs OBS.csv`: assimilates real observations
//! (no truth known).
//!
//! [`prepare`] reads the scene and the observation file and decides the
//! kind of run:
//! - a **single-ensemble** run (no `patient` column, every `sd` given, no
//!   `--forecast-at`): [`Prepared::Single`] holds the twin setup and the
//!   manifest's extra record; the caller runs it with the twin's writer
//!   (`drivers::twin::execute`), which writes `analysis`, `cycles`,
//!   `posterior` (with summaries), `forecast`, `events`, `decision` and a
//!   manifest (which carries the observation file's SHA-256);
//! - a **patient** run (docs/patients.md): [`Prepared::Patients`], run by
//!   [`run_patients`]: one block of members per patient in one engine,
//!   tables `patients`, `analysis`, `posterior` and, with `--forecast-at`,
//!   the wide `forecast` table.
//!
//! `--checkpoint-every` is decided in one place, [`checkpointing`].

use super::assimilate_shard::Block;
use crate::drivers::shard::Shard;
use crate::engine::EngineError;
use crate::engine::backend::Backend;
use crate::input::scene::{FormatName, Scene, SceneError};
use crate::methods::assim::obs_file::{
    ObsFileError, ObsRecord, PatientRecord, read_obs_file, read_patient_obs,
};
use crate::methods::twin::patients::{self, PopulationPrior, tables};
use crate::methods::twin::setup::ObsSource;
use crate::methods::twin::{Options, Setup, TwinError};
use crate::output::io::{IoError, RunDir, TableFormat};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Why an assimilate run (or a merge of its shards) stopped.
#[derive(Debug, thiserror::Error)]
pub enum AssimilateError {
    #[error(transparent)]
    Scene(#[from] SceneError),
    #[error(transparent)]
    Obs(#[from] ObsFileError),
    #[error(transparent)]
    Twin(#[from] TwinError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The run itself failed (after its inputs were accepted).
    #[error("assimilation failed")]
    Failed(#[source] TwinError),
    /// A file could not be read (or a table in it).
    #[error("reading {}", path.display())]
    Reading {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A JSON file could not be parsed.
    #[error("parsing {}", path.display())]
    Parsing {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Options or inputs that do not fit together.
    #[error("{0}")]
    Invalid(String),
    /// The manifest could not be encoded as JSON.
    #[error("encoding the manifest")]
    Manifest(#[source] serde_json::Error),
}

/// An input file as the manifest records it.
#[derive(Serialize)]
struct FileRef {
    path: String,
    sha256: String,
}

/// The manifest's `observations` record: the file, its hash and how many
/// readings it holds.
#[derive(Serialize)]
struct ObsRef {
    path: String,
    sha256: String,
    records: usize,
}

impl ObsRef {
    fn of(path: &Path, records: usize) -> Result<ObsRef, AssimilateError> {
        Ok(ObsRef {
            path: path.display().to_string(),
            sha256: crate::output::io::sha256_file(path)?,
            records,
        })
    }
}

/// A single-ensemble run's own manifest keys (the twin's writer adds its
/// own after them).
#[derive(Serialize)]
struct SingleKeys {
    command_kind: &'static str,
    observations: ObsRef,
}

/// A patient run's own manifest keys.
#[derive(Serialize)]
struct PatientKeys {
    command_kind: &'static str,
    observations: ObsRef,
    patients: PatientCounts,
    format: &'static str,
    time_unit: String,
    /// The shard's record (`assimilate_shard::Block::manifest_json`), sharded runs only.
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<Value>,
}

/// The manifest's `patients` record: what the patient run did.
#[derive(Serialize)]
struct PatientCounts {
    count: usize,
    members_per_patient: u32,
    failed: usize,
    replaced_members: usize,
    censored_readings: usize,
    forecast_requests: usize,
    quantiles: Vec<f64>,
    population_prior: &'static str,
    learned_priors: usize,
    /// The `--events` file (`null` without one).
    events: Option<FileRef>,
}

/// A typed manifest (or part of one) as JSON, its keys sorted as every
/// manifest writes them.
fn manifest_json<T: Serialize>(keys: &T) -> Result<Value, AssimilateError> {
    serde_json::to_value(keys).map_err(AssimilateError::Manifest)
}

/// What `vtwin assimilate` was asked (the command line's options, parsed).
#[derive(Clone, Debug)]
pub struct Request {
    pub scene: PathBuf,
    pub obs: PathBuf,
    /// Filter overrides (`cycles` is taken from [`Request::cycles`]).
    pub filter: Options,
    /// Assimilate only the first K observation times (single ensemble).
    pub cycles: Option<u64>,
    pub forecast_at: Option<PathBuf>,
    /// Extra quantile levels of the forecast table.
    pub quantiles: Vec<f64>,
    pub members_out: bool,
    /// `none`, `pooled` or `leave-one-out`.
    pub population_prior: String,
    pub events: Option<PathBuf>,
    pub shard: Option<Shard>,
    pub checkpoint_every: Option<u64>,
    /// The output folder (the caller supplies the default).
    pub out: PathBuf,
    pub force: bool,
    pub format: Option<TableFormat>,
    /// Members per GPU batch.
    pub batch_size: Option<u32>,
}

/// Where progress and notices go (the command line prints them to stderr).
pub type Log<'a> = &'a mut dyn FnMut(&str);

/// A single-ensemble run, ready for the twin's writer.
pub struct Single {
    pub setup: Setup,
    /// The manifest's `command_kind` and `observations` record.
    pub extra: Value,
    /// Save a checkpoint every N analyses ([`checkpointing`]).
    pub checkpoint_every: Option<u64>,
}

/// A patient run, ready for [`run_patients`].
pub struct PatientJob {
    req: Request,
    setup: Setup,
    readings: usize,
    levels: Vec<f64>,
    kind: PopulationPrior,
    events: Option<indexmap::IndexMap<String, Vec<crate::input::dosing::TreatmentEvent>>>,
    block: Block,
    /// Save a checkpoint every N stops ([`checkpointing`]).
    checkpoint_every: Option<u64>,
}

/// The two kinds of assimilate run.
pub enum Prepared {
    Single(Box<Single>),
    Patients(Box<PatientJob>),
}

/// The one place `--checkpoint-every` is decided: single-ensemble runs
/// save checkpoints every N analyses (the twin's writer does it), patient
/// runs every N stops ([`run_patients`]), except with a learned
/// `--population-prior` (two passes), which refuses it.
pub fn checkpointing(req: &Request, patient_run: bool) -> Result<Option<u64>, AssimilateError> {
    if req.checkpoint_every == Some(0) {
        return Err(AssimilateError::Invalid(
            "--checkpoint-every must be at least 1".into(),
        ));
    }
    match (req.checkpoint_every, patient_run) {
        (Some(_), true) if req.population_prior != "none" => {
            Err(AssimilateError::Invalid(format!(
                "--checkpoint-every cannot be combined with --population-prior {}: a learned prior \
             runs two passes, which do not checkpoint yet (checkpoint with --population-prior \
             none, or split the run with --shard instead)",
                req.population_prior
            )))
        }
        (every, _) => Ok(every),
    }
}

/// The kept temporary folder of an interrupted patient run that
/// `vtwin resume` continues, and the command line it recorded.
pub struct ResumeFrom {
    pub temp: PathBuf,
    pub invocation: crate::drivers::checkpoint::Invocation,
}

/// Reads the scene and observations and sets up the run they ask for.
pub fn prepare(req: &Request, log: Log<'_>) -> Result<Prepared, AssimilateError> {
    let scene = crate::drivers::scenes::load(&req.scene)?;
    let (records, has_patient) = read_patient_obs(&req.obs)?;
    let any_empty_sd = records.iter().any(|r| r.sd.is_none());
    if has_patient || any_empty_sd || req.forecast_at.is_some() {
        let every = checkpointing(req, true)?;
        return prepare_patients(req, &scene, &records, every, log);
    }
    let checkpoint_every = checkpointing(req, false)?;
    if req.shard.is_some() {
        return Err(AssimilateError::Invalid(format!(
            "--shard splits the patients of a patient run (docs/patients.md); {} has no \
             patient column, so this is one ensemble and cannot be sharded",
            req.obs.display()
        )));
    }
    // The single-ensemble run, exactly as before patient files existed.
    let records = read_obs_file(&req.obs)?;
    let mut opts = req.filter.clone();
    opts.cycles = req.cycles;
    let setup = Setup::new(&scene, &opts, ObsSource::File(&req.obs, &records))?;
    if scene.file.assimilation.is_none() {
        log(&no_section_warning(&req.scene));
    }
    let extra = manifest_json(&SingleKeys {
        command_kind: "assimilate",
        observations: ObsRef::of(&req.obs, records.len())?,
    })?;
    Ok(Prepared::Single(Box::new(Single {
        setup,
        extra,
        checkpoint_every,
    })))
}

/// The `--forecast-at` file's SHA-256 (shards must share it).
fn requests_sha(req: &Request) -> Result<Option<String>, AssimilateError> {
    req.forecast_at
        .as_deref()
        .map(crate::output::io::sha256_file)
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

fn levels(extra: &[f64]) -> Result<Vec<f64>, AssimilateError> {
    let mut out = LEVELS.to_vec();
    for &q in extra {
        if !(q > 0.0 && q < 1.0) {
            return Err(AssimilateError::Invalid(format!(
                "--quantiles: levels must lie in (0, 1), got {q}"
            )));
        }
        if !out.iter().any(|l| (l - q).abs() < 1e-12) {
            out.push(q);
        }
    }
    Ok(out)
}

fn prepare_patients(
    req: &Request,
    scene: &Scene,
    records: &[PatientRecord],
    checkpoint_every: Option<u64>,
    log: Log<'_>,
) -> Result<Prepared, AssimilateError> {
    let levels = levels(&req.quantiles)?;
    let plain: Vec<ObsRecord> = records.iter().map(|r| r.record.clone()).collect();
    let mut opts = req.filter.clone();
    opts.cycles = None;
    if req.cycles.is_some() {
        return Err(AssimilateError::Invalid(
            "--cycles applies to single-ensemble runs, not to patient runs".into(),
        ));
    }
    let setup = Setup::new(scene, &opts, ObsSource::File(&req.obs, &plain))?;
    if scene.file.assimilation.is_none() {
        log(&no_section_warning(&req.scene));
    }
    let patients = patients::patients(&req.obs, records, &setup.plan, &setup.section)?;
    let requests = match &req.forecast_at {
        Some(f) => patients::read_requests(f, &setup.plan, &patients)?,
        None => Vec::new(),
    };
    let kind = PopulationPrior::parse(&req.population_prior).ok_or_else(|| {
        AssimilateError::Invalid(
            "--population-prior: expected none, pooled or leave-one-out".into(),
        )
    })?;
    let events = match &req.events {
        Some(f) => Some(patients::read_patient_events(f, &patients)?),
        None => None,
    };
    let block = Block::new(req.shard, patients, requests)?;
    if req.shard.is_some() && kind != PopulationPrior::None {
        return Err(AssimilateError::Invalid(format!(
            "--shard cannot be combined with --population-prior {}: a learned prior needs every \
             patient's first pass; run the population prior unsharded",
            kind.name()
        )));
    }
    Ok(Prepared::Patients(Box::new(PatientJob {
        req: req.clone(),
        setup,
        readings: records.len(),
        levels,
        kind,
        events,
        block,
        checkpoint_every,
    })))
}

/// Creates the output folder's temporary twin (`io::RunDir`), saying which
/// stale temporary folders of killed runs it removed.
pub fn create_run_dir(
    out: &Path,
    force: bool,
    inputs: &[&Path],
    log: Log<'_>,
) -> Result<RunDir, IoError> {
    crate::output::io::install_interrupt_cleanup()?;
    let dir = RunDir::create_for(out, force, inputs)?;
    for stale in dir.stale_removed() {
        log(&format!(
            "vtwin: removed {}, the temporary folder of an earlier run that was killed",
            stale.display()
        ));
    }
    Ok(dir)
}

/// What a running patient run reports to its caller.
pub struct Hooks<'a> {
    /// `(done, total)` stops of the run (both passes counted as one).
    pub progress: &'a mut dyn FnMut(usize, usize),
    /// Called once the stops are done, before the tables are written.
    pub finished: &'a mut dyn FnMut(),
    pub log: Log<'a>,
}

/// Runs a patient run on `backend` and writes its folder; returns the
/// finished folder.
/// With `resume`, continues the interrupted run in its kept temporary
/// folder from its checkpoint (or from the start when it has none).
pub fn run_patients(
    job: &PatientJob,
    backend: &Backend,
    hooks: Hooks<'_>,
    resume: Option<&ResumeFrom>,
) -> Result<PathBuf, AssimilateError> {
    let Hooks {
        progress,
        finished,
        log,
    } = hooks;
    let req = &job.req;
    let setup = &job.setup;
    let (block, levels, kind) = (&job.block, &job.levels, job.kind);
    let (patients, requests) = (&block.patients, &block.requests);
    let started = crate::drivers::manifest::now();
    let mut inputs: Vec<&Path> = vec![&req.scene, &req.obs];
    inputs.extend(req.forecast_at.as_deref());
    inputs.extend(req.events.as_deref());
    let dir = match resume {
        Some(r) => {
            crate::output::io::install_interrupt_cleanup()?;
            crate::drivers::checkpoint::clean_partial(&r.temp);
            RunDir::adopt(&r.temp, &req.out, req.force, &inputs)?
        }
        None => create_run_dir(&req.out, req.force, &inputs, log)?,
    };
    // (identity, command line) of a run that checkpoints.
    let saving = match (job.checkpoint_every, resume) {
        (None, _) => None,
        (Some(_), Some(r)) => Some((patient_identity(job, backend)?, r.invocation.clone())),
        (Some(_), None) => Some((
            patient_identity(job, backend)?,
            crate::drivers::checkpoint::record_invocation(dir.path())?,
        )),
    };
    let start = match (&saving, resume) {
        (Some((identity, _)), Some(_)) => {
            let path = crate::drivers::checkpoint::checkpoint_path(dir.path());
            if path.is_file() {
                Some(
                    crate::drivers::checkpoint_patients::read(&path, identity).map_err(|e| {
                        AssimilateError::Reading {
                            path: path.clone(),
                            source: Box::new(e),
                        }
                    })?,
                )
            } else {
                None
            }
        }
        _ => None,
    };
    let fmt = req.format.unwrap_or(match setup.scene.file.output.format {
        Some(FormatName::Csv) => TableFormat::Csv,
        _ => TableFormat::Parquet,
    });
    log(&format!(
        "vtwin assimilate: {} patients × {} members ({} {}), {} readings, {} forecast requests, backend {}",
        patients.len(),
        setup.members,
        setup.plan.model.info().kind,
        setup.filter.method.name(),
        job.readings,
        requests.len(),
        backend.name()
    ));
    let opts = patients::RunOptions {
        levels,
        priors: None,
        events: job.events.as_ref(),
        first: block.first,
    };
    let temp = dir.path().to_path_buf();
    let mut save = |st: &patients::PatientState| -> Result<(), TwinError> {
        if let Some((identity, inv)) = &saving {
            crate::drivers::checkpoint_patients::write_into(&temp, st, identity, inv)
                .map_err(|e| TwinError::Invalid(format!("writing a checkpoint: {e}")))?;
        }
        Ok(())
    };
    let out = match job.checkpoint_every {
        // `checkpointing` allows it only with the scene prior (one pass).
        Some(every) if kind == PopulationPrior::None => patients::run_from(
            setup,
            backend,
            req.batch_size,
            patients,
            requests,
            opts,
            Some(patients::Checkpointing {
                every: usize::try_from(every).unwrap_or(usize::MAX),
                start,
                save: &mut save,
            }),
            progress,
        ),
        _ => patients::run_population(
            setup,
            backend,
            req.batch_size,
            patients,
            requests,
            opts,
            kind,
            progress,
        ),
    }
    .map_err(AssimilateError::Failed)?;
    // The checkpoints only serve `vtwin resume`: nothing of them stays.
    crate::drivers::checkpoint::discard(dir.path())?;
    finished();
    dir.write_table(&tables::patients_table(&out), fmt)?;
    dir.write_table(&tables::analysis_table(&out), fmt)?;
    if !out.posterior.is_empty() {
        dir.write_table(&tables::posterior_table(&out), fmt)?;
    }
    if req.forecast_at.is_some() {
        dir.write_table(&tables::forecast_table(&out, levels), fmt)?;
        if req.members_out {
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
    log(&format!(
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
    ));
    for p in out.patients.iter().filter(|p| p.failed.is_some()).take(10) {
        if let Some((t, why)) = &p.failed {
            log(&format!("  patient {:?} failed at time {t}: {why}", p.name));
        }
    }
    print_posterior(&out, log);
    let shard = match req.shard {
        Some(shard) => {
            block.write_rows(&dir, &out, setup.plan.model.dt())?;
            Some(block.manifest_json(shard, shard_options(req), requests_sha(req)?))
        }
        None => None,
    };
    let keys = PatientKeys {
        command_kind: "assimilate",
        observations: ObsRef::of(&req.obs, job.readings)?,
        patients: PatientCounts {
            count: out.patients.len(),
            members_per_patient: setup.members,
            failed: failed.len(),
            replaced_members: replaced,
            censored_readings: censored,
            forecast_requests: requests.len(),
            quantiles: levels.to_vec(),
            population_prior: kind.name(),
            learned_priors: out.prior_from.iter().filter(|p| p.is_some()).count(),
            events: match &req.events {
                Some(f) => Some(FileRef {
                    path: f.display().to_string(),
                    sha256: crate::output::io::sha256_file(f)?,
                }),
                None => None,
            },
        },
        format: fmt.extension(),
        time_unit: setup.plan.model.info().time_unit.clone(),
        shard,
    };
    let manifest = manifest_json(&crate::drivers::manifest::PlanManifest::new(
        &out.plan, backend, started, 0, keys,
    ))?;
    Ok(dir.finish(manifest)?)
}

/// What a patient run's checkpoint is valid for: the scene, the plan
/// together with every input file and the shard (so a changed observation,
/// request or event file is refused), the build and the device.
fn patient_identity(
    job: &PatientJob,
    backend: &Backend,
) -> Result<crate::drivers::checkpoint::Identity, AssimilateError> {
    use sha2::{Digest, Sha256};
    let req = &job.req;
    let mut h = Sha256::new();
    h.update(job.setup.plan.sha256.as_bytes());
    for f in [
        Some(&req.obs),
        req.forecast_at.as_ref(),
        req.events.as_ref(),
    ] {
        h.update(b"\0");
        if let Some(f) = f {
            h.update(crate::output::io::sha256_file(f)?.as_bytes());
        }
    }
    h.update(format!("\0{:?}", req.shard.map(|s| (s.index, s.count))).as_bytes());
    Ok(crate::drivers::checkpoint::Identity {
        scene_sha256: job.setup.plan.scene_sha256.clone(),
        plan_sha256: crate::input::scene::hex(&h.finalize()),
        commit: crate::drivers::manifest::commit().map(str::to_string),
        backend: backend.name().to_string(),
        adapter: serde_json::to_value(backend.adapter())
            .map_err(|e| AssimilateError::Invalid(format!("describing the adapter: {e}")))?,
    })
}

/// The filter and output options of the command (what shards of one run
/// share): everything the parser kept but the shard, the folder and
/// `--force`, in a fixed form.
fn shard_options(req: &Request) -> String {
    let f = &req.filter;
    format!(
        "method={:?} members={:?} inflation={:?} loc_radius={:?} rotate={} \
         resample_threshold={:?} jitter={:?} seed={:?} quantiles={:?} members_out={} format={:?}",
        f.method.map(|m| m.name()),
        f.members,
        f.inflation,
        f.loc_radius,
        f.rotate,
        f.resample_threshold,
        f.jitter,
        f.seed,
        req.quantiles,
        req.members_out,
        req.format.map(|t| t.extension()),
    )
}

/// Says, per estimated parameter, the prior and the spread of patients'
/// posterior medians, and warns when posteriors pile up at a bound.
fn print_posterior(out: &patients::PatientOutput, log: Log<'_>) {
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
        log(&format!(
            "  {name}: prior median {p:.4} [{lo:.4}, {hi:.4}]; posterior medians over {} patients: median {:.4} [5 %: {:.4}, 95 %: {:.4}]",
            rows.len(),
            q(0.5),
            q(0.05),
            q(0.95)
        ));
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
        let log_scale = blo > 0.0 && bhi.is_finite();
        let near = |m: f64, b: f64| {
            b.is_finite()
                && if log_scale {
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
            log(&format!(
                "  warning: {name}: the posterior median of {at_bound} patient(s) lies within 1 % of a bound [{blo}, {bhi}]: widen the prior or the bounds"
            ));
        }
    }
}
