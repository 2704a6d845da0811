//! `vtwin resume DIR`: finding the interrupted run whose `--out` was DIR
//! (its kept temporary folder beside DIR, `crate::drivers::checkpoint::find_kept`),
//! its resume record and its last checkpoint; and the run folder of the
//! commands whose checkpoints are kept per task (`twin`, `assimilate`,
//! `cohort`). The saved command line is parsed again by the CLI, which
//! then hands the [`Resume`] to the command's driver.

use super::job::{self, Observer, Output, Resume};
use crate::drivers::checkpoint::{self, Checkpoint, CheckpointError, Invocation};
use crate::output::io::{IoError, RunDir};
use std::path::{Path, PathBuf};

/// Why `vtwin resume` cannot continue a run.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// DIR could not be made absolute.
    #[error("{}: cannot resolve the path", path.display())]
    Resolve {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Neither a finished folder nor a kept temporary folder.
    #[error("{0}")]
    Nothing(String),
}

/// What DIR is.
pub enum Found {
    /// A finished run folder: nothing to do.
    Finished(PathBuf),
    /// An interrupted run: its kept temporary folder and resume record.
    Kept {
        out: PathBuf,
        temp: PathBuf,
        invocation: Invocation,
    },
}

/// Looks for the run `vtwin resume DIR` continues.
pub fn locate(dir: &Path) -> Result<Found, ResumeError> {
    let out = std::path::absolute(dir).map_err(|source| ResumeError::Resolve {
        path: dir.to_path_buf(),
        source,
    })?;
    let Some(temp) = checkpoint::find_kept(&out)? else {
        if out.join(crate::output::io::rundir::MANIFEST).is_file() {
            return Ok(Found::Finished(out));
        }
        return Err(ResumeError::Nothing(format!(
            "{}: nothing to resume: it is not a finished run folder, and no temporary folder \
             of a run started with --checkpoint-every (.{}.tmp-…) is kept beside it",
            out.display(),
            out.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        )));
    };
    let invocation = checkpoint::read_invocation(&temp)?;
    Ok(Found::Kept {
        out,
        temp,
        invocation,
    })
}

/// The [`Resume`] of a kept run, noting where it continues from. `twin`:
/// the command keeps its own checkpoint format (`twin`, `assimilate`:
/// `checkpoint_twin`, or `checkpoint_patients` for a patient run), which
/// the command reads itself.
pub fn prepare(
    out: PathBuf,
    temp: PathBuf,
    invocation: Invocation,
    twin: bool,
    obs: &mut dyn Observer,
) -> Result<Resume, ResumeError> {
    let path = checkpoint::checkpoint_path(&temp);
    let argv = invocation.argv.join(" ");
    let checkpoint = if twin {
        if path.is_file() && crate::drivers::checkpoint_patients::is_patient_checkpoint(&path) {
            let (meta, _) = crate::drivers::checkpoint_patients::read_meta(&path)?;
            obs.note(&format!(
                "vtwin resume: continuing `vtwin {argv}` from stop {} ({})",
                meta.stops,
                path.display()
            ));
        } else if path.is_file() {
            let (meta, _) = crate::drivers::checkpoint_twin::read_meta(&path)?;
            obs.note(&format!(
                "vtwin resume: continuing `vtwin {argv}` from analysis {} ({})",
                meta.analyses,
                path.display()
            ));
        } else {
            obs.note(&format!(
                "vtwin resume: `vtwin {argv}` was stopped before its first checkpoint; starting it again from analysis 0"
            ));
        }
        None
    } else if path.is_file() {
        let c = Checkpoint::read(&path)?;
        obs.note(&format!(
            "vtwin resume: continuing `vtwin {argv}` from step {} ({})",
            c.meta.step,
            path.display()
        ));
        Some((path, c))
    } else {
        obs.note(&format!(
            "vtwin resume: `vtwin {argv}` was stopped before its first checkpoint; starting it again from step 0"
        ));
        None
    };
    Ok(Resume {
        temp,
        out,
        invocation,
        checkpoint,
    })
}

/// The run folder of a command whose checkpoints are kept per task
/// (`checkpoint::TaskCheckpoints`): a new one, or with `resume` the kept
/// one; with `output.checkpoint_every`, the resume record is written into
/// a new one.
pub fn task_checkpointed_dir(
    output: &Output,
    identity: checkpoint::Identity,
    resume: Option<&Resume>,
    obs: &mut dyn Observer,
) -> job::Result<(RunDir, Option<checkpoint::TaskCheckpoints>)> {
    if output.checkpoint_every == Some(0) {
        return Err(job::Error::Invalid(
            "--checkpoint-every must be at least 1".into(),
        ));
    }
    let dir = match resume {
        Some(r) => job::adopt_run_dir(r, &output.out, output.force, &output.inputs)?,
        None => job::create_run_dir(&output.out, output.force, &output.inputs, obs)?,
    };
    let Some(every) = output.checkpoint_every else {
        return Ok((dir, None));
    };
    let invocation = match resume {
        Some(r) => r.invocation.clone(),
        None => checkpoint::record_invocation(dir.path())?,
    };
    let tasks = checkpoint::TaskCheckpoints {
        temp: dir.path().to_path_buf(),
        every,
        identity,
        invocation,
    };
    Ok((dir, Some(tasks)))
}
