//! `vtwin twin SCENE`: a twin experiment (truth run, synthetic
//! observations, assimilation, free run, arm forecasts) written as a run
//! folder with `metrics.json`, `cycles`, `analysis`, `observations.csv`,
//! posterior, forecast, events, decision and predictability tables, and a
//! manifest. [`execute`] is also the writer of single-ensemble
//! `vtwin assimilate` runs.
//!
//! Owns: the twin's folder (through [`super::resume::task_checkpointed_dir`],
//! its checkpoints per analysis), its tables and its manifest keys.

use super::job::{self, Observer, Resume};
use crate::drivers::checkpoint::CheckpointError;
use crate::drivers::manifest::PlanManifest;
use crate::engine::backend::Backend;
use crate::engine::{BackendChoice, EngineError};
use crate::input::scene::{FormatName, SceneError};
use crate::methods::twin::run::Scores;
use crate::methods::twin::setup::ObsSource;
use crate::methods::twin::{Options, Setup, TwinError, tables};
use crate::output::io::{IoError, TableFormat};
use crate::output::table::Table;
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Why a twin (or a single-ensemble assimilation) stopped.
#[derive(Debug, thiserror::Error)]
pub enum TwinRunError {
    #[error(transparent)]
    Job(#[from] job::Error),
    #[error(transparent)]
    Scene(#[from] SceneError),
    #[error(transparent)]
    Twin(#[from] TwinError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The cycles themselves failed (after the inputs were accepted).
    #[error("assimilation failed")]
    Failed(#[source] TwinError),
    /// Options that do not fit.
    #[error("{0}")]
    Invalid(String),
}

/// What `vtwin twin` was asked (its flags, parsed).
#[derive(Clone, Debug)]
pub struct TwinRequest {
    pub scene: PathBuf,
    /// Filter overrides, `cycles` included.
    pub filter: Options,
    pub checkpoint_every: Option<u64>,
    pub output: WriteOptions,
    pub backend: BackendChoice,
    pub adapter: Option<String>,
    pub batch_size: Option<u32>,
}

/// Where a twin or assimilation writes (`--out`, `--force`, `--format`).
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// Default: `runs/<scene>-<timestamp>`, or the resumed run's folder.
    pub out: Option<PathBuf>,
    pub force: bool,
    /// Default: the scene's `output.format`, else Parquet.
    pub format: Option<TableFormat>,
}

/// `--checkpoint-every` and the run `vtwin resume` continues, for [`execute`].
#[derive(Clone, Copy, Default)]
pub struct Resumable<'a> {
    pub every: Option<u64>,
    pub resume: Option<&'a Resume>,
}

/// What a finished twin or assimilation reports.
pub struct TwinOutcome {
    /// The finished folder.
    pub dir: PathBuf,
    /// The decision table of the arm forecasts, if the run forecast.
    pub decision: Option<Table>,
    /// The twin's scores (a twin only).
    pub scores: Option<Scores>,
}

/// The twin's own manifest keys, after the caller's (`extra`).
#[derive(Serialize)]
struct TwinKeys {
    #[serde(flatten)]
    extra: Map<String, Value>,
    assimilation: Value,
    format: &'static str,
    time_unit: String,
}

/// Runs `req`, or with `resume` continues it in its kept temporary folder.
pub fn run(
    req: &TwinRequest,
    resume: Option<&Resume>,
    obs: &mut dyn Observer,
) -> Result<TwinOutcome, TwinRunError> {
    let scene = crate::drivers::scenes::load(&req.scene)?;
    let setup = Setup::new(&scene, &req.filter, ObsSource::Twin)?;
    let backend = Backend::open(req.backend, req.adapter.as_deref(), &mut |m| obs.note(&m))?;
    let mut extra = Map::new();
    extra.insert("command_kind".into(), Value::from("twin"));
    execute(
        &setup,
        &backend,
        req.batch_size,
        &req.output,
        &[&req.scene],
        true,
        Value::Object(extra),
        Resumable {
            every: req.checkpoint_every,
            resume,
        },
        obs,
    )
}

/// Runs the cycles and writes the run folder; shared by `assimilate`.
/// `extra`: the caller's manifest keys (a JSON object).
/// `inputs` are the command's input files, the scene first (never
/// overwritten or replaced by the output folder).
#[allow(clippy::too_many_arguments)] // the command's parts, one call each from twin and assimilate
pub fn execute(
    setup: &Setup,
    backend: &Backend,
    batch_size: Option<u32>,
    output: &WriteOptions,
    inputs: &[&Path],
    twin: bool,
    extra: Value,
    resumable: Resumable<'_>,
    obs: &mut dyn Observer,
) -> Result<TwinOutcome, TwinRunError> {
    let scene_path = inputs.first().copied().unwrap_or(Path::new("scene"));
    let started = crate::drivers::manifest::now();
    let out_dir = match (&output.out, resumable.resume) {
        (Some(o), _) => o.clone(),
        (None, Some(r)) => r.out.clone(),
        (None, None) => job::default_out(scene_path, "twin"),
    };
    let every = match resumable.every {
        Some(n) => Some(usize::try_from(n).map_err(|e| TwinRunError::Invalid(format!("{e}")))?),
        None => None,
    };
    let identity = job::identity(&setup.plan.scene_sha256, &setup.plan.sha256, backend)?;
    let target = job::Output {
        out: out_dir,
        force: output.force,
        inputs: inputs.to_vec(),
        checkpoint_every: resumable.every,
    };
    let (dir, tasks) =
        super::resume::task_checkpointed_dir(&target, identity.clone(), resumable.resume, obs)?;
    let (start, mut log) = match (&tasks, resumable.resume) {
        (Some(t), Some(_)) => {
            let path = crate::drivers::checkpoint::checkpoint_path(&t.temp);
            if path.is_file() {
                let (s, log) = crate::drivers::checkpoint_twin::read(&path, &identity, setup)?;
                (Some(s), Some(log))
            } else {
                (
                    None,
                    Some(crate::drivers::checkpoint_twin::RecordLog::fresh(&t.temp)?),
                )
            }
        }
        (Some(t), None) => (
            None,
            Some(crate::drivers::checkpoint_twin::RecordLog::fresh(&t.temp)?),
        ),
        _ => (None, None),
    };
    let fmt = output
        .format
        .unwrap_or(match setup.scene.file.output.format {
            Some(FormatName::Csv) => TableFormat::Csv,
            _ => TableFormat::Parquet,
        });
    let f = &setup.filter;
    obs.note(&format!(
        "vtwin {}: {} ({}), {} {} members, {} analyses{}, backend {}",
        if twin { "twin" } else { "assimilate" },
        scene_path.display(),
        setup.plan.model.info().kind,
        f.method.name(),
        setup.members,
        setup.schedule.len(),
        setup
            .horizon_step
            .map(|h| format!(
                ", forecast of {} arm(s) to t = {}",
                setup.scene.arms().len(),
                setup.plan.model.time_at(h)
            ))
            .unwrap_or_default(),
        backend.name()
    ));
    obs.start(setup.schedule.len() as u64, "cycles");
    let mut save = |st: &crate::methods::twin::run::TwinState| -> Result<(), TwinError> {
        if let (Some(t), Some(log)) = (&tasks, log.as_mut()) {
            crate::drivers::checkpoint_twin::write_into(
                &t.temp,
                st,
                &t.identity,
                &t.invocation,
                log,
            )
            .map_err(|e| TwinError::Invalid(format!("writing a checkpoint: {e}")))?;
        }
        Ok(())
    };
    let ckpt = every.map(|every| crate::methods::twin::run::Checkpointing {
        every,
        start,
        save: &mut save,
    });
    let out = crate::methods::twin::run::run_from(
        setup,
        backend,
        batch_size,
        twin,
        ckpt,
        &mut |done, _| obs.advance(done as u64),
    )
    .map_err(TwinRunError::Failed)?;
    obs.finish();
    let mut extra_metrics = Map::new();
    dir.write_table(&tables::cycles_table(&out), fmt)?;
    dir.write_table(&tables::analysis_table(&out), fmt)?;
    crate::output::io::write_csv(
        &dir.file("observations.csv"),
        &tables::observations_table(&out),
    )?;
    if !out.posterior.names.is_empty() {
        dir.write_table(&tables::posterior_table(&out.posterior), fmt)?;
        let (t, summary) = tables::posterior_summary(&out.posterior);
        dir.write_table(&t, fmt)?;
        extra_metrics.insert("parameters".into(), summary);
    }
    let mut decision_out = None;
    if let Some(fc) = &out.forecast {
        let names = &out.observable_names;
        dir.write_table(&tables::forecast_table(fc, names), fmt)?;
        if !setup.events.is_empty() {
            dir.write_table(&tables::events_table(fc, &setup.events), fmt)?;
        }
        let decision = tables::decision_table(fc, &setup.events, names);
        for line in decision_lines(&decision) {
            obs.note(&line);
        }
        dir.write_table(&decision, fmt)?;
        decision_out = Some(decision);
        if let Some((t, summary)) = tables::predictability(fc, names) {
            dir.write_table(&t, fmt)?;
            extra_metrics.insert("forecast".into(), summary);
        }
    }
    let metrics = tables::metrics(setup, &out, extra_metrics);
    if twin {
        dir.write_json("metrics.json", &metrics)?;
        if let Some(s) = &out.scores {
            obs.note(&format!(
                "vtwin twin: rmse_analysis {:.4}, rmse_forecast {:.4}, spread {:.4}, rmse_free {:.4} over {} scored cycles",
                s.rmse_analysis, s.rmse_forecast, s.spread, s.rmse_free, s.scored_cycles
            ));
        }
    }
    let keys = TwinKeys {
        extra: match extra {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        assimilation: metrics,
        format: fmt.extension(),
        time_unit: setup.plan.model.info().time_unit.clone(),
    };
    let manifest = PlanManifest::new(&setup.plan, backend, started, 0, keys);
    // The last checkpoint stays as `checkpoint.vtc`: the state `vtwin fork` continues from.
    crate::drivers::checkpoint_twin::inline(dir.path())?;
    crate::drivers::checkpoint::finalize(dir.path())?;
    let value = serde_json::to_value(&manifest).map_err(job::Error::from)?;
    let final_dir = dir.finish(value)?;
    Ok(TwinOutcome {
        dir: final_dir,
        decision: decision_out,
        scores: if twin { out.scores } else { None },
    })
}

/// The decision table as the command line prints it: a heading, then one
/// line per arm and quantity (estimate and 95 % Monte Carlo interval).
pub fn decision_lines(t: &Table) -> Vec<String> {
    use crate::output::table::Values;
    let (
        Some(Values::Str(arm)),
        Some(Values::Str(q)),
        Some(Values::F64(e)),
        Some(Values::F64(lo)),
        Some(Values::F64(hi)),
    ) = (
        t.column("arm"),
        t.column("quantity"),
        t.column("estimate"),
        t.column("mc_lo"),
        t.column("mc_hi"),
    )
    else {
        return Vec::new();
    };
    let mut lines = vec!["decision support (estimate [95 % Monte Carlo interval]):".to_string()];
    for r in 0..t.rows() {
        lines.push(format!(
            "  {:<12} {:<40} {:>12.4} [{:.4}, {:.4}]",
            arm[r].as_deref().unwrap_or(""),
            q[r].as_deref().unwrap_or(""),
            e[r].unwrap_or(f64::NAN),
            lo[r].unwrap_or(f64::NAN),
            hi[r].unwrap_or(f64::NAN)
        ));
    }
    lines
}
