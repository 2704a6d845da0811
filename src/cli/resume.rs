//! `vtwin resume DIR`: continues the interrupted run whose `--out` was DIR
//! from its last checkpoint (`crate::checkpoint`), or from step 0 when it
//! was killed before its first one. A finished DIR is left as it is.
//!
//! The run is found by its kept temporary folder beside DIR (a run started
//! with `--checkpoint-every` keeps it on SIGTERM/SIGHUP, errors and stale
//! sweeps); its resume record gives the original command line, which is
//! parsed again and run in the original working folder, continuing in the
//! same temporary folder.

use super::run::RunArgs;
use crate::checkpoint::{self, Checkpoint, Invocation};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ResumeArgs {
    /// The `--out` folder of the interrupted run.
    pub dir: PathBuf,
}

/// What a command continuing a kept run needs (`run::run_with`).
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
}

/// Parses a resume record's command line.
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
    Ok(saved.command)
}

/// Takes over the kept temporary folder for the continued run.
pub fn adopt_run_dir(
    r: &Resume,
    out: &Path,
    force: bool,
    inputs: &[&Path],
) -> Result<crate::io::RunDir> {
    crate::io::install_interrupt_cleanup()?;
    checkpoint::clean_partial(&r.temp);
    Ok(crate::io::RunDir::adopt(&r.temp, out, force, inputs)?)
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
    let ck = if path.is_file() {
        Some((path.clone(), Checkpoint::read(&path)?))
    } else {
        None
    };
    let command = parse_saved(&invocation, &temp)?;
    std::env::set_current_dir(&invocation.cwd).with_context(|| {
        format!(
            "cannot enter {}, the folder the run was started in",
            invocation.cwd.display()
        )
    })?;
    match &ck {
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
    }
}
