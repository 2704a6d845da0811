//! `vtwin select`: a virtual population picked from the plausible patients
//! of a whole cohort so that one variable matches a target distribution
//! (Allen, Rieger & Musante 2016; `cohort::select`). Writes the
//! per-patient selection table, `selection.json` (fit and acceptance rate)
//! and a manifest.
//!
//! Owns: checking the request against the cohort, the `selection.json`
//! report and the manifest's keys. The method lives in
//! [`crate::methods::cohort::select`].

use super::job::{self, Observer};
use crate::drivers::manifest::EngineInfo;
use crate::methods::cohort::error::CohortError;
use crate::methods::cohort::select::{self, SelectOn, SelectOptions, Selection};
use crate::methods::cohort::{columns, crate_meta};
use crate::methods::cohort_files::{self, CohortFilesError};
use crate::output::io::{IoError, TableFormat};
use serde::Serialize;
use std::path::PathBuf;

/// Why a selection stopped.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// The cohort folder could not be read.
    #[error("reading cohort {}", path.display())]
    Cohort {
        path: PathBuf,
        #[source]
        source: CohortFilesError,
    },
    /// Options that do not fit the cohort, said in full.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Select(#[from] CohortError),
    #[error(transparent)]
    Job(#[from] job::Error),
    #[error(transparent)]
    Io(#[from] IoError),
    /// The target file could not be read again for its hash.
    #[error(transparent)]
    Read(#[from] std::io::Error),
    /// The report or manifest could not be encoded as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// What `vtwin select` was asked (the command line's options, parsed).
#[derive(Clone, Debug)]
pub struct SelectRequest {
    /// A whole cohort folder.
    pub cohort: PathBuf,
    /// CSV file with the target sample.
    pub target: PathBuf,
    /// The variable to match (observable, outcome or patient column).
    pub observable: String,
    /// Column of the target CSV (default: `observable`).
    pub column: Option<String>,
    /// Arm whose observations or outcomes are used (default: each
    /// patient's assigned arm).
    pub arm: Option<String>,
    /// Visit index for an observable (0 = baseline).
    pub visit: i64,
    /// Seed of the acceptance draws (default: the cohort's seed).
    pub seed: Option<u64>,
    /// Smallest virtual population considered for the scaling factor.
    pub min_selected: usize,
    pub out: PathBuf,
    pub force: bool,
    /// Table format (default: the cohort's).
    pub format: Option<TableFormat>,
}

/// A finished selection: its folder and the fit.
pub struct Selected {
    pub dir: PathBuf,
    pub selection: Selection,
}

/// `selection.json`: the request and the fit.
#[derive(Serialize)]
struct Report<'a> {
    cohort: String,
    target: String,
    target_column: &'a str,
    target_size: usize,
    variable: &'a str,
    arm: &'a str,
    visit: i64,
    seed: u64,
    min_selected: usize,
    method: &'static str,
    result: &'a Selection,
}

/// The manifest's `cohort` record.
#[derive(Serialize)]
struct CohortRef {
    path: String,
    scene_sha256: String,
    seed: u64,
    patients: u64,
}

/// The manifest's `target` record.
#[derive(Serialize)]
struct TargetRef {
    path: String,
    sha256: String,
}

/// The manifest of a selection folder (`io::RunDir::finish` adds
/// `outputs`; keys are written sorted).
#[derive(Serialize)]
struct Manifest {
    schema_version: u32,
    engine: EngineInfo,
    command: Vec<String>,
    cohort: CohortRef,
    target: TargetRef,
    started: String,
    finished: String,
}

const METHOD: &str = "Allen, Rieger & Musante (2016): acceptance probability min(1, s·f_target/f_plausible), s maximising the KS p-value";

/// Runs the selection of `req` and writes its folder.
pub fn run(req: &SelectRequest, obs: &mut dyn Observer) -> Result<Selected, SelectError> {
    let started = crate::drivers::manifest::now();
    let cohort = cohort_files::read(&req.cohort).map_err(|source| SelectError::Cohort {
        path: req.cohort.clone(),
        source,
    })?;
    if !cohort.is_whole() {
        return Err(SelectError::Invalid(format!(
            "{} holds patients {}..{} of {}: select needs the whole cohort; join the shards with `vtwin merge` first",
            req.cohort.display(),
            cohort.info.range.start,
            cohort.info.range.end,
            cohort.info.patients
        )));
    }
    if let Some(arm) = &req.arm {
        let arms = columns::strs(&cohort.tables.outcomes, "arm")?;
        if !arms.iter().any(|a| a.as_deref() == Some(arm.as_str())) {
            return Err(SelectError::Invalid(format!(
                "--arm `{arm}`: the cohort has no such arm"
            )));
        }
    }
    let on = SelectOn {
        name: req.observable.clone(),
        arm: req.arm.clone(),
        visit: req.visit,
    };
    let cands = select::candidates(&cohort.tables, &on)?;
    let column = req.column.as_deref().unwrap_or(&req.observable);
    let target = select::read_target_csv(&req.target, column)?;
    let opts = SelectOptions {
        seed: req.seed.unwrap_or(cohort.info.seed),
        min_selected: req.min_selected,
        ..Default::default()
    };
    let sel = select::select(&cands, &target, &opts)?;
    let fmt = req.format.unwrap_or(cohort.format);
    let dir = job::create_run_dir(
        &req.out,
        req.force,
        &[req.cohort.as_path(), req.target.as_path()],
        obs,
    )?;
    dir.write_table(&select::selection_table(&cands, &sel), fmt)?;
    let report = Report {
        cohort: req.cohort.display().to_string(),
        target: req.target.display().to_string(),
        target_column: column,
        target_size: target.len(),
        variable: &req.observable,
        arm: req.arm.as_deref().unwrap_or("assigned_arm"),
        visit: req.visit,
        seed: opts.seed,
        min_selected: opts.min_selected,
        method: METHOD,
        result: &sel,
    };
    dir.write_json("selection.json", &serde_json::to_value(&report)?)?;
    let manifest = Manifest {
        schema_version: crate::drivers::manifest::SCHEMA_VERSION,
        engine: EngineInfo::current(),
        command: crate::drivers::checkpoint::Invocation::command_line(),
        cohort: CohortRef {
            path: req.cohort.display().to_string(),
            scene_sha256: cohort.info.scene_sha256.clone(),
            seed: cohort.info.seed,
            patients: cohort.info.patients,
        },
        target: TargetRef {
            path: req.target.display().to_string(),
            sha256: crate_meta::sha256_hex(&std::fs::read(&req.target)?),
        },
        started: crate::drivers::manifest::rfc3339(started),
        finished: crate::drivers::manifest::rfc3339(crate::drivers::manifest::now()),
    };
    let dir = dir.finish(serde_json::to_value(&manifest)?)?;
    Ok(Selected {
        dir,
        selection: sel,
    })
}
