//! `vtwin merge DIR... --out DIR`: joins the shard folders of one `run`,
//! `sweep`, `cohort` or `assimilate` (the kind is read from their
//! manifests) into the folder the unsharded command writes. The set is
//! checked first (`crate::drivers::shard::check_set`: one scene, seed, K and total;
//! every shard once; no gap, no overlap) and every file against its shard's
//! manifest hashes, so an edited or truncated shard is refused, not merged.
//!
//! Owns: reading the shard records, the dispatch by kind, the cohort merge
//! and [`MergeError`]. Run and sweep shards are joined in
//! [`super::merge_runs`], assimilate shards in [`super::assimilate_merge`].
//!
//! Cohorts: the merged tables, data dictionary and scene copy are byte for
//! byte what an unsharded `vtwin cohort` run writes; the RO-Crate records
//! the merge (a `vtwin merge` action) and the manifest hashes all.

use super::assimilate::AssimilateError;
use super::job::Observer;
use crate::drivers::shard::{ShardError, ShardKind};
use crate::methods::cohort::crate_meta::{self, CrateInfo, FileEntry, Property};
use crate::methods::cohort::{CohortError, CohortTables, merge};
use crate::methods::cohort_files::{self, CohortFilesError, SCENE_COPY};
use crate::output::io::IoError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a merge can fail with; displayed as the command line prints it
/// (the message, then each `source` as a "caused by" line).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The shards cannot be joined, said in full (names the folder or file).
    #[error("{0}")]
    Invalid(String),
    /// A step (`what`, e.g. "reading PATH") that failed because of `source`.
    #[error("{what}")]
    Context {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Shard(#[from] ShardError),
    #[error(transparent)]
    Cohort(#[from] CohortError),
    #[error(transparent)]
    CohortFiles(#[from] CohortFilesError),
    #[error(transparent)]
    Job(#[from] super::job::Error),
    #[error(transparent)]
    Assimilate(#[from] AssimilateError),
    #[error(transparent)]
    ParamFile(#[from] crate::input::params_file::ParamFileError),
}

impl MergeError {
    /// `source` as the cause of `what` failing.
    pub fn context(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> MergeError {
        MergeError::Context {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

/// A merge's result.
pub type Result<T, E = MergeError> = std::result::Result<T, E>;

/// `map_err` for a step that reads `path`: "reading PATH", caused by the error.
pub(crate) fn reading<E: std::error::Error + Send + Sync + 'static>(
    path: &Path,
) -> impl FnOnce(E) -> MergeError {
    let what = format!("reading {}", path.display());
    move |e| MergeError::context(what, e)
}

/// What `vtwin merge` is asked.
#[derive(Clone, Debug)]
pub struct MergeRequest {
    /// The shard folders, in any order.
    pub dirs: Vec<PathBuf>,
    /// The merged folder.
    pub out: PathBuf,
    /// Replace an existing output folder.
    pub force: bool,
}

impl MergeRequest {
    /// The folders the merge reads, which it must never overwrite.
    pub(crate) fn inputs(&self) -> Vec<&Path> {
        self.dirs.iter().map(PathBuf::as_path).collect()
    }
}

/// What a finished merge reports.
#[derive(Clone, Debug)]
pub struct Merged {
    /// The finished folder.
    pub dir: PathBuf,
    /// The command the shards came from.
    pub kind: ShardKind,
    /// Shards joined.
    pub shards: usize,
    /// Members (run, sweep) or patients (cohort, assimilate) of the whole set.
    pub total: u64,
}

/// Joins the shard folders of `req` into `req.out`.
pub fn merge(req: &MergeRequest, obs: &mut dyn Observer) -> Result<Merged> {
    let started = crate::drivers::manifest::now();
    let mut records = Vec::new();
    for d in &req.dirs {
        let path = d.join(crate::output::io::rundir::MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            MergeError::context(
                format!(
                    "reading {}: is {} a shard folder written by vtwin?",
                    path.display(),
                    d.display()
                ),
                e,
            )
        })?;
        let manifest: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| MergeError::context(format!("parsing {}", path.display()), e))?;
        records.push(crate::drivers::shard::read_record(d, &manifest)?);
    }
    let records = crate::drivers::shard::check_set(records)?;
    for d in &req.dirs {
        crate::output::io::rundir::verify_outputs(d).map_err(|e| {
            MergeError::context(
                format!("checking shard {} against its manifest", d.display()),
                e,
            )
        })?;
    }
    let kind = records[0].kind;
    let (dir, total) = match kind {
        ShardKind::Cohort => merge_cohort(req, started, obs)?,
        ShardKind::Run => super::merge_runs::merge_run(req, &records, started, obs)?,
        ShardKind::Sweep => super::merge_runs::merge_sweep(req, &records, started, obs)?,
        ShardKind::Assimilate => {
            let m = super::assimilate_merge::merge(
                &req.dirs,
                &req.out,
                req.force,
                &records,
                started,
                &mut |m| obs.note(m),
            )?;
            (m.dir, m.patients)
        }
    };
    Ok(Merged {
        dir,
        kind,
        shards: records.len(),
        total,
    })
}

/// The manifest of a merged cohort.
#[derive(Serialize)]
struct CohortManifest {
    schema_version: u32,
    engine: serde_json::Value,
    command: Vec<String>,
    scene: SceneHash,
    seed: u64,
    patients: u64,
    shards: Vec<String>,
    format: &'static str,
    started: String,
    finished: String,
}

#[derive(Serialize)]
struct SceneHash {
    sha256: String,
}

/// Joins cohort shards into the cohort they came from; returns the folder
/// and the patient count.
fn merge_cohort(
    req: &MergeRequest,
    started: DateTime<Utc>,
    obs: &mut dyn Observer,
) -> Result<(PathBuf, u64)> {
    let mut folders = Vec::new();
    for d in &req.dirs {
        folders.push(
            cohort_files::read(d)
                .map_err(|e| MergeError::context(format!("reading shard {}", d.display()), e))?,
        );
    }
    let first = &folders[0];
    let scene_bytes =
        std::fs::read(first.dir.join(SCENE_COPY)).map_err(reading(&first.dir.join(SCENE_COPY)))?;
    for f in &folders {
        if f.format != first.format {
            return Err(MergeError::Invalid(format!(
                "{} holds {} tables but {} holds {}; shards must share one format",
                f.dir.display(),
                f.format.extension(),
                first.dir.display(),
                first.format.extension()
            )));
        }
        if f.dictionary != first.dictionary {
            return Err(MergeError::Invalid(format!(
                "{} and {} have different data dictionaries (different scenes or vtwin versions)",
                f.dir.display(),
                first.dir.display()
            )));
        }
        let copy = f.dir.join(SCENE_COPY);
        let bytes = std::fs::read(&copy).map_err(reading(&copy))?;
        if crate_meta::sha256_hex(&bytes) != f.info.scene_sha256 {
            return Err(MergeError::Invalid(format!(
                "{}: the scene copy does not match the scene hash the RO-Crate records",
                copy.display()
            )));
        }
    }
    let adapters: Vec<String> = folders.iter().fold(Vec::new(), |mut acc, f| {
        let a = crate_meta::property(&f.meta, "adapter")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown")
            .to_string();
        if !acc.contains(&a) {
            acc.push(a);
        }
        acc
    });
    let fmt = first.format;
    let dictionary = first.dictionary.clone();
    let parameters = cohort_files::crate_parameters(&first.meta);
    let shards = folders.len();
    let parts = folders
        .into_iter()
        .map(|f| {
            let t = f.tables;
            (f.info, vec![t.patients, t.observations, t.outcomes])
        })
        .collect();
    let (info, tables) = merge::merge(parts)?;
    let [patients, observations, outcomes]: [_; 3] = tables
        .try_into()
        .map_err(|_| MergeError::Invalid("merge returned the wrong number of tables".into()))?;
    let tables = CohortTables {
        patients,
        observations,
        outcomes,
    };
    let dir = super::job::create_run_dir(&req.out, req.force, &req.inputs(), obs)?;
    let (results, scene_entry): (Vec<FileEntry>, FileEntry) =
        cohort_files::write_data(dir.path(), &tables, fmt, &dictionary, &scene_bytes)?;
    let mut props = info.properties();
    props.push(Property::new("merged_shards", shards.to_string()));
    let meta = crate_meta::build(&CrateInfo {
        name: "vtwin synthetic cohort (merged)".into(),
        description: format!(
            "Virtual patients 0..{} joined from {shards} shards by vtwin merge",
            info.patients
        ),
        license: None,
        software_version: env!("CARGO_PKG_VERSION").into(),
        action_name: "vtwin merge".into(),
        scene: scene_entry,
        parameters,
        results,
        seed: info.seed,
        adapter: adapters.join("; "),
        properties: props,
        start: started,
        end: crate::drivers::manifest::now(),
    });
    cohort_files::write_crate(dir.path(), &meta)?;
    let manifest = CohortManifest {
        schema_version: crate::drivers::manifest::SCHEMA_VERSION,
        engine: crate::drivers::manifest::engine_json(),
        command: crate::drivers::checkpoint::Invocation::command_line(),
        scene: SceneHash {
            sha256: info.scene_sha256.clone(),
        },
        seed: info.seed,
        patients: info.patients,
        shards: req.dirs.iter().map(|d| d.display().to_string()).collect(),
        format: fmt.extension(),
        started: crate::drivers::manifest::rfc3339(started),
        finished: crate::drivers::manifest::rfc3339(crate::drivers::manifest::now()),
    };
    let value = serde_json::to_value(&manifest)
        .map_err(|e| MergeError::context("writing the merged manifest", e))?;
    Ok((dir.finish(value)?, info.patients))
}
