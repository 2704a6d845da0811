//! The ensemble-job layer every driver shares: the output folder's life
//! (temporary folder with its marker, Ctrl-C/termination clean-up,
//! checkpoints and resume, the typed manifest, the atomic rename), progress
//! and notes through an [`Observer`], and the member-failure policy.
//!
//! Owns: [`Job`], [`Resume`], [`Checkpoints`], the drivers' [`Error`].
//! Reuses `io::RunDir` (folders), `manifest` (provenance keys),
//! `checkpoint` (the checkpoint format) and `interrupt` (stop flags).

use crate::core::plan::Plan;
use crate::drivers::checkpoint::{self, Checkpoint, CheckpointError, Invocation};
use crate::engine::backend::Backend;
use crate::engine::record::{AtObservation, Recording};
use crate::engine::{Engine, EngineError};
use crate::input::scene::SceneError;
use crate::output::io::{IoError, RunDir};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a driver can fail with. Displayed the way the command line prints
/// it: the message, then each `source` as a "caused by" line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad options or input, said in full (names the flag, file or key).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Scene(#[from] SceneError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Calibrate(#[from] crate::methods::calibrate::CalibrateError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    ParamFile(#[from] crate::input::params_file::ParamFileError),
    #[error(transparent)]
    Sweep(#[from] crate::methods::sweep::SweepError),
    #[error(transparent)]
    Analysis(#[from] crate::methods::sweep::analysis::AnalysisFailure),
    #[error(transparent)]
    Data(#[from] crate::methods::calibrate::data::DataError),
    #[error(transparent)]
    Fit(#[from] crate::methods::fit::FitError),
    /// A folder of the job could not be created.
    #[error("creating {path}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A step of the job (`what`) that failed because of `source`.
    #[error("{what}")]
    Context {
        what: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// `self` as the cause of `what` failing.
    pub fn context(self, what: impl Into<String>) -> Error {
        Error::Context {
            what: what.into(),
            source: Box::new(self),
        }
    }
}

/// Shorthand for a driver's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a job reports to: one-line notes (`vtwin run: …` on the command
/// line) and the progress of its long loops. The CLI draws a bar; the
/// Python package hands positions to its callback; tests may ignore both.
pub trait Observer {
    /// A line for the user (the CLI prints it to stderr).
    fn note(&mut self, line: &str);
    /// A loop of `len` units (`"steps"`, `"runs"`, …) starts.
    fn start(&mut self, len: u64, unit: &str);
    /// The loop stands at `pos`.
    fn advance(&mut self, pos: u64);
    /// The loop ended.
    fn finish(&mut self);
}

/// An [`Observer`] that drops everything.
pub struct Silent;

impl Observer for Silent {
    fn note(&mut self, _: &str) {}
    fn start(&mut self, _: u64, _: &str) {}
    fn advance(&mut self, _: u64) {}
    fn finish(&mut self) {}
}

/// What a diverged or saturated member means for the caller's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MemberFailure {
    /// Finish the other members; the job still succeeds.
    #[default]
    Continue,
    /// Outputs are still written, but the job reports failure.
    Fail,
}

/// `runs/<scene stem>-<local timestamp>`, the default output folder.
pub fn default_out(scene: &Path, what: &str) -> PathBuf {
    let stem = scene
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| what.into());
    PathBuf::from("runs").join(format!(
        "{stem}-{}",
        chrono::Local::now().format("%Y%m%d-%H%M%S")
    ))
}

/// What a command continuing a kept run needs (`vtwin resume`).
#[derive(Debug)]
pub struct Resume {
    /// The kept temporary folder.
    pub temp: PathBuf,
    /// The run's final folder (absolute).
    pub out: PathBuf,
    pub invocation: Invocation,
    /// The checkpoint and its path; None restarts from step 0.
    pub checkpoint: Option<(PathBuf, Checkpoint)>,
}

/// Checkpointing of one command's run (`--checkpoint-every`, `vtwin resume`).
pub struct Checkpoints<'a> {
    pub every: u64,
    pub identity: checkpoint::Identity,
    pub invocation: Invocation,
    /// The checkpoint the run continues from.
    pub start: Option<&'a Checkpoint>,
}

/// What a checkpoint of this scene and plan on `backend` is valid for.
pub fn identity(
    scene_sha256: &str,
    plan_sha256: &str,
    backend: &Backend,
) -> Result<checkpoint::Identity> {
    Ok(checkpoint::Identity {
        scene_sha256: scene_sha256.to_string(),
        plan_sha256: plan_sha256.to_string(),
        commit: crate::drivers::manifest::commit().map(str::to_string),
        backend: backend.name().to_string(),
        adapter: serde_json::to_value(backend.adapter())?,
    })
}

/// Starts the run folder of a command, the same way for every command:
/// installs the SIGINT/SIGTERM/SIGHUP clean-up, checks `out` against
/// `force` and the command's `inputs` (`io::target`), and notes which stale
/// temporary folders of killed runs it removed beside `out`.
pub fn create_run_dir(
    out: &Path,
    force: bool,
    inputs: &[&Path],
    obs: &mut dyn Observer,
) -> Result<RunDir> {
    crate::output::io::install_interrupt_cleanup()?;
    let dir = RunDir::create_for(out, force, inputs)?;
    for stale in dir.stale_removed() {
        obs.note(&format!(
            "vtwin: removed {}, the temporary folder of an earlier run that was killed",
            stale.display()
        ));
    }
    Ok(dir)
}

/// Takes over the kept temporary folder for the continued run.
pub fn adopt_run_dir(r: &Resume, out: &Path, force: bool, inputs: &[&Path]) -> Result<RunDir> {
    crate::output::io::install_interrupt_cleanup()?;
    checkpoint::clean_partial(&r.temp);
    Ok(RunDir::adopt(&r.temp, out, force, inputs)?)
}

/// Where a job writes and what it may overwrite.
#[derive(Clone, Debug)]
pub struct Output<'p> {
    /// The final folder.
    pub out: PathBuf,
    /// Replace an existing folder (never one of `inputs`).
    pub force: bool,
    /// The files the job reads, which it must never overwrite.
    pub inputs: Vec<&'p Path>,
    /// Save a checkpoint every this many steps.
    pub checkpoint_every: Option<u64>,
}

/// One ensemble job's output folder while it is being written: the
/// temporary folder (removed on Ctrl-C or an error, kept for `vtwin resume`
/// when it checkpoints), its checkpoints, and the time it started, which
/// its manifest records.
pub struct Job<'r> {
    pub started: DateTime<Utc>,
    pub dir: RunDir,
    pub checkpoints: Option<Checkpoints<'r>>,
}

impl<'r> Job<'r> {
    /// A new folder for `plan` on `backend`, or with `resume` the kept one
    /// (its checkpoint first checked against `plan` and `backend`); with a
    /// checkpoint interval, the resume record is written into a new one.
    pub fn open(
        started: DateTime<Utc>,
        output: &Output,
        plan: &Plan,
        backend: &Backend,
        resume: Option<&'r Resume>,
        obs: &mut dyn Observer,
    ) -> Result<Job<'r>> {
        if output.checkpoint_every == Some(0) {
            return Err(Error::Invalid(
                "--checkpoint-every must be at least 1 (steps between checkpoints)".into(),
            ));
        }
        let identity = identity(&plan.scene_sha256, &plan.sha256, backend)?;
        let start = match resume.and_then(|r| r.checkpoint.as_ref()) {
            Some((path, c)) => {
                c.check(path, &identity)?;
                Some(c)
            }
            None => None,
        };
        let dir = match resume {
            Some(r) => adopt_run_dir(r, &output.out, output.force, &output.inputs)?,
            None => create_run_dir(&output.out, output.force, &output.inputs, obs)?,
        };
        let checkpoints = match output.checkpoint_every {
            None => None,
            Some(every) => {
                let invocation = match resume {
                    Some(r) => r.invocation.clone(),
                    None => checkpoint::record_invocation(dir.path())?,
                };
                Some(Checkpoints {
                    every,
                    identity,
                    invocation,
                    start,
                })
            }
        };
        Ok(Job {
            started,
            dir,
            checkpoints,
        })
    }

    /// Records `engine` to the end: from the checkpoint the job continues
    /// from (restored first), saving one every `every` steps; `progress`
    /// gets the step, `at_observation` runs after each observation.
    pub fn record(
        &self,
        engine: &mut dyn Engine,
        progress: &mut dyn FnMut(u64),
        at_observation: &mut AtObservation<'_, Error>,
    ) -> Result<Recording> {
        record_checkpointed(
            engine,
            self.checkpoints.as_ref(),
            &self.dir,
            progress,
            at_observation,
        )
    }

    /// Writes the manifest and moves the folder into place; returns the
    /// final folder. The last checkpoint stays as `checkpoint.vtc`.
    pub fn finish<M: Serialize>(self, manifest: &M) -> Result<PathBuf> {
        checkpoint::finalize(self.dir.path())?;
        let value = serde_json::to_value(manifest)?;
        Ok(self.dir.finish(value)?)
    }
}

/// `record::record_from` from the checkpoint `ckpt` starts at (restored
/// into `engine` first), saving one into `dir` every `ckpt.every` steps.
pub fn record_checkpointed(
    engine: &mut dyn Engine,
    ckpt: Option<&Checkpoints>,
    dir: &RunDir,
    progress: &mut dyn FnMut(u64),
    at_observation: &mut AtObservation<'_, Error>,
) -> Result<Recording> {
    let (steps0, frames0) = match ckpt.and_then(|c| c.start) {
        Some(c) => {
            c.restore(engine)?;
            (c.steps.clone(), c.frames.clone())
        }
        None => (Vec::new(), Vec::new()),
    };
    progress(engine.step());
    let mut save = |engine: &mut dyn Engine, steps: &[u64], frames: &[Vec<f32>]| -> Result<()> {
        if let Some(c) = ckpt {
            Checkpoint::capture(
                engine,
                steps,
                frames,
                c.identity.clone(),
                c.invocation.clone(),
            )?
            .write_into(dir.path())
            .map_err(|e| Error::from(e).context("writing a checkpoint"))?;
        }
        Ok(())
    };
    crate::engine::record::record_from(
        engine,
        steps0,
        frames0,
        ckpt.map(|c| crate::engine::record::Checkpointing {
            every: c.every,
            save: &mut save,
        }),
        progress,
        at_observation,
    )
}
