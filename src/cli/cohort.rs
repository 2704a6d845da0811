//! `vtwin cohort SCENE --patients N --out DIR`: a synthetic cohort (or one
//! shard of it) simulated under every arm and written as a cohort folder
//! (tables, data dictionary, scene copy, RO-Crate, manifest), atomically.

use super::{EngineArgs, progress_bar};
use crate::cohort::crate_meta::{self, CrateInfo, Property};
use crate::cohort::dictionary::{self, ColumnDocs};
use crate::cohort::merge::{Shard, ShardInfo};
use crate::cohort::{CohortTables, build_cohort_with_visits, columns, export};
use crate::cohort_files;
use crate::cohort_sim::{self, CohortSetup, EngineSource};
use crate::io::TableFormat;
use crate::scene::{FormatName, Scene};
use anyhow::Result;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct CohortArgs {
    /// Scene file (TOML) with a [cohort] section (docs/cohort.md).
    pub scene: PathBuf,
    /// Virtual patients in the whole cohort (all shards together), 1 to 2³².
    #[arg(long)]
    pub patients: u64,
    /// Output folder. Refused if it exists, unless --force.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Seed (default: the scene's `ensemble.seed`). Everything about patient
    /// i depends only on (scene, seed, i).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write only shard I of K (counted from 0: `0/2` and `1/2` make a
    /// whole); the shard holds patients ⌊N·I/K⌋ .. ⌊N·(I+1)/K⌋. Join shard
    /// folders with `vtwin merge`.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Table format (default: the scene's `output.format`, else parquet).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
    /// Patients per engine plan: bounds memory and sets how often progress
    /// moves; never changes results.
    #[arg(long, default_value_t = 2048)]
    pub chunk: usize,
    /// Also write each patient's observed visits (assigned arm) as a long
    /// observation file, the noiseless values and a fit/held-out split
    /// (`[cohort.export]`, docs/cohort.md). Not with --shard.
    #[arg(long)]
    pub export_obs: bool,
    /// Save a checkpoint every N steps of each simulation (one per arm and
    /// chunk of patients) into the cohort's temporary folder; an
    /// interrupted cohort continues with `vtwin resume OUT`.
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Returns the process exit code.
pub fn run(args: &CohortArgs) -> Result<i32> {
    run_with(args, None)
}

/// `cohort`, or with `resume` the continuation of an interrupted one in
/// its kept temporary folder (`vtwin resume`).
pub fn run_with(args: &CohortArgs, resume: Option<&super::resume::Resume>) -> Result<i32> {
    let started = crate::manifest::now();
    let scene = Scene::load(&args.scene)?;
    let setup = CohortSetup::new(&scene, args.seed)?;
    let sampler = setup.sampler()?;
    let n = args.patients;
    if n == 0 || n > 1u64 << 32 {
        anyhow::bail!("--patients {n}: give 1 to 2³² patients");
    }
    let shard = args.shard.unwrap_or(Shard { index: 0, count: 1 });
    let range = shard.range(n);
    if range.is_empty() {
        anyhow::bail!(
            "--shard {}/{}: shard holds no patients of {n}; use fewer shards",
            shard.index,
            shard.count
        );
    }
    if args.export_obs && shard.count > 1 {
        anyhow::bail!("--export-obs writes whole-cohort files; run it without --shard");
    }
    crate::limits::check_members("patients in one shard", range.end - range.start)
        .map_err(|m| anyhow::anyhow!("--patients {n}: {m}; split the cohort with --shard I/K"))?;
    let fmt = args.format.unwrap_or(match scene.file.output.format {
        Some(FormatName::Csv) => TableFormat::Csv,
        _ => TableFormat::Parquet,
    });
    let backend = args.engine.open()?;
    let adapter = backend
        .adapter()
        .map(|a| format!("{} ({})", a.name, a.backend))
        .unwrap_or_else(|| "cpu".into());
    let (dir, checkpoints) = super::resume::task_checkpointed_dir(
        &args.out,
        args.force,
        &[args.scene.as_path()],
        args.checkpoint_every,
        super::resume::identity(&scene.sha256, "", &backend)?,
        resume,
    )?;
    let count = range.end - range.start;
    eprintln!(
        "vtwin cohort: {} patients {}..{} of {n} × {} arms ({}), seed {}, backend {}",
        count,
        range.start,
        range.end,
        setup.arms.len(),
        setup.arms.join(", "),
        setup.seed,
        adapter
    );
    let bar = progress_bar(count * setup.arms.len() as u64, "patient-arms");
    let mut source = EngineSource::new(
        &scene,
        &setup,
        &backend,
        args.engine.batch_size,
        args.chunk,
        |k| bar.inc(k),
    )
    .with_checkpoints(checkpoints);
    let (mut tables, visits) =
        build_cohort_with_visits(&sampler, range.clone(), &mut source, args.export_obs)
            .map_err(|e| cohort_sim::locate(&scene, e))?;
    bar.finish_and_clear();
    let failed = source.failed_patients().to_vec();
    let failed_sims = source.failed;
    drop(source);
    cohort_sim::mark_failed(&mut tables, &failed)?;

    let docs = ColumnDocs::for_cohort(&setup.spec, &setup.block, &setup.param_units);
    let dict = dictionary::to_json(&dictionary::build(&tables.tables(), &docs)?);
    let (mut results, scene_entry) =
        cohort_files::write_data(dir.path(), &tables, fmt, &dict, scene.source.as_bytes())?;
    let exported = if args.export_obs {
        let files = export::patient_files(&visits, &setup.spec.export);
        results.extend(cohort_files::write_patient_files(dir.path(), &files)?);
        Some(files.counts)
    } else {
        None
    };
    let info = ShardInfo {
        scene_sha256: scene.sha256.clone(),
        seed: setup.seed,
        patients: n,
        range: range.clone(),
    };
    let mut props = info.properties();
    props.extend([
        Property::new("arms", setup.arms.join(", ")),
        Property::new("shard", format!("{}/{}", shard.index, shard.count)),
        Property::new("backend", backend.name()),
        Property::new("simulations_failed", failed_sims.to_string()),
    ]);
    let stem = args
        .scene
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta = crate_meta::build(&CrateInfo {
        name: format!("vtwin synthetic cohort `{stem}`"),
        description: format!(
            "Virtual patients {}..{} of {n} simulated under every arm ({}) with vtwin{}",
            range.start,
            range.end,
            setup.arms.join(", "),
            scene
                .file
                .description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        license: None,
        software_version: env!("CARGO_PKG_VERSION").into(),
        action_name: "vtwin cohort".into(),
        scene: scene_entry,
        parameters: setup
            .block
            .params
            .iter()
            .map(|p| Property::new(&p.name, cohort_files::describe_distribution(&p.dist)))
            .collect(),
        results,
        seed: setup.seed,
        adapter: adapter.clone(),
        properties: props,
        start: started,
        end: crate::manifest::now(),
    });
    cohort_files::write_crate(dir.path(), &meta)?;
    let plausible = count_plausible(&tables)?;
    let mut manifest = json!({
        "schema_version": crate::manifest::SCHEMA_VERSION,
        "engine": crate::manifest::engine_json(),
        "command": crate::checkpoint::Invocation::command_line(),
        "scene": { "path": scene.path.display().to_string(), "sha256": scene.sha256 },
        "seed": setup.seed,
        "backend": backend.name(),
        "adapter": backend.adapter(),
        "patients": n,
        "shard": { "index": shard.index, "count": shard.count,
                   "first_patient": range.start, "end_patient": range.end },
        "arms": setup.arms,
        "format": fmt.extension(),
        "plausible_patients": plausible,
        "simulations_failed": failed_sims,
        "started": crate::manifest::rfc3339(started),
        "finished": crate::manifest::rfc3339(crate::manifest::now()),
    });
    if let Some(c) = &exported {
        manifest["export_obs"] = json!(c);
    }
    crate::checkpoint::discard(dir.path())?;
    let final_dir = dir.finish(manifest)?;
    println!("{}", final_dir.display());
    eprintln!(
        "vtwin cohort: {count} patients ({plausible} plausible) written to {}",
        final_dir.display()
    );
    if let Some(c) = &exported {
        eprintln!(
            "vtwin cohort: exported {} observed visits of {} series ({} missing, {} censored); \
             fit {} / held out {} rows ({} series too short to split)",
            c.visits,
            c.series,
            c.missing,
            c.censored,
            c.fit_rows,
            c.heldout_rows,
            c.series_too_short
        );
    }
    if failed_sims > 0 {
        eprintln!(
            "vtwin cohort: {failed_sims} simulations of {} patients diverged or saturated; \
             those patients are marked implausible and their outputs are NaN from the failure on",
            failed.len()
        );
    }
    super::report::print_summary("cohort", &final_dir);
    Ok(0)
}

fn count_plausible(t: &CohortTables) -> Result<usize> {
    Ok(columns::bools(&t.patients, "plausible")?
        .iter()
        .filter(|b| **b == Some(true))
        .count())
}
