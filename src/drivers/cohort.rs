//! `vtwin cohort SCENE --patients N --out DIR`: a synthetic cohort (or one
//! shard of it) simulated under every arm and written as a cohort folder
//! (tables, data dictionary, scene copy, RO-Crate, manifest), atomically;
//! also the continuation of an interrupted one (`vtwin resume`).
//!
//! Owns: the cohort's checks of its options, its folder (through
//! [`super::resume::task_checkpointed_dir`], one checkpointed task per arm
//! and chunk of patients) and its manifest ([`CohortManifest`], shared with
//! `vtwin fork` of a cohort task).

use super::job::{self, Observer, Resume};
use crate::drivers::cohort_sim::{self, CohortSetup, CohortSimError, EngineSource};
use crate::drivers::manifest::{EngineInfo, SceneRef};
use crate::engine::backend::{AdapterSummary, Backend};
use crate::engine::{BackendChoice, EngineError};
use crate::input::scene::{FormatName, Scene, SceneError};
use crate::methods::cohort::crate_meta::{self, CrateInfo, Property};
use crate::methods::cohort::dictionary::{self, ColumnDocs};
use crate::methods::cohort::export::ExportCounts;
use crate::methods::cohort::merge::{Shard, ShardInfo};
use crate::methods::cohort::{
    CohortError, CohortTables, build_cohort_with_visits, columns, export,
};
use crate::methods::cohort_files::{self, CohortFilesError};
use crate::output::io::{IoError, TableFormat};
use serde::Serialize;
use std::path::PathBuf;

/// Why a cohort (or a fork of one of its tasks) stopped.
#[derive(Debug, thiserror::Error)]
pub enum CohortRunError {
    #[error(transparent)]
    Job(#[from] job::Error),
    #[error(transparent)]
    Scene(#[from] SceneError),
    #[error(transparent)]
    Sim(#[from] CohortSimError),
    #[error(transparent)]
    Cohort(#[from] CohortError),
    #[error(transparent)]
    Files(#[from] CohortFilesError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Io(#[from] IoError),
    /// Options that do not fit, said in full.
    #[error("{0}")]
    Invalid(String),
}

/// What `vtwin cohort` was asked (its flags, parsed).
#[derive(Clone, Debug)]
pub struct CohortRequest {
    pub scene: PathBuf,
    /// Patients in the whole cohort (all shards together).
    pub patients: u64,
    pub out: PathBuf,
    pub force: bool,
    pub seed: Option<u64>,
    pub shard: Option<Shard>,
    pub format: Option<TableFormat>,
    /// Patients per engine plan.
    pub chunk: usize,
    pub export_obs: bool,
    pub checkpoint_every: Option<u64>,
    pub backend: BackendChoice,
    pub adapter: Option<String>,
    pub batch_size: Option<u32>,
}

/// What a finished cohort reports.
pub struct CohortOutcome {
    pub dir: PathBuf,
    /// Patients in this folder.
    pub count: u64,
    pub plausible: usize,
    pub exported: Option<ExportCounts>,
    /// Simulations (patient × arm) that diverged or saturated.
    pub failed_sims: u64,
    /// Patients with at least one failed simulation.
    pub failed_patients: usize,
}

/// A cohort folder's manifest: the provenance keys, then the command's own
/// (`extra`, flattened). Keys are written sorted.
#[derive(Serialize)]
pub struct CohortManifest<X: Serialize> {
    pub schema_version: u32,
    pub engine: EngineInfo,
    pub command: Vec<String>,
    pub scene: SceneRef,
    pub seed: u64,
    pub backend: String,
    pub adapter: Option<AdapterSummary>,
    pub format: &'static str,
    pub started: String,
    pub finished: String,
    #[serde(flatten)]
    pub extra: X,
}

impl<X: Serialize> CohortManifest<X> {
    /// The manifest of a cohort job of `scene` that started at `started`
    /// and finishes now.
    pub fn new(
        scene: &Scene,
        seed: u64,
        backend: &Backend,
        fmt: TableFormat,
        started: chrono::DateTime<chrono::Utc>,
        extra: X,
    ) -> CohortManifest<X> {
        CohortManifest {
            schema_version: crate::drivers::manifest::SCHEMA_VERSION,
            engine: EngineInfo::current(),
            command: crate::drivers::checkpoint::Invocation::command_line(),
            scene: SceneRef {
                path: scene.path.display().to_string(),
                sha256: scene.sha256.clone(),
            },
            seed,
            backend: backend.name().to_string(),
            adapter: backend.adapter(),
            format: fmt.extension(),
            started: crate::drivers::manifest::rfc3339(started),
            finished: crate::drivers::manifest::rfc3339(crate::drivers::manifest::now()),
            extra,
        }
    }
}

/// The `shard` key of a cohort's manifest.
#[derive(Serialize)]
struct ShardNote {
    index: u64,
    count: u64,
    first_patient: u64,
    end_patient: u64,
}

/// The cohort's own manifest keys.
#[derive(Serialize)]
struct CohortKeys<'a> {
    patients: u64,
    shard: ShardNote,
    arms: &'a [String],
    plausible_patients: usize,
    simulations_failed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    export_obs: Option<&'a ExportCounts>,
}

/// The table format: `--format`, else the scene's, else Parquet.
pub fn table_format(format: Option<TableFormat>, scene: &Scene) -> TableFormat {
    format.unwrap_or(match scene.file.output.format {
        Some(FormatName::Csv) => TableFormat::Csv,
        _ => TableFormat::Parquet,
    })
}

/// The adapter as the RO-Crate records it (`cpu` on the CPU backend).
pub fn adapter_text(backend: &Backend) -> String {
    backend
        .adapter()
        .map(|a| format!("{} ({})", a.name, a.backend))
        .unwrap_or_else(|| "cpu".into())
}

/// The RO-Crate parameters: each of the block's distributions.
pub fn crate_parameters(setup: &CohortSetup) -> Vec<Property> {
    setup
        .block
        .params
        .iter()
        .map(|p| Property::new(&p.name, cohort_files::describe_distribution(&p.dist)))
        .collect()
}

/// Runs `req`, or with `resume` continues it in its kept temporary folder.
pub fn run(
    req: &CohortRequest,
    resume: Option<&Resume>,
    obs: &mut dyn Observer,
) -> Result<CohortOutcome, CohortRunError> {
    let started = crate::drivers::manifest::now();
    let scene = crate::drivers::scenes::load(&req.scene)?;
    let setup = CohortSetup::new(&scene, req.seed)?;
    let sampler = setup.sampler()?;
    let n = req.patients;
    let invalid = |m: String| Err(CohortRunError::Invalid(m));
    if n == 0 || n > 1u64 << 32 {
        return invalid(format!("--patients {n}: give 1 to 2³² patients"));
    }
    let shard = req.shard.unwrap_or(Shard { index: 0, count: 1 });
    let range = shard.range(n);
    if range.is_empty() {
        return invalid(format!(
            "--shard {}/{}: shard holds no patients of {n}; use fewer shards",
            shard.index, shard.count
        ));
    }
    if req.export_obs && shard.count > 1 {
        return invalid(
            "--export-obs writes whole-cohort files; run it without --shard".to_string(),
        );
    }
    if let Err(m) =
        crate::input::limits::check_members("patients in one shard", range.end - range.start)
    {
        return invalid(format!(
            "--patients {n}: {m}; split the cohort with --shard I/K"
        ));
    }
    let fmt = table_format(req.format, &scene);
    let backend = Backend::open(req.backend, req.adapter.as_deref(), &mut |m| obs.note(&m))?;
    let adapter = adapter_text(&backend);
    let output = job::Output {
        out: req.out.clone(),
        force: req.force,
        inputs: vec![req.scene.as_path()],
        checkpoint_every: req.checkpoint_every,
    };
    let identity = job::identity(&scene.sha256, "", &backend)?;
    let (dir, checkpoints) = super::resume::task_checkpointed_dir(&output, identity, resume, obs)?;
    let count = range.end - range.start;
    obs.note(&format!(
        "vtwin cohort: {} patients {}..{} of {n} × {} arms ({}), seed {}, backend {}",
        count,
        range.start,
        range.end,
        setup.arms.len(),
        setup.arms.join(", "),
        setup.seed,
        adapter
    ));
    obs.start(count * setup.arms.len() as u64, "patient-arms");
    let mut done = 0;
    let mut source = EngineSource::new(&scene, &setup, &backend, req.batch_size, req.chunk, |k| {
        done += k;
        obs.advance(done)
    })
    .with_checkpoints(checkpoints);
    let (mut tables, visits) =
        build_cohort_with_visits(&sampler, range.clone(), &mut source, req.export_obs)
            .map_err(|e| cohort_sim::locate(&scene, e))?;
    let failed = source.failed_patients().to_vec();
    let failed_sims = source.failed;
    drop(source);
    obs.finish();
    cohort_sim::mark_failed(&mut tables, &failed)?;

    let docs = ColumnDocs::for_cohort(&setup.spec, &setup.block, &setup.param_units);
    let dict = dictionary::to_json(&dictionary::build(&tables.tables(), &docs)?);
    let (mut results, scene_entry) =
        cohort_files::write_data(dir.path(), &tables, fmt, &dict, scene.source.as_bytes())?;
    let exported = if req.export_obs {
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
    let stem = req
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
        parameters: crate_parameters(&setup),
        results,
        seed: setup.seed,
        adapter,
        properties: props,
        start: started,
        end: crate::drivers::manifest::now(),
    });
    cohort_files::write_crate(dir.path(), &meta)?;
    let plausible = count_plausible(&tables)?;
    let keys = CohortKeys {
        patients: n,
        shard: ShardNote {
            index: shard.index,
            count: shard.count,
            first_patient: range.start,
            end_patient: range.end,
        },
        arms: &setup.arms,
        plausible_patients: plausible,
        simulations_failed: failed_sims,
        export_obs: exported.as_ref(),
    };
    let manifest = CohortManifest::new(&scene, setup.seed, &backend, fmt, started, keys);
    let manifest = serde_json::to_value(&manifest).map_err(job::Error::from)?;
    crate::drivers::checkpoint::discard(dir.path())?;
    let final_dir = dir.finish(manifest)?;
    Ok(CohortOutcome {
        dir: final_dir,
        count,
        plausible,
        exported,
        failed_sims,
        failed_patients: failed.len(),
    })
}

fn count_plausible(t: &CohortTables) -> Result<usize, CohortError> {
    Ok(columns::bools(&t.patients, "plausible")?
        .iter()
        .filter(|b| **b == Some(true))
        .count())
}
