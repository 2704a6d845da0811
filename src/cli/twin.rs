//! `vtwin twin SCENE`: a twin experiment (truth run, synthetic
//! observations, assimilation, free run, arm forecasts) written as a run
//! directory with `metrics.json`, `cycles`, `analysis`, `observations.csv`,
//! posterior, forecast, events, decision and predictability tables, and a
//! manifest. The output writing is shared with `vtwin assimilate`.

use super::{EngineArgs, progress_bar};
use crate::backend::Backend;
use crate::io::TableFormat;
use crate::scene::{FormatName, MethodName, Scene};
use crate::twin::setup::ObsSource;
use crate::twin::{Options, Setup, tables};
use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

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

/// `--checkpoint-every` and the run `vtwin resume` continues, for [`execute`].
#[derive(Clone, Copy, Default)]
pub struct Resumable<'a> {
    pub every: Option<u64>,
    pub resume: Option<&'a super::resume::Resume>,
}

pub fn run(args: &TwinArgs) -> Result<i32> {
    run_with(args, None)
}

/// `twin`, or with `resume` the continuation of an interrupted one in its
/// kept temporary folder (`vtwin resume`).
pub fn run_with(args: &TwinArgs, resume: Option<&super::resume::Resume>) -> Result<i32> {
    let scene = Scene::load(&args.scene)?;
    let setup = Setup::new(&scene, &args.filter.options(args.cycles), ObsSource::Twin)?;
    let backend = args.engine.open()?;
    execute(
        &setup,
        &backend,
        &args.engine,
        &args.output,
        &[&args.scene],
        true,
        json!({"command_kind": "twin"}),
        Resumable {
            every: args.checkpoint_every,
            resume,
        },
    )
}

/// Runs the cycles and writes the run directory; shared by `assimilate`.
/// `inputs` are the command's input files, the scene first (never
/// overwritten or replaced by the output folder).
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
    let scene_path = inputs.first().copied().unwrap_or(Path::new("scene"));
    let started = crate::manifest::now();
    let out_dir = match (&output.out, resumable.resume) {
        (Some(o), _) => o.clone(),
        (None, Some(r)) => r.out.clone(),
        (None, None) => super::run::default_out(scene_path, "twin"),
    };
    let every = match resumable.every {
        Some(n) => Some(usize::try_from(n)?),
        None => None,
    };
    let identity = super::resume::identity(&setup.plan.scene_sha256, &setup.plan.sha256, backend)?;
    let (dir, tasks) = super::resume::task_checkpointed_dir(
        &out_dir,
        output.force,
        inputs,
        resumable.every,
        identity.clone(),
        resumable.resume,
    )?;
    let (start, mut log) = match (&tasks, resumable.resume) {
        (Some(t), Some(_)) => {
            let path = crate::checkpoint::checkpoint_path(&t.temp);
            if path.is_file() {
                let (s, log) = crate::checkpoint_twin::read(&path, &identity, setup)?;
                (Some(s), Some(log))
            } else {
                (
                    None,
                    Some(crate::checkpoint_twin::RecordLog::fresh(&t.temp)?),
                )
            }
        }
        (Some(t), None) => (
            None,
            Some(crate::checkpoint_twin::RecordLog::fresh(&t.temp)?),
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
    eprintln!(
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
    );
    let bar = progress_bar(setup.schedule.len() as u64, "cycles");
    let mut save = |st: &crate::twin::run::TwinState| -> Result<(), crate::twin::TwinError> {
        if let (Some(t), Some(log)) = (&tasks, log.as_mut()) {
            crate::checkpoint_twin::write_into(&t.temp, st, &t.identity, &t.invocation, log)
                .map_err(|e| {
                    crate::twin::TwinError::Invalid(format!("writing a checkpoint: {e}"))
                })?;
        }
        Ok(())
    };
    let ckpt = every.map(|every| crate::twin::run::Checkpointing {
        every,
        start,
        save: &mut save,
    });
    let out = crate::twin::run::run_from(
        setup,
        backend,
        engine.batch_size,
        twin,
        ckpt,
        &mut |done, _| bar.set_position(done as u64),
    )
    .context("assimilation failed")?;
    bar.finish_and_clear();
    let mut extra_metrics = Map::new();
    dir.write_table(&tables::cycles_table(&out), fmt)?;
    dir.write_table(&tables::analysis_table(&out), fmt)?;
    crate::io::write_csv(
        &dir.file("observations.csv"),
        &tables::observations_table(&out),
    )?;
    if !out.posterior.names.is_empty() {
        dir.write_table(&tables::posterior_table(&out.posterior), fmt)?;
        let (t, summary) = tables::posterior_summary(&out.posterior);
        dir.write_table(&t, fmt)?;
        extra_metrics.insert("parameters".into(), summary);
    }
    if let Some(fc) = &out.forecast {
        let names = &out.observable_names;
        dir.write_table(&tables::forecast_table(fc, names), fmt)?;
        if !setup.events.is_empty() {
            dir.write_table(&tables::events_table(fc, &setup.events), fmt)?;
        }
        let decision = tables::decision_table(fc, &setup.events, names);
        print_decision(&decision);
        dir.write_table(&decision, fmt)?;
        if let Some((t, summary)) = tables::predictability(fc, names) {
            dir.write_table(&t, fmt)?;
            extra_metrics.insert("forecast".into(), summary);
        }
    }
    let metrics = tables::metrics(setup, &out, extra_metrics);
    if twin {
        dir.write_json("metrics.json", &metrics)?;
        if let Some(s) = &out.scores {
            eprintln!(
                "vtwin twin: rmse_analysis {:.4}, rmse_forecast {:.4}, spread {:.4}, rmse_free {:.4} over {} scored cycles",
                s.rmse_analysis, s.rmse_forecast, s.spread, s.rmse_free, s.scored_cycles
            );
        }
    }
    let mut extra = extra;
    if let Some(obj) = extra.as_object_mut() {
        obj.insert("assimilation".into(), metrics);
        obj.insert("format".into(), json!(fmt.extension()));
        obj.insert("time_unit".into(), json!(setup.plan.model.info().time_unit));
    }
    let kind = extra["command_kind"].as_str().unwrap_or("twin").to_string();
    let manifest = crate::manifest::for_plan(&setup.plan, backend, started, 0, extra);
    // The last checkpoint stays as `checkpoint.vtc`: the state `vtwin fork` continues from.
    crate::checkpoint_twin::inline(dir.path())?;
    crate::checkpoint::finalize(dir.path())?;
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    super::report::print_summary(&kind, &final_dir);
    Ok(0)
}

fn print_decision(t: &crate::table::Table) {
    use crate::table::Values;
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
        return;
    };
    eprintln!("decision support (estimate [95 % Monte Carlo interval]):");
    for r in 0..t.rows() {
        eprintln!(
            "  {:<12} {:<40} {:>12.4} [{:.4}, {:.4}]",
            arm[r].as_deref().unwrap_or(""),
            q[r].as_deref().unwrap_or(""),
            e[r].unwrap_or(f64::NAN),
            lo[r].unwrap_or(f64::NAN),
            hi[r].unwrap_or(f64::NAN)
        );
    }
}
