//! `vtwin resume DIR`: continues the interrupted run whose `--out` was DIR
//! from its last checkpoint (`crate::checkpoint`), or from step 0 when it
//! was killed before its first one. A finished DIR is left as it is.
//!
//! The run is found by its kept temporary folder beside DIR (a run started
//! with `--checkpoint-every` keeps it on SIGTERM/SIGHUP, errors and stale
//! sweeps); its resume record gives the original command line and working
//! folder. The command line is parsed again, each relative path in it
//! (scene, observation and event files, `--out`, …) is made absolute
//! against the recorded working folder, and the run continues in the same
//! temporary folder. The process's own working folder is never changed, so
//! resuming from a library or Python caller leaves the caller's as it was.

use super::run::RunArgs;
use crate::checkpoint::{self, Checkpoint, Invocation};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ResumeArgs {
    /// The `--out` folder of the interrupted run.
    pub dir: PathBuf,
}

pub use crate::drivers::job::Resume;

/// The commands a resume record may hold.
#[derive(clap::Parser, Debug)]
#[command(name = "vtwin")]
pub(crate) struct Saved {
    #[command(subcommand)]
    pub(crate) command: SavedCommand,
}

#[derive(clap::Subcommand, Debug)]
pub(crate) enum SavedCommand {
    Run(RunArgs),
    Sweep(super::sweep::SweepArgs),
    Cohort(super::cohort::CohortArgs),
    Twin(super::twin::TwinArgs),
    Assimilate(super::assimilate::AssimilateArgs),
}

/// `p` made absolute against `cwd` (unchanged when already absolute).
fn absolute(cwd: &Path, p: &mut PathBuf) {
    if p.is_relative() {
        *p = cwd.join(&*p);
    }
}

impl SavedCommand {
    /// Makes every path argument absolute against `cwd`, the folder the
    /// command was started in, so that it runs the same from any folder.
    fn absolutize(&mut self, cwd: &Path) {
        let abs = |p: &mut PathBuf| absolute(cwd, p);
        let abs_opt = |p: &mut Option<PathBuf>| {
            if let Some(p) = p {
                absolute(cwd, p)
            }
        };
        match self {
            SavedCommand::Run(a) => {
                abs(&mut a.scene);
                abs_opt(&mut a.out);
                abs_opt(&mut a.posterior);
            }
            SavedCommand::Sweep(a) => {
                abs(&mut a.scene);
                abs_opt(&mut a.out);
                abs_opt(&mut a.posterior);
            }
            SavedCommand::Cohort(a) => {
                abs(&mut a.scene);
                abs(&mut a.out);
            }
            SavedCommand::Twin(a) => {
                abs(&mut a.scene);
                abs_opt(&mut a.output.out);
            }
            SavedCommand::Assimilate(a) => {
                abs(&mut a.scene);
                abs(&mut a.obs);
                abs_opt(&mut a.forecast_at);
                abs_opt(&mut a.events);
                abs_opt(&mut a.output.out);
            }
        }
    }
}

/// Parses a resume record's command line, its relative paths made
/// absolute against the recorded working folder.
pub(crate) fn parse_saved(inv: &Invocation, whence: &Path) -> Result<SavedCommand> {
    use clap::Parser;
    let argv = std::iter::once("vtwin".to_string()).chain(inv.argv.iter().cloned());
    let saved = Saved::try_parse_from(argv).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot continue `vtwin {}`: {}",
            whence.display(),
            inv.argv.join(" "),
            e.render().to_string().trim()
        )
    })?;
    let mut command = saved.command;
    command.absolutize(&inv.cwd);
    Ok(command)
}

/// What a checkpoint of this scene and plan on `backend` is valid for.
pub fn identity(
    scene_sha256: &str,
    plan_sha256: &str,
    backend: &crate::backend::Backend,
) -> Result<checkpoint::Identity> {
    Ok(crate::drivers::job::identity(
        scene_sha256,
        plan_sha256,
        backend,
    )?)
}

/// The run directory of a command whose checkpoints are kept per task
/// (`checkpoint::TaskCheckpoints`): a new one, or with `resume` the kept
/// one; with `every`, the resume record is written into a new one.
pub fn task_checkpointed_dir(
    out: &Path,
    force: bool,
    inputs: &[&Path],
    every: Option<u64>,
    identity: checkpoint::Identity,
    resume: Option<&Resume>,
) -> Result<(crate::io::RunDir, Option<checkpoint::TaskCheckpoints>)> {
    if every == Some(0) {
        anyhow::bail!("--checkpoint-every must be at least 1");
    }
    let dir = match resume {
        Some(r) => adopt_run_dir(r, out, force, inputs)?,
        None => super::create_run_dir(out, force, inputs)?,
    };
    let Some(every) = every else {
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

/// Takes over the kept temporary folder for the continued run.
pub fn adopt_run_dir(
    r: &Resume,
    out: &Path,
    force: bool,
    inputs: &[&Path],
) -> Result<crate::io::RunDir> {
    Ok(crate::drivers::job::adopt_run_dir(r, out, force, inputs)?)
}

/// Returns the process exit code.
pub fn run(args: &ResumeArgs) -> Result<i32> {
    let out = std::path::absolute(&args.dir)
        .with_context(|| format!("{}: cannot resolve the path", args.dir.display()))?;
    let Some(temp) = checkpoint::find_kept(&out)? else {
        if out.join(crate::io::rundir::MANIFEST).is_file() {
            eprintln!(
                "vtwin resume: {} is a finished run; nothing to do",
                out.display()
            );
            return Ok(0);
        }
        anyhow::bail!(
            "{}: nothing to resume: it is not a finished run folder, and no temporary folder \
             of a run started with --checkpoint-every (.{}.tmp-…) is kept beside it",
            out.display(),
            out.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
    };
    let invocation = checkpoint::read_invocation(&temp)?;
    let path = checkpoint::checkpoint_path(&temp);
    let command = parse_saved(&invocation, &temp)?;
    if matches!(command, SavedCommand::Twin(_) | SavedCommand::Assimilate(_)) {
        // A twin's or assimilation's checkpoint is its own format (`checkpoint_twin`, or
        // `checkpoint_patients` for a patient run), read by the command itself.
        if path.is_file() && crate::checkpoint_patients::is_patient_checkpoint(&path) {
            let (meta, _) = crate::checkpoint_patients::read_meta(&path)?;
            eprintln!(
                "vtwin resume: continuing `vtwin {}` from stop {} ({})",
                invocation.argv.join(" "),
                meta.stops,
                path.display()
            );
        } else if path.is_file() {
            let (meta, _) = crate::checkpoint_twin::read_meta(&path)?;
            eprintln!(
                "vtwin resume: continuing `vtwin {}` from analysis {} ({})",
                invocation.argv.join(" "),
                meta.analyses,
                path.display()
            );
        } else {
            eprintln!(
                "vtwin resume: `vtwin {}` was stopped before its first checkpoint; starting it again from analysis 0",
                invocation.argv.join(" ")
            );
        }
    }
    let ck = if path.is_file()
        && !matches!(command, SavedCommand::Twin(_) | SavedCommand::Assimilate(_))
    {
        Some((path.clone(), Checkpoint::read(&path)?))
    } else {
        None
    };
    match &ck {
        _ if matches!(command, SavedCommand::Twin(_) | SavedCommand::Assimilate(_)) => {}
        Some((p, c)) => eprintln!(
            "vtwin resume: continuing `vtwin {}` from step {} ({})",
            invocation.argv.join(" "),
            c.meta.step,
            p.display()
        ),
        None => eprintln!(
            "vtwin resume: `vtwin {}` was stopped before its first checkpoint; starting it again from step 0",
            invocation.argv.join(" ")
        ),
    }
    let resume = Resume {
        temp,
        out,
        invocation,
        checkpoint: ck,
    };
    match command {
        SavedCommand::Run(a) => super::run::run_with(&a, Some(&resume)),
        SavedCommand::Sweep(a) => super::sweep::run_with(&a, Some(&resume)).map(|()| 0),
        SavedCommand::Cohort(a) => super::cohort::run_with(&a, Some(&resume)),
        SavedCommand::Twin(a) => super::twin::run_with(&a, Some(&resume)),
        SavedCommand::Assimilate(a) => super::assimilate::run_with(&a, Some(&resume)),
    }
}
